"""Who the embedded PostgreSQL runs as, and where its files must live for that.

PostgreSQL refuses to run as root. As an ordinary user it simply runs as that user. As root,
the best way keeps every file where it is: a user namespace in which root is mapped to the
unprivileged ``nobody`` (the server sees a non-root uid; the kernel still checks its file
access as the owner root, so a checkout under ``/root`` or a 0700 folder stays reachable and no
permission anywhere is changed). Where user namespaces are not allowed (some containers), the
server runs as the real ``nobody`` account, which must reach its binaries and its data: when
the checkout is private, both move to ``/var/lib/hostpulse`` (see ``relocation.py``).
"""

from __future__ import annotations

import functools
import grp
import os
import pwd
import shutil
import stat
import subprocess
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from hostpulse.localcloud.errors import LocalCloudError

UNPRIVILEGED_USER = "nobody"
UNPRIVILEGED_GROUPS = ("nogroup", "nobody")
FALLBACKS = "run hostpulse as an ordinary user, or set HOSTPULSE_DATABASE_URL to a server you run"


class Isolation(StrEnum):
    """How the server is kept from running as root (``HOSTPULSE_POSTGRES_ISOLATION``)."""

    AUTO = "auto"
    USER_NAMESPACE = "user-namespace"
    ACCOUNT = "account"


@dataclass(frozen=True)
class ServerAccount:
    """How to start PostgreSQL's programs: an argv prefix and the ids to switch to."""

    prefix: tuple[str, ...] = ()
    uid: int | None = None
    gid: int | None = None
    # True when the server is a different account that must reach its files by permission.
    separate_account: bool = False
    description: str = "as the current user"

    def command(self, argv: list[str]) -> list[str]:
        return [*self.prefix, *argv]


@dataclass(frozen=True)
class UnprivilegedIds:
    uid: int
    gid: int


def unprivileged_ids() -> UnprivilegedIds:
    try:
        uid = pwd.getpwnam(UNPRIVILEGED_USER).pw_uid
    except KeyError:
        raise LocalCloudError(
            f"PostgreSQL refuses to run as root and this system has no `{UNPRIVILEGED_USER}`"
            " account to run it as",
            FALLBACKS,
        ) from None
    for name in UNPRIVILEGED_GROUPS:
        try:
            return UnprivilegedIds(uid, grp.getgrnam(name).gr_gid)
        except KeyError:
            continue
    return UnprivilegedIds(uid, pwd.getpwnam(UNPRIVILEGED_USER).pw_gid)


def _namespace_prefix(ids: UnprivilegedIds) -> tuple[str, ...]:
    unshare = shutil.which("unshare") or "unshare"
    return (unshare, "--user", f"--map-user={ids.uid}", f"--map-group={ids.gid}")


@functools.cache
def user_namespace_refusal(ids: UnprivilegedIds) -> str | None:
    """Why a user namespace cannot be had here, or None when it can (tried for real, once)."""
    try:
        result = subprocess.run(
            [*_namespace_prefix(ids), "true"],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        return f"unshare could not run: {error}"
    if result.returncode != 0:
        lines = (result.stderr or result.stdout).strip().splitlines()
        return lines[-1] if lines else f"unshare exited with code {result.returncode}"
    return None


def server_account(isolation: Isolation, euid: int | None = None) -> ServerAccount:
    """The way this process can run PostgreSQL, under the operator's choice of isolation."""
    if (os.geteuid() if euid is None else euid) != 0:
        return ServerAccount()
    ids = unprivileged_ids()
    if isolation is not Isolation.ACCOUNT:
        refusal = user_namespace_refusal(ids)
        if refusal is None:
            return ServerAccount(
                prefix=_namespace_prefix(ids),
                description=f"as {UNPRIVILEGED_USER} in a user namespace",
            )
        if isolation is Isolation.USER_NAMESPACE:
            raise LocalCloudError(
                f"HOSTPULSE_POSTGRES_ISOLATION=user-namespace, but this system refuses user"
                f" namespaces ({refusal})",
                f"set HOSTPULSE_POSTGRES_ISOLATION=auto or account, or {FALLBACKS}",
            )
    return ServerAccount(
        uid=ids.uid,
        gid=ids.gid,
        separate_account=True,
        description=f"as the {UNPRIVILEGED_USER} account",
    )


def reachable_by_others(path: Path) -> bool:
    """Whether an account that is neither owner nor in the group can reach ``path``.

    Every folder on the way must be searchable by others, and the path itself must be
    searchable (a folder) or readable and executable (a program) by them.
    """
    path = path.resolve()
    for folder in reversed(path.parents):
        if not folder.stat().st_mode & stat.S_IXOTH:
            return False
    mode = path.stat().st_mode
    if stat.S_ISDIR(mode):
        return bool(mode & stat.S_IXOTH)
    return bool(mode & stat.S_IROTH and mode & stat.S_IXOTH)


def hand_over(root: Path, account: ServerAccount) -> None:
    """Give the server's own files to the account that runs it, and to nobody else.

    Under a user namespace the server's files belong to root (the server is root outside it),
    so data initialised earlier by the separate account is taken back.
    """
    uid = account.uid if account.separate_account else os.geteuid()
    gid = account.gid if account.separate_account else os.getegid()
    assert uid is not None and gid is not None
    for path in [root, *root.rglob("*")]:
        info = path.lstat()
        if (info.st_uid, info.st_gid) != (uid, gid):
            os.lchown(path, uid, gid)
