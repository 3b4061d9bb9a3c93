from __future__ import annotations

from pathlib import Path

import pytest

from hostpulse.deploy.deployer import Deployer, DeployResult
from hostpulse.deploy.model import ScheduleSpec, StackError, load_stack
from hostpulse.localcloud.settings import PROJECT_ROOT


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "stack.yaml"
    path.write_text(text)
    return path


def test_the_real_stack_description_is_valid() -> None:
    stack = load_stack(PROJECT_ROOT / "stack" / "stack.yaml")

    assert stack.physical("aggregate") == "hostpulse-aggregate"
    assert stack.dead_letter_name("alerts") == "hostpulse-alerts-dlq"
    assert [(t.queue, t.function, t.partial_batch_response) for t in stack.triggers] == [
        ("aggregate", "aggregate", True),
        ("alerts", "alerts", True),
    ]
    assert stack.schedules["alerts-tick"].expression == "rate(1 minute)"
    routes = {(r.method, r.path): r.function for r in stack.api.routes} if stack.api else {}
    assert routes[("POST", "/v1/ingest")] == "ingest"
    assert routes[("POST", "/ingest/metrics")] == "ingest"
    for queue in ("aggregate", "alerts"):
        assert stack.functions[queue].timeout < stack.queues[queue].visibility_timeout
    assert stack.base_dir == PROJECT_ROOT / "stack"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "name: x\ntriggers: [{queue: nope, function: f}]\n",
            "a trigger names unknown queue 'nope'",
        ),
        (
            "name: x\nschedules: {tick: {function: f, expression: rate(1 minute)}}\n",
            "schedule 'tick' names unknown function 'f'",
        ),
        (
            "name: x\nfunctions: {f: {handler: m.h, source: [a], timeout: 0}}\n",
            "functions.f.timeout",
        ),
        ("name: x\nqueues: {q: {visibilty_timeout: 3}}\n", "queues.q.visibilty_timeout"),
        ("name: Bad_Name\n", "name: String should match pattern"),
        (
            "name: x\nschedules: {tick: {function: f, expression: every minute}}\n",
            "schedules.tick.expression",
        ),
        (
            "name: x\nqueues: {q: {}}\ntriggers: [{queue: q, function: f, batch_size: 11}]\n",
            "a batch_size over 10 needs batching_window_seconds of at least 1",
        ),
        ("- just\n- a list\n", "expected a mapping"),
        ("name: [unclosed\n", "while parsing"),
    ],
)
def test_mistakes_are_named_with_the_file(tmp_path: Path, text: str, expected: str) -> None:
    path = write(tmp_path, text)

    with pytest.raises(StackError) as error:
        load_stack(path)

    assert str(path) in str(error.value)
    assert expected in str(error.value)


def test_placeholders_resolve_to_deployed_names_and_variables(tmp_path: Path) -> None:
    stack = load_stack(write(tmp_path, "name: demo\n"))
    deployer = Deployer(
        stack, "http://127.0.0.1:1", "us-east-1", {"database_url": "postgresql://db"}
    )
    deployer.result = DeployResult(queue_urls={"work": "http://q/work"}, buckets={"b": "demo-b"})

    assert deployer._resolve("${database_url}") == "postgresql://db"
    assert deployer._resolve("${queue:work} and ${bucket:b}") == "http://q/work and demo-b"
    with pytest.raises(KeyError, match=r"\$\{queue:missing\}"):
        deployer._resolve("${queue:missing}")


@pytest.mark.parametrize(
    ("expression", "seconds"),
    [("rate(1 minute)", 60), ("rate(5 minutes)", 300), ("rate(1 hour)", 3600),
     ("rate(2 days)", 172800), ("cron(0 * * * ? *)", None)],
)  # fmt: skip
def test_a_schedule_knows_its_period(expression: str, seconds: int | None) -> None:
    assert ScheduleSpec(function="f", expression=expression).period_seconds() == seconds


def test_the_process_runtime_runs_ingest_the_consumers_and_the_schedules() -> None:
    stack = load_stack(PROJECT_ROOT / "stack" / "stack.yaml")
    assert stack.process_functions() == [
        "aggregate",
        "alerts",
        "alerts-tick",
        "ingest",
        "retention",
    ]
