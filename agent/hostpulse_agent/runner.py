"""The running agent: a collector thread and a sender thread around the disk spool.

Collection follows a drift-free schedule (tick k is due at start + k * interval, whatever the
previous tick cost). Every ``send_every_s`` the collected samples become a batch with the next
sequence number, written to the spool before anything is sent. The sender always sends the
newest batch first and then works through the backlog oldest-first, so fresh data is never
stuck behind hours of spooled data. A batch keeps its sequence number through every retry.
"""

from __future__ import annotations

import gzip
import json
import logging
import os
import platform
import socket
import threading
import time
from pathlib import Path
from typing import Any, Protocol

import psutil

from hostpulse_agent import __version__
from hostpulse_agent.collectors import Collector
from hostpulse_agent.config import AgentConfig
from hostpulse_agent.host import HostView
from hostpulse_agent.sender import (
    CREDENTIAL_BACKOFF_BASE_S,
    CREDENTIAL_BACKOFF_CAP_S,
    SendResult,
    backoff_s,
)
from hostpulse_agent.spool import RecordId, Spool
from hostpulse_agent.text import host_name, safe_text

log = logging.getLogger("hostpulse_agent")


class Sender(Protocol):
    def send(self, payload: bytes) -> SendResult: ...


class SequenceFile:
    """The next sequence number, kept on disk so it only grows across restarts.

    A new state folder (a reinstall, a lost disk) starts at the current Unix time in
    milliseconds: the server keeps one batch per (agent, seq), and a batch every few seconds
    never catches up with the clock, so a restarted sequence is above any number used before.
    """

    def __init__(self, path: Path, now_ms: int | None = None) -> None:
        self.path = path
        try:
            self.next = int(path.read_text().strip())
        except (FileNotFoundError, ValueError):
            self.next = time.time_ns() // 1_000_000 if now_ms is None else now_ms

    def take(self) -> int:
        seq = self.next
        self.next += 1
        temporary = self.path.with_suffix(".tmp")
        with temporary.open("w") as handle:
            handle.write(str(self.next))
            handle.flush()
            os.fsync(handle.fileno())
        temporary.replace(self.path)  # saved before the batch exists: never reused
        return seq


class SelfMeter:
    """The agent's own cost: CPU percent since the last reading, and resident memory."""

    def __init__(self, pid: int) -> None:
        self.process = psutil.Process(pid)
        self._last = (time.monotonic(), sum(self.process.cpu_times()[:2]))

    def read(self) -> tuple[float, int]:
        now, busy = time.monotonic(), sum(self.process.cpu_times()[:2])
        elapsed = now - self._last[0]
        percent = 100.0 * (busy - self._last[1]) / elapsed if elapsed > 0 else 0.0
        self._last = (now, busy)
        return round(percent, 2), self.process.memory_info().rss


def host_facts(config: AgentConfig) -> dict[str, Any]:
    return {
        "hostname": config.hostname or host_name(socket.gethostname()),
        "os": safe_text(platform.system(), 256),
        "platform": safe_text(platform.platform(), 256),
        "cpu_count": psutil.cpu_count() or 1,
        "agent_version": __version__,
        "labels": dict(config.labels),
    }


