from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pytest

from hostpulse.localcloud.component import Component, Health
from hostpulse.localcloud.errors import LocalCloudError
from hostpulse.localcloud.settings import LocalCloudSettings
from hostpulse.localcloud.supervisor import LocalCloud


@dataclass
class RecordingComponent:
    name: str
    journal: list[str]
    fail_on_start: bool = False
    running: bool = field(default=False)

    def start(self) -> None:
        self.running = True  # the process exists before it is known to be healthy
        self.journal.append(f"start {self.name}")
        if self.fail_on_start:
            raise LocalCloudError(f"{self.name} did not become healthy", "see its log")

    def stop(self) -> None:
        self.running = False
        self.journal.append(f"stop {self.name}")

    def health(self) -> Health:
        return Health(self.name, "-", self.running)

    def crash(self) -> str | None:
        return None


def test_a_start_failing_halfway_stops_everything_in_reverse(tmp_path: Path) -> None:
    cloud = LocalCloud(LocalCloudSettings(state_dir=tmp_path))
    journal: list[str] = []
    parts = [
        RecordingComponent("postgres", journal),
        RecordingComponent("redis", journal),
        RecordingComponent("localstack", journal, fail_on_start=True),
    ]
    cloud.components = list[Component](parts)

    with pytest.raises(LocalCloudError, match="localstack did not become healthy"):
        cloud.start(lambda message: None)

    assert journal == [
        "start postgres",
        "start redis",
        "start localstack",
        "stop localstack",
        "stop redis",
        "stop postgres",
    ]
    assert not any(part.running for part in parts)
    assert not (tmp_path / "run" / "supervisor.pid").exists()


def test_output_cut_short_by_its_reader_ends_quietly() -> None:
    import subprocess
    import sys

    # The reader is gone before the first line is written (as `| head` is once it has enough).
    result = subprocess.run(
        f"{sys.executable} -m hostpulse.cli.main schema | true",
        shell=True,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert "Traceback" not in result.stderr
    assert "BrokenPipeError" not in result.stderr
