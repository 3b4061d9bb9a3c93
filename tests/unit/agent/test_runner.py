from __future__ import annotations

import gzip
import json
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from hostpulse.core.contract import Batch
from hostpulse_agent.config import AgentConfig
from hostpulse_agent.runner import Agent, SequenceFile
from hostpulse_agent.sender import SendResult


@dataclass
class ScriptedSender:
    """Plays a script of results, then accepts; records every attempt's sequence number."""

    script: list[SendResult] = field(default_factory=list)
    attempts: list[int] = field(default_factory=list)
    accepted: list[dict[str, Any]] = field(default_factory=list)
    central: dict[str, Any] | None = None  # what a sync answers
    syncs: list[dict[str, Any]] = field(default_factory=list)

    def send(self, payload: bytes) -> SendResult:
        batch = json.loads(gzip.decompress(payload))
        self.attempts.append(batch["seq"])
        result = self.script.pop(0) if self.script else SendResult("accepted", 202, "ok")
        if result.outcome == "accepted":
            self.accepted.append(batch)
        return result

    def sync(self, asked: dict[str, Any]) -> dict[str, Any] | None:
        self.syncs.append(asked)
        return self.central


def config(tmp_path: Path, **overrides: Any) -> AgentConfig:
    """An agent whose sequence starts at 0 (a new state folder starts at the clock's ms)."""
    if not (tmp_path / "seq").exists():
        (tmp_path / "seq").write_text("0")
    return AgentConfig(
        ingest_url="http://127.0.0.1:9/v1/ingest", token="hp_t", agent_id="web-1",
        interval_s=0.05, send_every_s=0.1, state_dir=tmp_path, shutdown_deadline_s=2.0,
        **overrides,
    )  # fmt: skip


def spool_batches(agent: Agent, count: int) -> None:
    for _ in range(count):
        agent.collect_once()
        agent.flush()


def test_a_batch_keeps_its_sequence_number_through_retries_and_retry_after_is_obeyed(
    tmp_path: Path,
) -> None:
    sender = ScriptedSender([SendResult("retry", 429, "slow down", retry_after_s=0.3),
                             SendResult("retry", 503, "busy", retry_after_s=None),
                             SendResult("retry", 0, "unreachable")])  # fmt: skip
    agent = Agent(config(tmp_path), sender)
    spool_batches(agent, 1)

    started = time.monotonic()
    agent.send_pending(deadline=time.monotonic() + 30)

    assert sender.attempts == [0, 0, 0, 0]
    assert time.monotonic() - started >= 0.3
    assert agent.retried == 3 and agent.spool.pending == 0


def test_a_refused_batch_is_not_retried_and_is_counted(tmp_path: Path) -> None:
    sender = ScriptedSender([SendResult("rejected", 422, "bad batch")])
    agent = Agent(config(tmp_path), sender)
    spool_batches(agent, 2)

    agent.send_pending(deadline=time.monotonic() + 5)

    assert sender.attempts == [1, 0]
    assert agent.rejected == 1 and agent.spool.pending == 0


def test_a_refused_credential_keeps_the_batches_and_asks_again_slowly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    waits: list[tuple[int, float, float]] = []

    def recording_backoff(attempt: int, base_s: float = 1.0, cap_s: float = 60.0) -> float:
        waits.append((attempt, base_s, cap_s))
        return 0.01

    monkeypatch.setattr("hostpulse_agent.runner.backoff_s", recording_backoff)
    refused = SendResult("refused_credential", 401, "unknown or revoked agent token")
    sender = ScriptedSender([refused, refused])
    agent = Agent(config(tmp_path), sender)
    spool_batches(agent, 2)

    agent.send_pending(deadline=time.monotonic() + 5)

    assert sender.attempts == [1, 1, 1, 0]  # refused twice, then the token works again
    assert agent.rejected == 0 and agent.spool.pending == 0
    assert [(base, cap) for _, base, cap in waits] == [(30.0, 300.0)] * 2


def test_fresh_data_goes_first_then_the_backlog_oldest_first(tmp_path: Path) -> None:
    sender = ScriptedSender()
    agent = Agent(config(tmp_path), sender)
    spool_batches(agent, 5)

    agent.send_pending(deadline=time.monotonic() + 5)

    assert sender.attempts == [4, 0, 3, 1, 2]


def test_every_batch_carries_the_agents_own_metrics_and_fits_the_contract(tmp_path: Path) -> None:
    sender = ScriptedSender()
    agent = Agent(config(tmp_path), sender)
    spool_batches(agent, 2)
    agent.send_pending(deadline=time.monotonic() + 5)

    selves = [Batch.model_validate(raw).samples[-1].agent for raw in sender.accepted]
    assert all(own is not None and own.rss_bytes > 10 * 1024 * 1024 for own in selves)
    assert [own.spool_bytes > 0 for own in selves if own] == [True, False]  # newest sent first


def test_sequence_numbers_only_grow_across_restarts(tmp_path: Path) -> None:
    first = Agent(config(tmp_path), ScriptedSender())
    spool_batches(first, 3)
    first.spool.close()

    second = Agent(config(tmp_path), ScriptedSender())
    spool_batches(second, 1)

    assert second.sequence.next == first.sequence.next + 1