class Agent:
    def __init__(
        self, config: AgentConfig, sender: Sender, collector: Collector | None = None
    ) -> None:
        self.config = config
        self.sender = sender
        config.state_dir.mkdir(parents=True, exist_ok=True)
        self.spool = Spool(config.state_dir / "spool", config.spool_max_bytes)
        self.sequence = SequenceFile(config.state_dir / "seq")
        host = HostView(config.host_root)
        self.collector = collector or Collector(config.groups, config.top_n, host)
        self.facts = host_facts(config)
        self.meter = SelfMeter(host.own_pid())
        self.stopping = threading.Event()
        self.sent = threading.Event()  # set when the collector spools a batch
        self._samples: list[dict[str, Any]] = []
        self.retried = 0
        self.rejected = 0
        self.unspooled = 0  # batches the spool could not take (a full disk)
        self.last_latency_ms = 0.0

    # -- collecting -------------------------------------------------------------------------

    def collect_once(self) -> None:
        self._samples.append(self.collector.sample(int(time.time() * 1000)))

    def flush(self) -> RecordId | None:
        """Close the current batch into the spool."""
        if not self._samples:
            return None
        cpu, rss = self.meter.read()
        self._samples[-1]["agent"] = {
            "cpu_percent": cpu,
            "rss_bytes": rss,
            "spool_bytes": self.spool.size_bytes,
            "dropped_batches": self.spool.dropped + self.rejected + self.unspooled,
            "retried_batches": self.retried,
            "send_latency_ms": round(self.last_latency_ms, 1),
        }
        samples, self._samples = self._samples, []
        try:
            # Both write to the disk. A sequence number that could not be saved is never sent,
            # so using it again after a restart is harmless.
            batch = {
                "schema_version": 1,
                "agent_id": self.config.agent_id,
                "seq": self.sequence.take(),
                "host": self.facts,
                "samples": samples,
            }
            record = self.spool.append(gzip.compress(json.dumps(batch).encode(), mtime=0))
        except OSError as error:  # a full disk: this batch is lost, counted; collection goes on
            self.unspooled += 1
            log.error("could not spool a batch; it is lost", extra={"error": str(error)})
            return None
        self.sent.set()
        return record

    def collect_loop(self) -> None:
        interval = self.config.interval_s
        start = time.monotonic()
        tick = 0
        next_flush = start + self.config.send_every_s  # on the schedule too, not "since the last"
        while not self.stopping.is_set():
            tick += 1
            due = start + tick * interval
            if self.stopping.wait(max(0.0, due - time.monotonic())):
                break
            behind = int((time.monotonic() - due) // interval)
            if behind > 0:  # a stalled host: skip the missed ticks, keep the schedule
                log.warning("collection fell behind", extra={"missed_ticks": behind})
                tick += behind
            try:
                self.collect_once()
            except Exception:
                log.exception("collection failed; the next tick tries again")
            if due >= next_flush - 1e-6:
                self.flush()
                while next_flush <= due + 1e-6:
                    next_flush += self.config.send_every_s
        # A last collection, so a clean stop leaves no gap behind it.
        self.collect_once()
        self.flush()

    # -- sending ----------------------------------------------------------------------------

    def _next_record(self, fresh_turn: bool) -> tuple[RecordId, bytes] | None:
        return self.spool.newest() if fresh_turn else self.spool.oldest()

    def send_pending(self, deadline: float | None = None) -> None:
        """Send until the spool is empty, the agent stops, or the deadline passes."""
        attempt = 0
        fresh_turn = True
        while deadline is None or time.monotonic() < deadline:
            if deadline is None and self.stopping.is_set():
                return
            entry = self._next_record(fresh_turn)
            if entry is None:
                return
            record, payload = entry
            result = self.sender.send(payload)
            if result.outcome == "accepted":
                self.spool.ack(record)
                self.last_latency_ms = result.latency_ms
                attempt = 0
                fresh_turn = not fresh_turn  # newest, oldest, newest, …
                continue
            if result.outcome == "rejected":
                self.spool.ack(record)
                self.rejected += 1
                log.error(
                    "batch refused; not retried",
                    extra={"status": result.status, "reason": result.detail},
                )
                continue
            self.retried += 1
            if result.outcome == "refused_credential":
                wait = backoff_s(attempt, CREDENTIAL_BACKOFF_BASE_S, CREDENTIAL_BACKOFF_CAP_S)
                log.error(
                    "the backend refused this agent's credential; batches stay spooled until "
                    "the token or its host binding is fixed",
                    extra={"status": result.status, "reason": result.detail,
                           "wait_s": round(wait, 2), "pending": self.spool.pending},
                )  # fmt: skip
            else:
                wait = (
                    result.retry_after_s if result.retry_after_s is not None else backoff_s(attempt)
                )
                log.warning(
                    "send failed; retrying",
                    extra={"status": result.status, "reason": result.detail,
                           "wait_s": round(wait, 2)},
                )  # fmt: skip
            attempt += 1
            if deadline is None:
                if self.stopping.wait(wait):  # a stop interrupts the wait
                    return
            else:  # draining at shutdown: the stop is already set, so wait for real
                time.sleep(min(wait, max(0.0, deadline - time.monotonic())))

    def send_loop(self) -> None:
        while not self.stopping.is_set():
            self.send_pending()
            self.sent.wait(1.0)
            self.sent.clear()

    # -- lifecycle --------------------------------------------------------------------------

    def run(self) -> None:
        log.info("agent started", extra={"agent_id": self.config.agent_id,
                                         "pending": self.spool.pending})  # fmt: skip
        collector = threading.Thread(target=self.collect_loop, name="collector")
        sender = threading.Thread(target=self.send_loop, name="sender")
        collector.start()
        sender.start()
        while not self.stopping.wait(1.0):
            pass
        collector.join()
        sender.join()
        # Flush to the backend within the deadline; what does not make it stays spooled.
        self.send_pending(deadline=time.monotonic() + self.config.shutdown_deadline_s)
        log.info("agent stopped", extra={"pending": self.spool.pending})
        self.spool.close()

    def stop(self) -> None:
        self.stopping.set()
