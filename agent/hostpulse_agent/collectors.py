"""Collectors: one sample of the host, as a wire contract v1 ``Sample`` (a plain dict).

Every rate comes from ``Rates`` (counter differences, resets and wraps handled). CPU figures
come from CPU time differences too, so the first sample after start is measured over a real
interval instead of reported as 0: ``Collector`` takes a priming reading when it is created.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

import psutil

from hostpulse_agent.host import HostView, Partition
from hostpulse_agent.rates import Rates
from hostpulse_agent_rules.text import first_of_each, safe_text

# File systems that hold no user data: kernel interfaces, memory, images, overlays.
PSEUDO_FS = frozenset({
    "autofs", "binfmt_misc", "bpf", "cgroup", "cgroup2", "configfs", "debugfs", "devpts",
    "devtmpfs", "efivarfs", "fusectl", "hugetlbfs", "mqueue", "nsfs", "overlay", "proc",
    "pstore", "ramfs", "rpc_pipefs", "securityfs", "squashfs", "sysfs", "tmpfs", "tracefs",
    "nfsd", "fuse.lxcfs", "fuse.portal", "iso9660",
})  # fmt: skip
VIRTUAL_DISKS = ("loop", "ram", "zram", "dm-", "sr")
MAX_CMDLINE = 1024
MAX_NAME = 256
PROCESS_ATTRS = ["pid", "name", "create_time", "cpu_times", "memory_info"]


def _round(value: float, digits: int = 2) -> float:
    return round(value, digits)


def _percent(part: float, whole: float) -> float:
    return min(100.0, max(0.0, 100.0 * part / whole)) if whole > 0 else 0.0


class CpuMeter:
    """CPU percentages from the difference of two ``cpu_times`` readings."""

    def __init__(self) -> None:
        self._total = psutil.cpu_times()
        self._cores = psutil.cpu_times(percpu=True)

    @staticmethod
    def _busy_idle(times: Any) -> tuple[float, float]:
        idle = times.idle + getattr(times, "iowait", 0.0)
        # guest time is already counted in user time on Linux
        total = sum(times) - getattr(times, "guest", 0.0) - getattr(times, "guest_nice", 0.0)
        return total - idle, total

    def read(self) -> dict[str, Any]:
        total, cores = psutil.cpu_times(), psutil.cpu_times(percpu=True)
        busy_now, all_now = self._busy_idle(total)
        busy_then, all_then = self._busy_idle(self._total)
        elapsed = all_now - all_then
        result: dict[str, Any] = {"percent": _round(_percent(busy_now - busy_then, elapsed))}
        for field in ("user", "system", "iowait", "steal"):
            if hasattr(total, field):
                delta = getattr(total, field) - getattr(self._total, field)
                result[field] = _round(_percent(delta, elapsed))
        per_core = []
        for now, then in zip(cores, self._cores, strict=False):
            core_busy_now, core_all_now = self._busy_idle(now)
            core_busy_then, core_all_then = self._busy_idle(then)
            per_core.append(
                _round(_percent(core_busy_now - core_busy_then, core_all_now - core_all_then))
            )
        result["per_core"] = per_core
        self._total, self._cores = total, cores
        return result


def real_partitions(host: HostView) -> list[Partition]:
    seen: set[str] = set()
    partitions = []
    for part in host.partitions():
        if part.fstype in PSEUDO_FS or not part.fstype or part.mountpoint in seen:
            continue
        seen.add(part.mountpoint)
        partitions.append(part)
    return partitions


def disks(host: HostView) -> list[dict[str, Any]]:
    result = []
    for part in real_partitions(host):
        try:
            usage = psutil.disk_usage(host.usage_path(part.mountpoint))
        except OSError:
            continue  # unmounted since, or not ours to read
        result.append({
            "mount": safe_text(part.mountpoint, MAX_NAME),
            "device": safe_text(part.device, MAX_NAME),
            "fstype": safe_text(part.fstype, MAX_NAME),
            "total_bytes": usage.total,
            "used_bytes": usage.used,
            "percent": _round(usage.percent),
        })  # fmt: skip
    return first_of_each(result, "mount")


class Collector:
    def __init__(self, groups: Iterable[str], top_n: int, host: HostView | None = None) -> None:
        self.host = host or HostView()
        self.host.activate()
        self.groups = frozenset(groups)
        self.top_n = top_n
        self.rates = Rates()
        self.cpu = CpuMeter()
        self._boot = psutil.boot_time()
        self._cpu_count = psutil.cpu_count() or 1
        self.sample(int(time.time() * 1000), prime=True)

    def sample(self, ts_ms: int, prime: bool = False) -> dict[str, Any]:
        now = time.monotonic()
        sample: dict[str, Any] = {"ts_ms": ts_ms}
        if "cpu" in self.groups and not prime:
            sample["cpu"] = self.cpu.read()
        if "load" in self.groups:
            load1, load5, load15 = psutil.getloadavg()  # emulated by psutil on Windows
            sample["load"] = {"load1": _round(load1), "load5": _round(load5),
                              "load15": _round(load15)}  # fmt: skip
        if "memory" in self.groups:
            sample["memory"] = self._memory()
        if "disks" in self.groups:
            sample["disks"] = disks(self.host)
        if "disk_io" in self.groups:
            sample["disk_io"] = self._disk_io(now)
        if "net" in self.groups:
            sample["net"] = self._net(now)
        if "uptime" in self.groups:
            sample["uptime_s"] = _round(max(0.0, time.time() - self._boot), 1)
        if "processes" in self.groups:
            sample["process_count"], sample["processes"] = self._processes(now)
        return sample

    @staticmethod
    def _memory() -> dict[str, Any]:
        mem, swap = psutil.virtual_memory(), psutil.swap_memory()
        return {
            "total_bytes": mem.total,
            "used_bytes": mem.total - mem.available,
            "available_bytes": mem.available,
            "percent": _round(mem.percent),
            "swap_total_bytes": swap.total,
            "swap_used_bytes": swap.used,
            "swap_percent": _round(swap.percent),
        }

    def _disk_io(self, now: float) -> list[dict[str, Any]]:
        counters = psutil.disk_io_counters(perdisk=True) or {}
        result = []
        for device, io in sorted(counters.items()):
            if device.startswith(VIRTUAL_DISKS):
                continue
            values = {
                "read_bytes_per_s": self.rates.rate(("disk", device, "rb"), io.read_bytes, now),
                "write_bytes_per_s": self.rates.rate(("disk", device, "wb"), io.write_bytes, now),
                "read_ops_per_s": self.rates.rate(("disk", device, "ro"), io.read_count, now),
                "write_ops_per_s": self.rates.rate(("disk", device, "wo"), io.write_count, now),
            }
            if None not in values.values():
                result.append({"device": safe_text(device, MAX_NAME),
                               **{k: _round(v or 0.0, 1) for k, v in values.items()}})  # fmt: skip
        return first_of_each(result, "device")

    def _net(self, now: float) -> list[dict[str, Any]]:
        counters = psutil.net_io_counters(pernic=True) or {}
        fields = (
            ("rx_bytes_per_s", "bytes_recv"), ("tx_bytes_per_s", "bytes_sent"),
            ("rx_packets_per_s", "packets_recv"), ("tx_packets_per_s", "packets_sent"),
            ("rx_errors_per_s", "errin"), ("tx_errors_per_s", "errout"),
            ("rx_drops_per_s", "dropin"), ("tx_drops_per_s", "dropout"),
        )  # fmt: skip
        result = []
        for nic, io in sorted(counters.items()):
            if nic == "lo":
                continue
            values = {
                name: self.rates.rate(("net", nic, attr), getattr(io, attr), now)
                for name, attr in fields
            }
            if None not in values.values():
                result.append({"interface": safe_text(nic, MAX_NAME),
                               **{k: _round(v or 0.0, 1) for k, v in values.items()}})  # fmt: skip
        return first_of_each(result, "interface")

    def _processes(self, now: float) -> tuple[int, list[dict[str, Any]]]:
        seen: list[tuple[float, int, psutil.Process]] = []
        keys = set()
        for proc in psutil.process_iter(PROCESS_ATTRS):
            info = proc.info
            if info["cpu_times"] is None or info["memory_info"] is None:
                continue
            key = ("proc", info["pid"], info["create_time"])  # a reused pid is a new process
            keys.add(key)
            busy = info["cpu_times"].user + info["cpu_times"].system
            cpu = self.rates.rate(key, busy, now)
            # percent of one CPU, as top shows it; unknown for a process seen the first time
            seen.append((100.0 * cpu if cpu is not None else 0.0, info["memory_info"].rss, proc))
        # Keys of a process are ("proc", pid, create_time[, counter]); keep the living ones'.
        self.rates.retain(lambda k: not (isinstance(k, tuple) and k[0] == "proc") or k[:3] in keys)
        by_cpu = sorted(seen, key=lambda item: item[0], reverse=True)[: self.top_n]
        by_memory = sorted(seen, key=lambda item: item[1], reverse=True)[: self.top_n]
        chosen = {item[2].pid: item for item in by_cpu + by_memory}
        details = [self._details(proc, cpu, rss, now) for cpu, rss, proc in chosen.values()]
        return len(seen), [d for d in details if d is not None]

    def _details(
        self, proc: psutil.Process, cpu: float, rss: int, now: float
    ) -> dict[str, Any] | None:
        try:
            with proc.oneshot():
                info: dict[str, Any] = {
                    "pid": proc.pid,
                    "name": safe_text(proc.info.get("name") or "", MAX_NAME),
                    "cmdline": safe_text(" ".join(_safe(proc.cmdline, [])), MAX_CMDLINE),
                    "user": safe_text(_safe(proc.username, "") or "", MAX_NAME),
                    "cpu_percent": _round(cpu),
                    "rss_bytes": rss,
                    "threads": _safe(proc.num_threads, 0),
                    "status": safe_text(_safe(proc.status, ""), MAX_NAME),
                }
                io = _safe(getattr(proc, "io_counters", None), None)  # none on macOS
                key = ("proc", proc.pid, proc.info.get("create_time"))
                if io is not None:
                    read = self.rates.rate((*key, "rb"), io.read_bytes, now)
                    write = self.rates.rate((*key, "wb"), io.write_bytes, now)
                    info["read_bytes_per_s"] = _round(read or 0.0, 1)
                    info["write_bytes_per_s"] = _round(write or 0.0, 1)
                # handles on Windows, file descriptors elsewhere
                files = _safe(getattr(proc, "num_handles", None) or proc.num_fds, None)
                if files is not None:
                    info["open_files"] = files
                return info
        except (psutil.NoSuchProcess, psutil.ZombieProcess):
            return None


def _safe(call: Any, default: Any) -> Any:
    """Another user's process may refuse a field; the rest of it is still worth reporting."""
    if call is None:  # the platform has no such call
        return default
    try:
        return call()
    except (psutil.AccessDenied, psutil.ZombieProcess, NotImplementedError, OSError):
        return default