def test_a_new_state_folder_starts_above_every_number_used_before(tmp_path: Path) -> None:
    before_ms = time.time_ns() // 1_000_000
    used = SequenceFile(tmp_path / "old" / "seq", now_ms=before_ms - 86_400_000)
    used.next += 8640  # a day of batches every 10 s
    wiped = SequenceFile(tmp_path / "new" / "seq")

    assert wiped.next >= before_ms > used.next


def test_a_stop_collects_once_more_and_flushes_within_the_deadline(tmp_path: Path) -> None:
    sender = ScriptedSender()
    agent = Agent(config(tmp_path), sender)
    runner = threading.Thread(target=agent.run)
    runner.start()
    time.sleep(0.5)

    agent.stop()
    runner.join(timeout=10)

    assert not runner.is_alive()
    assert agent.spool.pending == 0
    samples = [s for b in sender.accepted for s in b["samples"]]
    assert len(samples) >= 5
    seqs = [b["seq"] for b in sender.accepted]
    assert sorted(seqs) == list(range(len(seqs)))


def test_when_the_backend_stays_away_the_stop_keeps_the_batches_spooled(tmp_path: Path) -> None:
    never = [SendResult("retry", 0, "unreachable", retry_after_s=0.2)] * 1000
    sender = ScriptedSender(list(never))
    agent = Agent(config(tmp_path), sender)
    runner = threading.Thread(target=agent.run)
    runner.start()
    time.sleep(0.4)

    started = time.monotonic()
    agent.stop()
    runner.join(timeout=10)

    assert 1.5 < time.monotonic() - started < 5  # the shutdown deadline is 2 s
    assert len(sender.attempts) < 30  # retries keep their backoff while draining
    reopened = Agent(config(tmp_path), ScriptedSender())
    assert reopened.spool.pending >= 2


def test_batches_follow_the_schedule_without_drift(tmp_path: Path) -> None:
    sender = ScriptedSender()
    agent = Agent(
        AgentConfig(
            ingest_url="http://127.0.0.1:9/v1/ingest",
            token="hp_t",
            agent_id="web-1",
            interval_s=0.1,
            send_every_s=0.2,
            state_dir=tmp_path,
            shutdown_deadline_s=2.0,
        ),
        sender,
    )
    slow = agent.collector.sample

    def slow_sample(ts_ms: int, prime: bool = False) -> dict[str, Any]:
        time.sleep(0.03)  # a collection that takes time must not stretch the batch cadence
        return slow(ts_ms, prime)

    agent.collector.sample = slow_sample  # type: ignore[method-assign]
    runner = threading.Thread(target=agent.run)
    runner.start()
    time.sleep(2.05)
    agent.stop()
    runner.join(timeout=10)

    # A busy machine may delay a tick or make the agent skip some, never add one: at most
    # 2 s / 0.2 s = 10 batches plus the stop's flush. Their count says nothing of drift.
    assert len(sender.accepted) <= 12
    stamps = sorted(s["ts_ms"] for b in sender.accepted for s in b["samples"])[:-1]
    assert len(stamps) >= 10  # the last, left out, is the stop's own collection
    # On the schedule the samples fall on one grid of 100 ms, whatever delayed a few of them;
    # 30 ms of collection added to each interval would spread them around the whole period.
    offsets = [(ts - stamps[0]) % 100 for ts in stamps]
    on_grid = max(sum(1 for o in offsets if circular_ms(o, grid) <= 20) for grid in offsets)
    assert on_grid >= 0.8 * len(stamps), offsets


def circular_ms(a: int, b: int, period: int = 100) -> int:
    return min((a - b) % period, (b - a) % period)


def test_a_full_disk_loses_the_batch_counted_and_the_agent_goes_on(tmp_path: Path) -> None:
    sender = ScriptedSender()
    agent = Agent(config(tmp_path), sender)
    spool_batches(agent, 1)
    real_append = agent.spool.append

    def full(payload: bytes) -> Any:
        raise OSError(28, "No space left on device")

    agent.spool.append = full  # type: ignore[method-assign]
    spool_batches(agent, 1)  # lost: nowhere to keep it
    agent.spool.append = real_append  # type: ignore[method-assign]
    spool_batches(agent, 1)

    agent.send_pending(deadline=time.monotonic() + 5)

    assert agent.unspooled == 1
    assert [b["seq"] for b in sender.accepted] == [2, 0]  # the newest first, then the backlog
    assert sender.accepted[0]["samples"][-1]["agent"]["dropped_batches"] == 1


def test_a_sequence_number_that_cannot_be_saved_loses_only_its_batch(tmp_path: Path) -> None:
    sender = ScriptedSender()
    agent = Agent(config(tmp_path), sender)
    spool_batches(agent, 1)
    real_take = agent.sequence.take

    def full() -> int:
        raise OSError(28, "No space left on device")

    agent.sequence.take = full  # type: ignore[method-assign]
    spool_batches(agent, 2)  # the disk is full for the sequence file too: both lost, counted
    agent.sequence.take = real_take  # type: ignore[method-assign]
    spool_batches(agent, 1)

    agent.send_pending(deadline=time.monotonic() + 5)

    assert agent.unspooled == 2
    assert sorted(b["seq"] for b in sender.accepted) == [0, 1]
    assert max(b["samples"][-1]["agent"]["dropped_batches"] for b in sender.accepted) == 2
