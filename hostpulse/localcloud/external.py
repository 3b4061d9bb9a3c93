"""A server the user runs (given by URL): checked, reported, never started or stopped by us."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlsplit

from hostpulse.localcloud.component import Health
from hostpulse.localcloud.errors import LocalCloudError

HealthCheck = Callable[[str], tuple[bool, str]]


def redact(url: str) -> str:
    parts = urlsplit(url)
    if parts.password:
        return url.replace(f":{parts.password}@", ":***@")
    return url


class ExternalServer:
    def __init__(self, name: str, url: str, check: HealthCheck, setting: str) -> None:
        self.name = name
        self.url = url
        self.check = check
        self.setting = setting

    def start(self) -> None:
        healthy, detail = self.check(self.url)
        if not healthy:
            raise LocalCloudError(
                f"{self.name} at {redact(self.url)} is unreachable: {detail}",
                f"check {self.setting} or unset it to use the embedded server",
            )

    def stop(self) -> None:
        """An external server is not ours to stop."""

    def health(self) -> Health:
        healthy, detail = self.check(self.url)
        return Health(self.name, redact(self.url), healthy, f"external; {detail}")

    def crash(self) -> str | None:
        return None
