"""hostpulse's alert semantics against Prometheus' own, with Debian's `promtool test rules` as
the oracle: the same series (a sample a minute, some missing) and the same rule (above a
threshold, with `for` and `keep_firing_for`); at every minute, hostpulse's evaluator says what
fires and what pends, and promtool checks that Prometheus says the same (firing alerts with
`alert_rule_test`, pending ones through its `ALERTS` series). Named cases, then hypothesis."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hostpulse.services.alerts.service import LOOKBACK_MS
from hostpulse.services.alerts.timeline import Point, evaluate

pytestmark = pytest.mark.slow

MINUTE_MS = 60_000
THRESHOLD = 90.0
Series = list[float | None]  # a value a minute from 0; None: no sample that minute


def ours(series: Series, for_m: int, keep_m: int) -> list[str]:
    """hostpulse's state at each minute: "firing", "pending" or "inactive"."""
    points = [
        Point(i * MINUTE_MS, value, value > THRESHOLD)
        for i, value in enumerate(series)
        if value is not None
    ]
    states: list[str] = []
    for minute in range(len(series)):
        now = minute * MINUTE_MS
        seen = [p for p in points if p.ts_ms <= now]
        timeline = evaluate(seen, for_m * MINUTE_MS, keep_m * MINUTE_MS, LOOKBACK_MS, now)
        states.append(timeline.state if seen else "inactive")
    return states


def promtool_files(series: Series, for_m: int, keep_m: int, states: list[str]) -> dict[str, str]:
    rules = {"groups": [{"name": "hostpulse", "rules": [{
        "alert": "HighCpu", "expr": f"cpu > {THRESHOLD:g}", "for": f"{for_m}m",
        "keep_firing_for": f"{keep_m}m"}]}]}  # fmt: skip
    pending = 'ALERTS{alertname="HighCpu",alertstate="pending",host="web-1"}'
    test = {
        "rule_files": ["rules.yml"],
        "evaluation_interval": "1m",
        "tests": [{
            "interval": "1m",
            "input_series": [{
                "series": 'cpu{host="web-1"}',
                "values": " ".join("_" if v is None else f"{v:g}" for v in series),
            }],
            "alert_rule_test": [
                {"eval_time": f"{minute}m", "alertname": "HighCpu",
                 "exp_alerts": [{"exp_labels": {"host": "web-1"}}] if state == "firing" else []}
                for minute, state in enumerate(states)
            ],
            "promql_expr_test": [
                {"expr": 'ALERTS{alertstate="pending"}', "eval_time": f"{minute}m",
                 "exp_samples": [{"labels": pending, "value": 1}] if state == "pending" else []}
                for minute, state in enumerate(states)
            ],
        }],
    }  # fmt: skip
    return {"rules.yml": yaml.safe_dump(rules), "test.yml": yaml.safe_dump(test)}


def assert_prometheus_agrees(folder: Path, series: Series, for_m: int, keep_m: int) -> None:
    states = ours(series, for_m, keep_m)
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in promtool_files(series, for_m, keep_m, states).items():
        (folder / name).write_text(text)
    run = subprocess.run(
        ["promtool", "test", "rules", "test.yml"],
        cwd=folder, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert run.returncode == 0, f"hostpulse says {states}; promtool:\n{run.stdout}{run.stderr}"


N = None
CASES = {
    # name: (a value a minute, for (min), keep_firing_for (min))
    "fires after for": ([50, 95, 95, 95, 95, 50, 50], 2, 0),
    "for zero fires at once": ([50, 95, 50, 95, 95, 50], 0, 0),
    "a dip ends a pending run": ([95, 95, 50, 95, 95, 95, 50], 2, 0),
    "a dip resolves at once without keep_firing_for": ([95, 95, 95, 50, 95, 95, 50, 50], 1, 0),
    "keep_firing_for rides out a dip": ([95, 95, 95, 50, 95, 95, 50, 50, 50, 50], 1, 2),
    "keep_firing_for counts from the first value below": (
        [95, 95, 50, 50, 50, 50, 50, 50], 1, 3),
    "a host gone silent resolves once stale": ([95, 95, 95, N, N, N, N, N, N, N, N], 1, 0),
    "stale, then keep_firing_for": ([95, 95, 95, N, N, N, N, N, N, N, N, N, N], 1, 2),
    "a run cut by silence fires on its last value": ([50, 95, 95, N, N, N, N, N, N, N], 3, 0),
    "a run cut by silence longer than the lookback never fires": (
        [95, 95, N, N, N, N, N, N, N, N, N], 8, 0),
    "a gap within the lookback keeps the run": ([95, N, N, 95, 95, N, 95, 50], 4, 0),
    "a gap past the lookback breaks the run": ([95, 95, N, N, N, N, N, N, 95, 95, 95], 6, 0),
    "back after staleness fires again": ([95, 95, N, N, N, N, N, N, 95, 95, 95, 95], 1, 0),
    "equal to the threshold is not above it": ([90, 90, 90, 90], 0, 0),
}  # fmt: skip


@pytest.mark.parametrize(("series", "for_m", "keep_m"), CASES.values(), ids=CASES)
def test_named_cases_alert_as_prometheus_does(
    tmp_path: Path, series: Series, for_m: int, keep_m: int
) -> None:
    assert_prometheus_agrees(tmp_path, series, for_m, keep_m)


@settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    series=st.lists(st.sampled_from([None, 50.0, 95.0, 95.0, 120.0]), min_size=1, max_size=24),
    for_m=st.integers(0, 4),
    keep_m=st.integers(0, 3),
)
def test_any_series_alerts_as_prometheus_does(
    tmp_path: Path, series: Series, for_m: int, keep_m: int
) -> None:
    assert_prometheus_agrees(tmp_path / "example", series, for_m, keep_m)
