"""PostgreSQL: an embedded server under the state folder, or an external one by URL."""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
from pathlib import Path
from urllib.parse import quote

import psycopg2

from hostpulse.localcloud.component import Health
from hostpulse.localcloud.errors import LocalCloudError
from hostpulse.localcloud.paths import StatePaths
from hostpulse.localcloud.processes import ManagedProcess, ensure_port_free
from hostpulse.localcloud.relocation import (
    postgres_files,
    prepare_relocation,
    prune_orphans,
)
from hostpulse.localcloud.server_account import (
    Isolation,
    ServerAccount,
    hand_over,
    server_account,
)

DATABASE = "hostpulse"
ROLE = "hostpulse"


def database_healthy(url: str) -> tuple[bool, str]:
    try:
        with psycopg2.connect(url, connect_timeout=2) as conn, conn.cursor() as cur:
            cur.execute("SELECT version()")
            row = cur.fetchone()
        conn.close()
    except psycopg2.Error as error:
        return False, str(error).strip().splitlines()[0] if str(error).strip() else "unreachable"
    return True, str(row[0]).split(" on ")[0] if row else ""


def default_shared_buffers_mb() -> int:
    """A quarter of the machine's memory, between PostgreSQL's default and 4 GiB."""
    memory_mb = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") // 2**20
    return max(128, min(memory_mb // 4, 4096))


class EmbeddedPostgres:
    name = "postgres"

    def __init__(
        self,
        paths: StatePaths,
        port: int,
        isolation: Isolation = Isolation.AUTO,
        relocation_root: Path = Path("/var/lib/hostpulse"),
        shared_buffers_mb: int | None = None,
    ) -> None:
        self.port = port
        self.paths = paths
        self.relocation_root = relocation_root
        self.account: ServerAccount = server_account(isolation)
        self.files = postgres_files(paths, self.account, relocation_root)
        self.process = ManagedProcess(
            name="postgres",
            argv=self.account.command(
                [
                    str(self.files.bin_dir / "postgres"),
                    "-D",
                    str(self.files.data),
                    "-p",
                    str(port),
                    "-h",
                    "127.0.0.1",
                    # TCP only: a Unix socket under a deep checkout path exceeds the 107-byte limit.
                    "-k",
                    "",
                    "-c",
                    "max_connections=200",
                    "-c",
                    f"shared_buffers={shared_buffers_mb or default_shared_buffers_mb()}MB",
                ]
            ),
            log_file=paths.log("postgres"),
            pid_file=paths.pid("postgres"),
            user=self.account.uid,
            group=self.account.gid,
            # A folder the server's account can enter: the caller's may be private.
            cwd=self.files.root,
            # SIGINT is PostgreSQL's fast shutdown: it does not wait for idle clients.
            stop_signal=signal.SIGINT,
        )

    @property
    def url(self) -> str:
        password = quote(self.files.password_file.read_text().strip(), safe="")
        return f"postgresql://{ROLE}:{password}@127.0.0.1:{self.port}/{DATABASE}"

    def _prepare_folders(self) -> None:
        if self.files.relocated is not None:
            prune_orphans(self.relocation_root)
            prepare_relocation(self.files, self.paths.root, self.account)
        elif self.account.separate_account:
            # The account reaches its data through the state folder, which is ours to open.
            self.paths.root.chmod(self.paths.root.stat().st_mode | 0o001)
        self.files.root.mkdir(parents=True, exist_ok=True)
        self.files.root.chmod(0o700)
        if not self.files.password_file.exists():
            self.files.password_file.write_text(secrets.token_urlsafe(24))
            self.files.password_file.chmod(0o600)
        if os.geteuid() == 0:
            hand_over(self.files.root, self.account)

    def _initdb(self) -> None:
        self._prepare_folders()
        if (self.files.data / "PG_VERSION").exists():
            return
        try:
            result = subprocess.run(
                self.account.command(
                    [
                        str(self.files.bin_dir / "initdb"),
                        "-D",
                        str(self.files.data),
                        "-U",
                        ROLE,
                        f"--pwfile={self.files.password_file}",
                        "--auth-host=scram-sha-256",
                        "--auth-local=trust",
                        "--encoding=UTF8",
                        "--locale=C",
                    ]
                ),
                capture_output=True,
                text=True,
                user=self.account.uid,
                group=self.account.gid,
                extra_groups=[] if self.account.separate_account else None,
                # A folder the server's account can enter: the caller's may be private.
                cwd=self.files.root,
                check=False,
            )
        except OSError as error:
            raise LocalCloudError(
                f"initdb could not start {self.account.description}: {error}",
                "run hostpulse as an ordinary user, or set HOSTPULSE_DATABASE_URL",
            ) from None
        if result.returncode != 0:
            raise LocalCloudError(
                f"initdb failed: {(result.stderr or result.stdout).strip().splitlines()[-1:]}",
                f"remove {self.files.data} to start from an empty database",
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
        if not self.files.password_file.exists():
            return Health(self.name, address, False, "not initialised")
        healthy, detail = database_healthy(self.url)
        where = f"; data in {self.files.root}" if self.files.relocated else ""
        return Health(
            self.name, address, healthy, f"embedded, {self.account.description}{where}; {detail}"
        )

    def crash(self) -> str | None:
        return self.process.crash_cause()
