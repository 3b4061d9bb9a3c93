"""Where the local cloud keeps its state, logs and pid files."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class StatePaths:
    root: Path

    @property
    def endpoints(self) -> Path:
        return self.root / "endpoints.json"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    @property
    def run(self) -> Path:
        return self.root / "run"

    @property
    def postgres(self) -> Path:
        return self.root / "postgres"

    @property
    def redis(self) -> Path:
        return self.root / "redis"

    @property
    def localstack(self) -> Path:
        return self.root / "localstack"

    @property
    def lambda_logs(self) -> Path:
        return self.logs / "lambda"

    @property
    def stack_deployed(self) -> Path:
        """Present once the stack is deployed on the running LocalStack (see the gateway)."""
        return self.run / "stack-deployed"

    @property
    def admin_token(self) -> Path:
        return self.root / "admin-token"

    @property
    def simulate(self) -> Path:
        return self.root / "simulate"

    def log(self, component: str) -> Path:
        return self.logs / f"{component}.log"

    def pid(self, component: str) -> Path:
        return self.run / f"{component}.pid"

    def owned(self) -> list[Path]:
        """Everything the local cloud itself puts in the state folder."""
        return [
            self.endpoints,
            self.admin_token,
            self.logs,
            self.run,
            self.postgres,
            self.redis,
            self.localstack,
            self.simulate,
        ]

    def create(self) -> None:
        for directory in (self.root, self.logs, self.run, self.lambda_logs):
            directory.mkdir(parents=True, exist_ok=True)
