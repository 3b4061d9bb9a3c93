"""The running agent: a collector thread and a sender thread around the disk spool.

Collection follows a drift-free schedule (tick k is due at start + k * interval, whatever the
previous tick cost). Every ``send_every_s`` the collected samples become a batch with the next
sequence number, written to the spool before anything is sent. The sender always sends the
newest batch first and then works through the backlog oldest-first, so fresh data is never
stuck behind hours of spooled data. A batch keeps its sequence number through every retry.
"""

from __future__ import annotations

import contextlib
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

from hostpulse_agent import __version__, central
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
from hostpulse_agent_rules.text import host_name, safe_text

log = logging.getLogger("hostpulse_agent")


class Sender(Protocol):
    def send(self, payload: bytes) -> SendResult: ...

    def sync(self, asked: dict[str, Any]) -> dict[str, Any] | None: ...


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
        self.local = config  # the host's own settings, under the server's central ones
        self.config = config
        self.sender = sender
        config.state_dir.mkdir(parents=True, exist_ok=True)
        self.spool = Spool(config.state_dir / "spool", config.spool_max_bytes)
        self.sequence = SequenceFile(config.state_dir / "seq")
        self.host = HostView(config.host_root)
        self.own_collector = collector is None
        self.collector = collector or Collector(config.groups, config.top_n, self.host)
        self.facts = host_facts(config)
        self.meter = SelfMeter(self.host.own_pid())
        self.central_file = config.state_dir / "central.json"
        self.config_version: int | None = None  # of the central configuration running
        self.refused_version: int | None = None
        self.commands = central.Commands(config.state_dir / "commands")
        self.collecting = threading.Lock()
        # Paused stays paused through a restart, until the server says resume.
        self.paused_file = config.state_dir / "paused"
        self.paused = self.paused_file.exists()
        self.last_sync = time.monotonic()
        kept = central.load(self.central_file)
        if kept is not None:
            self.apply_central(kept)
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
            if interval != self.config.interval_s:  # changed centrally: a new schedule from now
                interval, start, tick = self.config.interval_s, time.monotonic(), 0
                next_flush = min(next_flush, start + self.config.send_every_s)
            tick += 1
            due = start + tick * interval
            if self.stopping.wait(max(0.0, due - time.monotonic())):
                break
            behind = int((time.monotonic() - due) // interval)
            if behind > 0:  # a stalled host: skip the missed ticks, keep the schedule
                log.warning("collection fell behind", extra={"missed_ticks": behind})
                tick += behind
            with self.collecting:  # "collect now" runs on the sender's thread
                if not self.paused:
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

    # -- central configuration --------------------------------------------------------------

    def follow(self, wanted: int | None, newest_command: int | None, force: bool = False) -> None:
        """After an accepted batch (or, while paused, every batch period): sync with the server
        when it wants another configuration version than the one running (and not one already
        refused), has a command this agent has not run, or is owed acknowledgements."""
        behind = wanted is not None and wanted not in (self.config_version, self.refused_version)
        # Only pending commands are named: one already run means its acknowledgement was lost.
        commanded = newest_command is not None
        if not (force or behind or commanded or self.commands.unacked):
            return
        self.last_sync = time.monotonic()
        answer = self.sender.sync(
            {
                "hostname": self.facts["hostname"],
                "labels": self.facts["labels"],
                "config_version": self.config_version,
                "acks": self.commands.unacked,
            }
        )
        if answer is None:
            return  # acknowledgements kept for the next sync
        self.commands.unacked = []
        if answer["config_version"] not in (self.config_version, self.refused_version):
            self.apply_central(central.Central(answer["config_version"], answer["settings"]))
        for command in answer.get("commands", []):
            self.commands.run(command, self.run_command)

    def follow_safely(
        self, wanted: int | None, newest_command: int | None, force: bool = False
    ) -> None:
        """Following the server never stops the agent sending: a failure is logged, and the
        next answer tries again."""
        try:
            self.follow(wanted, newest_command, force)
        except Exception:
            log.exception("following the server's configuration failed; collection goes on")

    def run_command(self, kind: str) -> dict[str, object]:
        """What a command does, and what the agent says it did."""
        if kind == "collect_now":
            with self.collecting:
                self.collect_once()
                spooled = self.flush() is not None
            return {"spooled": spooled}
        if kind in ("pause", "resume"):
            self.paused = kind == "pause"
            with contextlib.suppress(OSError):  # a full disk: paused until a restart
                if self.paused:
                    self.paused_file.touch()
                else:
                    self.paused_file.unlink(missing_ok=True)
            log.warning("collection paused" if self.paused else "collection resumed")
            return {"paused": self.paused}
        if kind == "diagnostics":
            return self.diagnostics()
        return {"error": f"unknown command {kind!r}"}

    def diagnostics(self) -> dict[str, object]:
        return {
            "agent_version": __version__,
            "python": platform.python_version(),
            "config_version": self.config_version,
            "refused_config_version": self.refused_version,
            "paused": self.paused,
            "spool_bytes": self.spool.size_bytes,
            "spool_pending": self.spool.pending,
            "dropped_batches": self.spool.dropped + self.rejected + self.unspooled,
            "retried_batches": self.retried,
            "rejected_batches": self.rejected,
            "send_latency_ms": round(self.last_latency_ms, 1),
        }

    def apply_central(self, wanted: central.Central) -> None:
        try:
            config, pinned = central.applied(self.local, wanted)
        except central.ConfigError as error:
            self.refused_version = wanted.version
            log.error(
                "central configuration refused; running the previous one",
                extra={"version": wanted.version, "reason": str(error)},
            )
            return
        if pinned:
            log.info("pinned on this host; not changed centrally", extra={"keys": pinned})
        before, self.config = self.config, config
        if self.own_collector and (config.groups, config.top_n) != (before.groups, before.top_n):
            self.collector = Collector(config.groups, config.top_n, self.host)
        logging.getLogger("hostpulse_agent").setLevel(config.log_level)
        self.config_version = wanted.version
        self.facts = {**host_facts(config), "config_version": wanted.version}
        try:
            central.save(self.central_file, wanted)
        except OSError as error:  # a full disk: it runs, and the server sends it again
            log.warning("could not keep the central configuration", extra={"error": str(error)})
        log.info("central configuration applied", extra={"version": wanted.version})

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
                self.follow_safely(result.config_version, result.command)
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
            # Paused, no batch brings an answer: ask the server itself, once a batch period.
            if self.paused and time.monotonic() - self.last_sync >= self.config.send_every_s:
                self.follow_safely(None, None, force=True)
            self.sent.wait(1.0)
            self.sent.clear()

    # -- lifecycle --------------------------------------------------------------------------

    def run(self) -> None:
        log.info("agent started", extra={"agent_id": self.config.agent_id,
                                         "pending": self.spool.pending,
                                         "paused": self.paused})  # fmt: skip
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
