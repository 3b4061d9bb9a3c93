"""One error type whose message is the one line a user needs: the cause and the fix."""


class LocalCloudError(Exception):
    def __init__(self, cause: str, fix: str) -> None:
        super().__init__(f"{cause}; {fix}")
        self.cause = cause
        self.fix = fix
