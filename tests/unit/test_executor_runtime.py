"""The executor's log capture and the runtime bootstrap, without LocalStack."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from hostpulse_lambda_executor.bootstrap import END_MARKER, LambdaContext, load_handler
from hostpulse_lambda_executor.logs import ProcessLogs


def test_logs_of_one_invocation_are_cut_at_its_end_marker(tmp_path: Path) -> None:
    log_file = tmp_path / "fn.log"
    logs = ProcessLogs(log_file)
    script = (
        "import os, sys\n"
        "print('before', flush=True)\n"
        "input()\n"
        "print('inside', flush=True)\n"
        "print('to stderr', file=sys.stderr, flush=True)\n"
        f"os.write(1, {(END_MARKER + 'req-1').encode()!r} + b'\\n')\n"
        "print('after', flush=True)\n"
    )
    process = subprocess.Popen(
        [sys.executable, "-c", script],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    assert process.stdout is not None and process.stdin is not None
    logs.attach(process.stdout)
    deadline = time.monotonic() + 10
    while "before" not in logs.all() and time.monotonic() < deadline:
        time.sleep(0.05)

    logs.begin("req-1")
    process.stdin.write(b"\n")
    process.stdin.flush()
    logs.wait_for_end("req-1", timeout=10)
    captured = logs.invocation("req-1")
    process.wait(timeout=10)

    assert captured == "inside\nto stderr\n"
    time.sleep(0.2)
    logs.close()
    assert log_file.read_text().splitlines() == ["before", "inside", "to stderr", "after"]


def test_handler_specs_resolve_and_mistakes_are_clear(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "fnmod.py").write_text("def handle(event, context):\n    return event\n")
    monkeypatch.syspath_prepend(str(tmp_path))

    context = LambdaContext("req", "arn", time.time() + 1)
    assert load_handler("fnmod.handle")({"a": 1}, context) == {"a": 1}
    with pytest.raises(AttributeError, match="Handler 'missing' missing on module 'fnmod'"):
        load_handler("fnmod.missing")
    with pytest.raises(ValueError, match=r"expected module\.function"):
        load_handler("handle")
    with pytest.raises(ModuleNotFoundError):
        load_handler("no_such_module.handle")


def test_context_counts_down_to_its_deadline(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "fn")
    context = LambdaContext("req", "arn:aws:lambda:us-east-1:0:function:fn", time.time() + 2)

    assert context.function_name == "fn"
    assert 1500 < context.get_remaining_time_in_millis() <= 2000
    expired = LambdaContext("req", "arn", time.time() - 1)
    assert expired.get_remaining_time_in_millis() == 0
    assert os.environ["AWS_LAMBDA_FUNCTION_NAME"] == "fn"
