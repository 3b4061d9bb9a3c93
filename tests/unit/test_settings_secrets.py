"""Credentials from files (a Kubernetes Secret mounted as a volume) instead of variables."""

from __future__ import annotations

from pathlib import Path

import pytest

from hostpulse.localcloud.settings import LocalCloudSettings
from hostpulse.settings import CoreSettings, IngestSettings


def secrets(directory: Path, **values: str) -> Path:
    directory.mkdir()
    for name, value in values.items():
        (directory / name).write_text(value)
    return directory


def test_settings_read_the_mounted_secret_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("HOSTPULSE_DATABASE_URL", raising=False)
    monkeypatch.delenv("HOSTPULSE_REDIS_URL", raising=False)
    mounted = secrets(
        tmp_path / "hostpulse",
        HOSTPULSE_DATABASE_URL="postgresql://app:s3cret@db:5432/hostpulse",
        HOSTPULSE_REDIS_URL="redis://cache:6379/0",
    )

    core = CoreSettings(_secrets_dir=mounted)  # type: ignore[call-arg]

    assert core.database_url == "postgresql://app:s3cret@db:5432/hostpulse"
    assert core.redis_url == "redis://cache:6379/0"
    local = LocalCloudSettings(_secrets_dir=mounted)  # type: ignore[call-arg]
    assert local.database_url == core.database_url  # what `hostpulse migrate` reads


def test_a_variable_wins_over_a_file_and_a_missing_folder_is_no_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    mounted = secrets(tmp_path / "hostpulse", HOSTPULSE_REDIS_URL="redis://from-file:6379/0")
    monkeypatch.setenv("HOSTPULSE_DATABASE_URL", "postgresql://from-env/db")
    monkeypatch.setenv("HOSTPULSE_REDIS_URL", "redis://from-env:6379/0")

    assert CoreSettings(_secrets_dir=mounted).redis_url == "redis://from-env:6379/0"  # type: ignore[call-arg]
    absent = IngestSettings(  # type: ignore[call-arg]
        _secrets_dir=tmp_path / "nothing-mounted",
        aggregate_queue_url="q1", alerts_queue_url="q2", archive_bucket="b",
    )  # fmt: skip
    assert absent.database_url == "postgresql://from-env/db"
