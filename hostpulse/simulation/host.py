"""Synthetic hosts that produce realistic samples: load that drifts, spikes, and busy processes."""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from hostpulse.core.contract import (
    AgentSelf,
    Batch,
    Cpu,
    DiskIo,
    DiskUsage,
    HostFacts,
    Load,
    Memory,
    NetIo,
    Process,
    Sample,
)

GIB = 1024**3
PROCESS_NAMES = (
    "postgres",
    "nginx",
    "python3",
    "java",
    "node",
    "redis-server",
    "sshd",
    "systemd",
    "containerd",
    "kworker/0:1",
    "chrome",
    "gunicorn",
    "dockerd",
    "cron",
    "rsyslogd",
)


def _walk(value: float, rng: random.Random, step: float, low: float, high: float) -> float:
    return min(high, max(low, value + rng.uniform(-step, step)))


@dataclass
class SyntheticHost:
    hostname: str
    cores: int = 4
    seed: int = 0
    processes: int = 10
    agent_id: str = ""
    next_seq: int = 0
    _rng: random.Random = field(init=False, repr=False)
    _cpu: float = field(init=False, default=20.0)
    _mem: float = field(init=False, default=40.0)
    _disk: float = field(init=False, default=55.0)

    def __post_init__(self) -> None:
        self._rng = random.Random(f"{self.hostname}:{self.seed}")
        self.agent_id = self.agent_id or self.hostname
        self._cpu = self._rng.uniform(5, 40)
        self._mem = self._rng.uniform(20, 70)

    @property
    def facts(self) -> HostFacts:
        return HostFacts(
            hostname=self.hostname,
            os="Linux",
            platform="linux-x86_64",
            cpu_count=self.cores,
            agent_version="simulated",
            labels={"fleet": "simulated"},
        )

    def sample(self, ts_ms: int) -> Sample:
        rng = self._rng
        self._cpu = _walk(self._cpu, rng, 8, 0, 100)
        self._mem = _walk(self._mem, rng, 1.5, 5, 98)
        self._disk = _walk(self._disk, rng, 0.05, 1, 99)
        cores = [round(_walk(self._cpu, rng, 15, 0, 100), 2) for _ in range(self.cores)]
        total = 16 * GIB
        used = int(total * self._mem / 100)
        disk_total = 500 * GIB
        procs = [
            Process(
                pid=1000 + i,
                name=PROCESS_NAMES[i % len(PROCESS_NAMES)],
                cmdline=f"/usr/bin/{PROCESS_NAMES[i % len(PROCESS_NAMES)]} --worker {i}",
                user="root" if i % 3 == 0 else "app",
                cpu_percent=round(rng.uniform(0, self._cpu / 2), 2),
                rss_bytes=rng.randint(10, 900) * 1024**2,
                threads=rng.randint(1, 64),
                read_bytes_per_s=round(rng.uniform(0, 5e6), 1),
                write_bytes_per_s=round(rng.uniform(0, 2e6), 1),
                open_files=rng.randint(3, 500),
                status="running" if i % 4 == 0 else "sleeping",
            )
            for i in range(self.processes)
        ]
        return Sample(
            ts_ms=ts_ms,
            cpu=Cpu(
                percent=round(self._cpu, 2),
                user=round(self._cpu * 0.7, 2),
                system=round(self._cpu * 0.25, 2),
                iowait=round(self._cpu * 0.05, 2),
                steal=0.0,
                per_core=cores,
            ),
            memory=Memory(
                total_bytes=total,
                used_bytes=used,
                available_bytes=total - used,
                percent=round(self._mem, 2),
                swap_total_bytes=2 * GIB,
                swap_used_bytes=int(2 * GIB * self._mem / 400),
                swap_percent=round(self._mem / 4, 2),
            ),
            load=Load(
                load1=round(self._cpu * self.cores / 100, 2),
                load5=round(self._cpu * self.cores / 110, 2),
                load15=round(self._cpu * self.cores / 120, 2),
            ),
            disks=[
                DiskUsage(
                    mount="/",
                    device="/dev/vda1",
                    fstype="ext4",
                    total_bytes=disk_total,
                    used_bytes=int(disk_total * self._disk / 100),
                    percent=round(self._disk, 2),
                )
            ],
            disk_io=[
                DiskIo(
                    device="vda",
                    read_bytes_per_s=round(rng.uniform(0, 2e7), 1),
                    write_bytes_per_s=round(rng.uniform(0, 1e7), 1),
                    read_ops_per_s=round(rng.uniform(0, 500), 1),
                    write_ops_per_s=round(rng.uniform(0, 300), 1),
                )
            ],
            net=[
                NetIo(
                    interface="eth0",
                    rx_bytes_per_s=round(rng.uniform(0, 1e7), 1),
                    tx_bytes_per_s=round(rng.uniform(0, 5e6), 1),
                )
            ],
            uptime_s=float(86400 + ts_ms // 1000 % 86400),
            process_count=180 + rng.randint(0, 40),
            processes=procs,
            agent=AgentSelf(cpu_percent=0.4, rss_bytes=22 * 1024**2),
        )

    def batch(self, timestamps_ms: list[int]) -> Batch:
        batch = Batch(
            agent_id=self.agent_id,
            seq=self.next_seq,
            host=self.facts,
            samples=[self.sample(ts) for ts in timestamps_ms],
        )
        self.next_seq += 1
        return batch
