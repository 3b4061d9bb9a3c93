"""The agent in a container measures the host whose / is mounted at host_root."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from hostpulse_agent.collectors import disks
from hostpulse_agent.host import HostView


@pytest.fixture
def host_root(tmp_path: Path) -> Path:
    """A host's root as a container sees it: its init's mounts, its file system types, and
    /proc/self naming this process by the host's PID (here the real one)."""
    root = tmp_path / "host"
    proc = root / "proc"
    (proc / "1").mkdir(parents=True)
    (proc / "self").symlink_to(str(os.getpid()))
    (proc / "filesystems").write_text("nodev\tsysfs\nnodev\tproc\nnodev\ttmpfs\n\text4\n\txfs\n")
    (proc / "1" / "mounts").write_text(
        "/dev/vda1 / ext4 rw,relatime 0 0\n"
        "proc /proc proc rw 0 0\n"
        "tmpfs /run tmpfs rw 0 0\n"
        "/dev/vdb1 /srv/my\\040data xfs rw 0 0\n"
        "/dev/vdc1 /gone ext4 rw 0 0\n"
    )
    (root / "srv" / "my data").mkdir(parents=True)
    return root


@pytest.fixture
def restored_procfs() -> Iterator[None]:
    before = psutil.PROCFS_PATH
    yield
    psutil.PROCFS_PATH = before


def test_the_hosts_disks_are_its_inits_mounts_measured_through_the_root(host_root: Path) -> None:
    view = HostView(host_root)

    found = {disk["mount"]: disk for disk in disks(view)}

    # proc and tmpfs have no device; /gone is not reachable through the root: left out.
    assert set(found) == {"/", "/srv/my data"}
    assert found["/srv/my data"]["device"] == "/dev/vdb1"
    assert found["/srv/my data"]["fstype"] == "xfs"
    assert found["/"]["total_bytes"] == psutil.disk_usage(str(host_root)).total


def test_without_a_root_the_agent_measures_where_it_runs() -> None:
    view = HostView()

    assert view.usage_path("/var") == "/var"
    assert view.own_pid() == os.getpid()
    assert [p.mountpoint for p in view.partitions()] == [
        p.mountpoint for p in psutil.disk_partitions()
    ]


def test_the_agents_own_process_is_the_one_the_hosts_proc_names(host_root: Path) -> None:
    (host_root / "proc" / "self").unlink()
    (host_root / "proc" / "self").symlink_to("4242")

    assert HostView(host_root).own_pid() == 4242


def test_activating_a_root_points_psutil_at_its_proc(
    host_root: Path, restored_procfs: None
) -> None:
    HostView(host_root).activate()

    assert str(host_root / "proc") == psutil.PROCFS_PATH
