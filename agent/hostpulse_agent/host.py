"""Which host the agent measures: the one it runs on, or the one whose root file system is
mounted at ``host_root`` (a container: node_exporter's ``--path.rootfs``, Telegraf's
``HOST_PROC`` and ``HOST_MOUNT_PREFIX``).

With a host root, processes, CPU, memory and disk counters come from ``<root>/proc`` (psutil's
documented ``PROCFS_PATH``), the file systems are those of the host's init (``/proc/1/mounts``:
``/proc/self/mounts`` would be the container's own) measured through the root, and the agent's
own process is found by what ``<root>/proc/self`` names, its PID in the host's namespace.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import psutil

ESCAPED = re.compile(r"\\([0-7]{3})")


class Partition(NamedTuple):
    device: str
    mountpoint: str
    fstype: str


def _unescape(field: str) -> str:
    # /proc/*/mounts writes a space, tab, newline or backslash in a path as \040 and the like.
    return ESCAPED.sub(lambda match: chr(int(match[1], 8)), field)


def check_host_root(path: Path) -> Path:
    if not (path / "proc" / "stat").is_file():
        raise ValueError(f"{path} holds no proc/stat: mount the host's / there (read-only)")
    return path


@dataclass(frozen=True)
class HostView:
    root: Path | None = None

    def activate(self) -> None:
        """Points psutil at the host's /proc; the agent does it once, before collecting."""
        if self.root is not None:
            psutil.PROCFS_PATH = str(self.root / "proc")

    def partitions(self) -> list[Partition]:
        if self.root is None:
            return [Partition(p.device, p.mountpoint, p.fstype) for p in psutil.disk_partitions()]
        proc = self.root / "proc"
        # As psutil does for its own host: file systems without a device are not disks.
        nodev = {
            line.split()[1]
            for line in (proc / "filesystems").read_text().splitlines()
            if line.startswith("nodev")
        }
        found = []
        for line in (proc / "1" / "mounts").read_text().splitlines():
            fields = line.split()
            if len(fields) >= 3 and fields[2] not in nodev:
                found.append(Partition(_unescape(fields[0]), _unescape(fields[1]), fields[2]))
        return found

    def usage_path(self, mountpoint: str) -> str:
        """Where a host mount point is seen from here."""
        if self.root is None:
            return mountpoint
        return str(self.root) + mountpoint if mountpoint != "/" else str(self.root)

    def own_pid(self) -> int:
        if self.root is None:
            return os.getpid()
        return int(os.readlink(self.root / "proc" / "self"))
