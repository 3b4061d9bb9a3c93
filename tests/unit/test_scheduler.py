"""`hostpulse scheduler`: a failed run is logged and the next period is the retry."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest

from hostpulse.cli.worker import run_on_rate
from hostpulse.deploy.model import load_stack
from tests.support import eventually

CALLS: list[dict[str, Any]] = []


def flaky_handler(event: dict[str, Any], context: object) -> dict[str, int]:
    CALLS.append(event)
    if len(CALLS) == 1:
        raise RuntimeError("database away")
    return {"ok": 1}


def test_a_failed_run_is_said_and_the_next_period_runs_again(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "stack.yaml").write_text(
        "name: t\nruntime: python3.12\nfunctions:\n"
        "  tick: {handler: tests.unit.test_scheduler.flaky_handler, source: [.], timeout: 5}\n"
        "schedules:\n  tick: {function: tick, expression: rate(1 minute)}\n"
    )
    stack = load_stack(tmp_path / "stack.yaml")
    stopping = threading.Event()
    runner = threading.Thread(target=run_on_rate, args=(stack, "tick", 0.05, stopping))
    runner.start()
    try:
        eventually(lambda: len(CALLS) >= 3, timeout=10, interval=0.05)
    finally:
        stopping.set()
        runner.join(timeout=10)
    assert not runner.is_alive()
    assert CALLS[0]["detail-type"] == "Scheduled Event"
    assert CALLS[0]["resources"] == ["hostpulse-schedule-tick"]
    said = capsys.readouterr().out
    assert "error: tick failed: RuntimeError: database away" in said
    assert "tick: done in" in said
