"""As root, from a checkout inside a 0700 folder (as under /root, or from `mktemp -d`).

PostgreSQL refuses to run as root, so the embedded server runs as `nobody`: in a user
namespace where the system allows one (its files stay in the checkout), else as the account
itself with its files moved under the relocation folder. Each way must start, report every
component healthy, stop without leaving anything running, and change no permission of the
user's folders.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psutil
import psycopg2
import pytest

from hostpulse.localcloud.relocation import ORIGIN
from hostpulse.localcloud.server_account import unprivileged_ids, user_namespace_refusal
from hostpulse.localcloud.settings import PROJECT_ROOT
from tests.support import eventually, local_cloud_settings, pid_alive

pytestmark = [
    pytest.mark.localcloud,
    pytest.mark.slow,
    pytest.mark.skipif(os.geteuid() != 0, reason="the private-folder problem is root's"),
]
COMPONENTS = ("supervisor", "postgres", "redis", "localstack", "api")


@dataclass
class PrivateCheckout:
    private: Path
    root: Path

    def run(self, *args: str, **settings: str) -> subprocess.CompletedProcess[str]:
        env = {key: value for key, value in os.environ.items() if not key.startswith("HOSTPULSE")}
        env.update(settings)
        return subprocess.run(
            [str(self.root / ".venv" / "bin" / "hostpulse"), *args],
            env=env,
            cwd=self.root,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )


@pytest.fixture(scope="module")
def checkout() -> Iterator[PrivateCheckout]:
    """The project's files copied, with their own environment, into a fresh 0700 folder."""
    private = Path(tempfile.mkdtemp(prefix="hostpulse-private-"))
    assert stat.S_IMODE(private.stat().st_mode) == 0o700
    root = private / "hostpulse"
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=PROJECT_ROOT,
        capture_output=True,
        check=True,
    ).stdout.decode()
    for name in filter(None, listed.split("\0")):
        source = PROJECT_ROOT / name
        if source.is_file():
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, root / name)
    uv = str(Path(sys.executable).parent / "uv")
    venv = root / ".venv"
    subprocess.run([uv, "venv", "--quiet", "--python", sys.executable, str(venv)], check=True)
    subprocess.run(
        [uv, "pip", "install", "--quiet", "--python", str(venv / "bin/python"), f"{root}[server]"],
        check=True,
    )
    try:
        yield PrivateCheckout(private, root)
    finally:
        shutil.rmtree(private, ignore_errors=True)


@dataclass
class CloudInCheckout:
    """One local cloud of the private checkout, with its own ports and state folder."""

    checkout: PrivateCheckout
    state: Path
    settings: dict[str, str]

    @classmethod
    def new(cls, checkout: PrivateCheckout, name: str, **extra: str) -> CloudInCheckout:
        state = checkout.root / ".hostpulse" / name
        return cls(checkout, state, {**local_cloud_settings(state), **extra})

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        return self.checkout.run(*args, **self.settings)

    def up_and_check(self) -> str:
        """`up`, every component healthy, a database round trip; the postgres row's detail."""
        started = self.run("up", "--detach")
        assert started.returncode == 0, started.stdout + started.stderr
        status = self.run("status", "--json")
        rows = {row["name"]: row for row in json.loads(status.stdout)["components"]}
        assert status.returncode == 0, rows
        assert all(row["healthy"] for row in rows.values())
        endpoints = json.loads((self.state / "endpoints.json").read_text())
        conn = psycopg2.connect(endpoints["database_url"])
        with conn, conn.cursor() as cur:
            cur.execute("INSERT INTO agents (name, token_hash) VALUES ('private', 'hash')")
            cur.execute("SELECT count(*) FROM agents WHERE name = 'private'")
            assert cur.fetchone() == (1,)
        conn.close()
        return str(rows["postgres"]["detail"])

    def down_leaves_nothing_running(self) -> None:
        pids = [int((self.state / "run" / f"{name}.pid").read_text()) for name in COMPONENTS]
        stopped = self.run("down")
        assert stopped.returncode == 0, stopped.stdout + stopped.stderr
        eventually(lambda: not any(pid_alive(pid) for pid in pids), timeout=60)
        mentions = [
            process.info["pid"]
            for process in psutil.process_iter(["pid", "cmdline"])
            if str(self.checkout.root) in " ".join(process.info["cmdline"] or [])
        ]
        assert mentions == [], "a process of the private checkout is still running"
        mode = stat.S_IMODE(self.checkout.private.stat().st_mode)
        assert mode == 0o700, "a user's folder was opened"


def test_root_runs_the_local_cloud_from_a_private_checkout(checkout: PrivateCheckout) -> None:
    cloud = CloudInCheckout.new(checkout, "auto")
    try:
        detail = cloud.up_and_check()
        if user_namespace_refusal(unprivileged_ids()) is None:
            assert "as nobody in a user namespace" in detail
            data = cloud.state / "postgres" / "data"
            assert (data / "PG_VERSION").stat().st_uid == 0, "the files stay root's, in place"
        else:
            assert "as the nobody account" in detail
    finally:
        cloud.down_leaves_nothing_running()


def test_without_user_namespaces_the_data_moves_and_goes_with_clean(
    checkout: PrivateCheckout,
) -> None:
    relocation_root = Path(tempfile.gettempdir()) / f"hostpulse-relocated-{os.urandom(4).hex()}"
    cloud = CloudInCheckout.new(
        checkout,
        "account",
        HOSTPULSE_POSTGRES_ISOLATION="account",
        HOSTPULSE_POSTGRES_RELOCATION_DIR=str(relocation_root),
    )
    try:
        detail = cloud.up_and_check()
        assert "as the nobody account" in detail
        assert f"data in {relocation_root}" in detail
        (home,) = relocation_root.iterdir()
        assert (home / ORIGIN).read_text() == str(cloud.state)
        assert (home / "postgres" / "data").stat().st_uid == unprivileged_ids().uid
        assert not (cloud.state / "postgres").exists()
        cloud.down_leaves_nothing_running()

        cleaned = cloud.run("clean")
        assert cleaned.returncode == 0, cleaned.stdout + cleaned.stderr
        assert not home.exists()
        assert not (cloud.state / "logs").exists()
    finally:
        cloud.run("down")
        shutil.rmtree(relocation_root, ignore_errors=True)


def test_a_relocation_folder_that_cannot_be_made_is_one_line_with_the_fix(
    checkout: PrivateCheckout,
) -> None:
    cloud = CloudInCheckout.new(
        checkout,
        "refused",
        HOSTPULSE_POSTGRES_ISOLATION="account",
        HOSTPULSE_POSTGRES_RELOCATION_DIR="/proc/hostpulse",
    )
    try:
        result = cloud.run("up", "--detach")
        assert result.returncode == 1
        lines = result.stdout.strip().splitlines()
        assert len(lines) == 1, result.stdout
        assert "HOSTPULSE_POSTGRES_RELOCATION_DIR" in lines[0]
        assert "Traceback" not in result.stdout + result.stderr
    finally:
        cloud.run("down")
