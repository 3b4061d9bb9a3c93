"""Credentials from files (a Kubernetes Secret mounted as a volume) instead of variables."""

from __future__ import annotations

from pathlib import Path

import pytest

from hostpulse.core import settings as settings_module
from hostpulse.core.settings import ApiSettings, CoreSettings, IngestSettings
from hostpulse.localcloud.settings import LocalCloudSettings


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


@pytest.fixture
def stored_secret(monkeypatch: pytest.MonkeyPatch) -> dict[str, dict[str, str]]:
    """A secret store in memory, read as the settings read AWS Secrets Manager."""
    store: dict[str, dict[str, str]] = {}
    monkeypatch.setattr(settings_module, "_secret_readers", [lambda secret_id: store[secret_id]])
    for name in ("HOSTPULSE_READ_TOKEN", "HOSTPULSE_ADMIN_TOKEN", "HOSTPULSE_PUBLIC_READ"):
        monkeypatch.delenv(name, raising=False)
    return store


def test_the_api_reads_its_tokens_from_the_secret_its_environment_names(
    stored_secret: dict[str, dict[str, str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    stored_secret["arn:aws:secretsmanager:eu-west-1:1:secret:hp-api"] = {
        "HOSTPULSE_READ_TOKEN": "read-from-the-secret",
        "HOSTPULSE_ADMIN_TOKEN": "hp_admin_from_the_secret",
    }
    monkeypatch.setenv(
        "HOSTPULSE_SETTINGS_SECRET", "arn:aws:secretsmanager:eu-west-1:1:secret:hp-api"
    )

    settings = ApiSettings(database_url="postgresql://db", redis_url="redis://cache")

    assert settings.read_token is not None and settings.admin_token is not None
    assert settings.read_token.get_secret_value() == "read-from-the-secret"
    assert settings.admin_token.get_secret_value() == "hp_admin_from_the_secret"
    assert settings.public_read is False  # closed unless said otherwise


def test_an_empty_value_in_the_secret_sets_no_token(
    stored_secret: dict[str, dict[str, str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    stored_secret["hp-api"] = {"HOSTPULSE_READ_TOKEN": "", "HOSTPULSE_ADMIN_TOKEN": ""}
    monkeypatch.setenv("HOSTPULSE_SETTINGS_SECRET", "hp-api")
    monkeypatch.setenv("HOSTPULSE_READ_TOKEN", "")

    settings = ApiSettings(database_url="postgresql://db", redis_url="redis://cache")

    assert settings.read_token is None and settings.admin_token is None


def test_a_secret_named_with_nothing_to_read_it_is_a_clear_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(settings_module, "_secret_readers", [])
    monkeypatch.setenv("HOSTPULSE_SETTINGS_SECRET", "hp-api")

    with pytest.raises(RuntimeError, match="HOSTPULSE_SETTINGS_SECRET names a secret"):
        ApiSettings(database_url="postgresql://db", redis_url="redis://cache")


def test_the_api_serves_the_projects_dashboard_by_default() -> None:
    """Where the settings module lives must not move the dashboard: the default is the project's
    frontend folder, whichever floor the module stands on."""
    folder = ApiSettings(database_url="postgresql://h/db", redis_url="redis://h").frontend_dir

    assert folder is not None and (folder / "index.html").is_file()
    assert folder.parent == Path(__file__).resolve().parents[2]
