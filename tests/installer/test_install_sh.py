"""agent/install.sh against a temporary root, and its unit checked by systemd-analyze."""

from __future__ import annotations

import shutil
import stat
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from hostpulse.localcloud.settings import PROJECT_ROOT

pytestmark = pytest.mark.slow
INSTALL = PROJECT_ROOT / "agent" / "install.sh"
UNIT = "etc/systemd/system/hostpulse-agent.service"


def install(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        stdin=subprocess.DEVNULL,
        args=[
            "sh",
            str(INSTALL),
            "--prefix",
            str(root),
            "--no-start",
            "--python",
            sys.executable,
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def test_install_upgrade_verify_and_uninstall(tmp_path: Path) -> None:
    root = tmp_path / "root"
    secret = tmp_path / "token-from-the-operator"
    secret.write_text("hp_first\n")

    first = install(
        root,
        "--ingest-url",
        "https://ingest.example/v1/ingest",
        "--token-file",  # never in the process list, unlike --token
        str(secret),
        "--agent-id",
        "web-1",
    )

    assert first.returncode == 0, first.stdout + first.stderr
    agent = root / "opt/hostpulse-agent/bin/hostpulse-agent"
    token = root / "etc/hostpulse/token"
    config = root / "etc/hostpulse/agent.toml"
    assert agent.exists()
    assert stat.S_IMODE(token.stat().st_mode) == 0o600 and token.read_text() == "hp_first\n"
    assert 'ingest_url = "https://ingest.example/v1/ingest"' in config.read_text()
    checked = subprocess.run(
        [str(agent), "--config", str(config), "--token-file", str(token), "check-config"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert checked.returncode == 0 and "as web-1" in checked.stdout
    # The agent alone: the server's dependencies stay out of a monitored host.
    listed = subprocess.run(
        [str(root / "opt/hostpulse-agent/bin/python"), "-m", "pip", "list"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.lower()
    assert "psutil" in listed and "pydantic" not in listed and "boto3" not in listed

    unit = (root / UNIT).read_text()
    for hardening in (
        "NoNewPrivileges=yes",
        "ProtectSystem=strict",
        "StateDirectory=hostpulse-agent",
        "LoadCredential=token:/etc/hostpulse/token",
    ):
        assert hardening in unit
    (root / "usr/lib/systemd").mkdir(parents=True)
    shutil.copytree("/usr/lib/systemd/system", root / "usr/lib/systemd/system", symlinks=True)
    (root / "opt/hostpulse-agent/bin").chmod(0o755)
    verify = subprocess.run(
        ["systemd-analyze", "verify", f"--root={root}", str(root / UNIT)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert verify.returncode == 0, verify.stderr
    assert "hostpulse-agent.service" not in verify.stdout + verify.stderr, verify.stderr

    (root / "var/lib/hostpulse-agent/spool").mkdir(parents=True)
    upgrade = install(root)
    assert upgrade.returncode == 0, upgrade.stderr
    assert "upgrading" in upgrade.stdout and "keeping" in upgrade.stdout
    assert token.read_text() == "hp_first\n" and "web-1" in config.read_text()

    kept = subprocess.run(
        ["sh", str(INSTALL), "--prefix", str(root), "--uninstall"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert not (root / "opt/hostpulse-agent").exists() and not (root / UNIT).exists()
    assert config.exists() and (root / "var/lib/hostpulse-agent/spool").exists()
    assert "kept" in kept.stdout

    subprocess.run(
        ["sh", str(INSTALL), "--prefix", str(root), "--uninstall", "--purge"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert not (root / "etc/hostpulse").exists() and not (root / "var/lib/hostpulse-agent").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((), "a first install needs --ingest-url and --token"),
        (("--ingest-url", "ftp://x", "--token", "t"), "must start with http:// or https://"),
        (("--ingest-url", "https://x/v1/ingest", "--token", 'a"b'), "cannot hold quotes"),
        (
            ("--ingest-url", "https://x/v1/ingest", "--token", "t", "--agent-id", "bad id!"),
            "cannot hold quotes",
        ),
        (("--bogus",), "unknown option --bogus"),
        (("--token-file", "/no/such/file"), "cannot read the token file /no/such/file"),
        (("--token-file", "-"), "no token on standard input"),
    ],
)
def test_mistakes_are_refused_before_anything_is_written(
    tmp_path: Path, args: tuple[str, ...], message: str
) -> None:
    result = install(tmp_path, *args)

    assert result.returncode == 1
    assert message in result.stderr
    assert not (tmp_path / "opt").exists()


def build_wheel(project: Path, into: Path) -> Path:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--quiet",
            "--no-deps",
            "-w",
            str(into),
            str(project),
        ],
        check=True,
        timeout=600,
    )
    [wheel] = into.glob("*.whl")
    return wheel


def test_the_servers_wheel_carries_the_agents_rules_but_is_not_the_agent(tmp_path: Path) -> None:
    """The server checks central agent configurations with the agent's own rules, so its wheel
    carries the rules' package, and nothing else of the agent: no collector, no command, no
    claim to be the agent's distribution (a host installs that one, with psutil)."""
    wheel = build_wheel(PROJECT_ROOT, tmp_path)

    names = zipfile.ZipFile(wheel).namelist()
    assert wheel.name.startswith("hostpulse-")
    assert any(name.startswith("hostpulse/") for name in names)
    assert "hostpulse_agent_rules/__init__.py" in names
    assert not [name for name in names if name.startswith("hostpulse_agent/")]
    assert not [name for name in names if name.startswith("hostpulse_agent-")]  # no dist-info
    entry_points = next(name for name in names if name.endswith("entry_points.txt"))
    assert "hostpulse-agent" not in zipfile.ZipFile(wheel).read(entry_points).decode()
    # The rules stand alone: the wheel's own files and the standard library, nothing else.
    unpacked = tmp_path / "unpacked"
    zipfile.ZipFile(wheel).extractall(unpacked)
    alone = subprocess.run(
        [sys.executable, "-S", "-c", "import hostpulse_agent_rules.text"],
        capture_output=True,
        text=True,
        check=False,
        env={"PYTHONPATH": str(unpacked)},
    )
    assert alone.returncode == 0, alone.stderr


def test_piped_into_sh_it_installs_the_agents_own_wheel_with_only_psutil(tmp_path: Path) -> None:
    wheel = build_wheel(PROJECT_ROOT / "agent", tmp_path / "wheels")
    assert wheel.name.startswith("hostpulse_agent-")
    assert "hostpulse_agent_rules/__init__.py" in zipfile.ZipFile(wheel).namelist()
    root = tmp_path / "root"

    piped = subprocess.run(
        [
            "sh",
            "-s",
            "--",
            "--prefix",
            str(root),
            "--no-start",
            "--python",
            sys.executable,
            "--ingest-url",
            "https://ingest.example/v1/ingest",
            "--token",
            "hp_t",
            "--source",
            str(wheel),
        ],
        input=INSTALL.read_text(),
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    without_source = subprocess.run(
        [
            "sh",
            "-s",
            "--",
            "--prefix",
            str(tmp_path / "other"),
            "--no-start",
            "--ingest-url",
            "https://ingest.example/v1/ingest",
            "--token",
            "hp_t",
        ],
        input=INSTALL.read_text(),
        capture_output=True,
        text=True,
        check=False,
    )

    assert piped.returncode == 0, piped.stderr
    assert (root / "opt/hostpulse-agent/bin/hostpulse-agent").exists()
    installed = subprocess.run(
        [str(root / "opt/hostpulse-agent/bin/python"), "-m", "pip", "list", "--format=freeze"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.lower()
    names = {line.split("==")[0] for line in installed.split()} - {"pip", "setuptools"}
    assert names == {"hostpulse-agent", "psutil"}
    assert without_source.returncode == 1 and "--source is needed" in without_source.stderr
