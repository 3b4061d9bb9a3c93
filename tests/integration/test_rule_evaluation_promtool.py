"""Prometheus alerting rules, evaluated by hostpulse (its PromQL engine on the same series) and by
Prometheus through Debian's `promtool test rules`: at every evaluation minute, the same alerts
fire with the same labels and annotations (their `$labels` and `$value` filled in), and the
same ones pend (Prometheus' `ALERTS` series). A corpus of rules over a small fleet, then
hypothesis drawing the series."""

from __future__ import annotations

import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hostpulse.core.tiers import default_tiers
from hostpulse.services.alerts.prometheus_rules import AlertingRule
from hostpulse.services.alerts.rule_evaluation import AlertingRuleState
from hostpulse.services.promql.service import PromQLService
from tests.promql_memory import MemorySeriesSource

pytestmark = pytest.mark.slow

MINUTE_MS = 60_000
MINUTES = 16
Fleet = dict[str, list[float | None]]  # a series (as promtool writes it): a value a minute

RULES: list[dict[str, Any]] = [
    {"alert": "HostHighCpu", "expr": "cpu > 90", "for": "2m",
     "labels": {"severity": "critical"},
     "annotations": {"summary": "CPU on {{ $labels.host }} at {{ $value }}"}},
    {"alert": "EnvBusy", "expr": "avg by (env) (cpu) > 70", "for": "1m",
     "annotations": {"summary": "{{ $labels.env }}: {{ $value }}"}},
    {"alert": "Errors", "expr": "rate(http_requests_total{code=\"500\"}[3m]) > 0.05",
     "keep_firing_for": "2m", "labels": {"team": "{{ $labels.host }}-oncall"},
     "annotations": {"rate": "{{ $value | humanize }} errors/s"}},
    {"alert": "DiskWillFill", "expr": "predict_linear(disk_free_bytes[5m], 3600) < 0",
     "for": "1m", "annotations": {"in": "{{ $value }} bytes in an hour"}},
    {"alert": "HostGone", "expr": 'absent(cpu{host="web-2"})', "for": "1m"},
    {"alert": "TwoBusy", "expr": "count(cpu > 50) > 1"},
    {"alert": "StillHot", "expr": "cpu > 95 and on (host) cpu offset 1m > 95",
     "keep_firing_for": "1m"},
    {"alert": "HotWindow", "expr": "max_over_time(cpu[3m]) > 99", "for": "1m",
     "keep_firing_for": "1m", "annotations": {"share": "{{ $value | humanizePercentage }}"}},
    {"alert": "Humanized", "expr": "cpu * 1234.5 > 0",
     "annotations": {"si": "{{ $value | humanize }}", "bytes": "{{ humanize1024 $value }}B",
                     "up": "{{ $value | humanizeDuration }}",
                     "fixed": '{{ printf "%.1f %s" $value $labels.host }}',
                     "loud": "{{ $labels.env | toUpper }}"}},
    {"alert": "Tiny", "expr": "cpu / 1e6 > 0",
     "annotations": {"si": "{{ humanize $value }}", "up": "{{ humanizeDuration $value }}"}},
]  # fmt: skip


def fleet_series(
    cpu1: list[float | None],
    cpu2: list[float | None],
    minutes: int = MINUTES,
    reset_at: int | None = None,
) -> Fleet:
    """Two hosts' cpu; a counter of errors, faster and faster (reset at ``reset_at``); a disk
    filling, then cleaned."""
    errors: list[float | None] = []
    free: list[float | None] = []
    for minute in range(minutes):
        count = minute * minute // 3
        errors.append(float(count - 50 if reset_at is not None and minute >= reset_at else count))
        free.append(5e9 - minute * 4e8 if minute < 12 else 5e9)
    return {
        'cpu{host="web-1",env="prod"}': cpu1,
        'cpu{host="web-2",env="prod"}': cpu2,
        'http_requests_total{host="web-1",code="500"}': errors,
        'disk_free_bytes{host="db-1",mount="/var"}': free,
    }


def parsed(key: str) -> tuple[tuple[str, str], ...]:
    name, _, rest = key.partition("{")
    pairs = [part.split("=", 1) for part in rest.rstrip("}").split(",") if part]
    return tuple(sorted([("__name__", name), *((k, v.strip('"')) for k, v in pairs)]))


Active = tuple[str, str, dict[str, str], dict[str, str]]


def hostpulse_states(fleet: Fleet) -> list[list[Active]]:
    """Per minute, every active alert: its state, rule, labels and annotations."""
    data = {
        parsed(key): [(i * MINUTE_MS, v) for i, v in enumerate(values) if v is not None]
        for key, values in fleet.items()
    }
    end = datetime.fromtimestamp(MINUTES * 60, UTC)
    promql = PromQLService(MemorySeriesSource(data), default_tiers(), now=lambda: end)

    def query(expr: str, at_ms: int) -> list[tuple[dict[str, str], float]]:
        answer = promql.instant(expr, at_ms)
        return [(s["metric"], float(s["value"][1])) for s in answer.result]

    rules = [AlertingRuleState(AlertingRule.model_validate(rule)) for rule in RULES]
    minutes = []
    for minute in range(MINUTES):
        now: list[Active] = []
        for state in rules:
            state.evaluate(query, minute * MINUTE_MS)
            for alert in state.active.values():
                if alert.state != "inactive":
                    now.append((alert.state, state.rule.alert, alert.labels, alert.annotations))
        minutes.append(now)
    return minutes


def promtool_test(
    fleet: Fleet, minutes: list[list[Any]], rules: list[dict[str, Any]] = RULES
) -> dict[str, Any]:
    def values(series: list[float | None]) -> str:
        return " ".join("_" if v is None else repr(v) for v in series)

    def firing(minute: int, rule: str) -> list[dict[str, Any]]:
        return [
            {"exp_labels": {k: v for k, v in labels.items() if k != "alertname"},
             "exp_annotations": notes}
            for state, name, labels, notes in minutes[minute]
            if state == "firing" and name == rule
        ]  # fmt: skip

    def pending(minute: int) -> list[dict[str, Any]]:
        return [
            {"labels": "ALERTS{" + ",".join(f'{k}="{v}"' for k, v in
                                           sorted({**labels, "alertstate": "pending"}.items()))
             + "}", "value": 1}
            for state, _, labels, _ in minutes[minute]
            if state == "pending"
        ]  # fmt: skip

    return {
        "rule_files": ["rules.yml"],
        "evaluation_interval": "1m",
        "tests": [{
            "interval": "1m",
            "input_series": [{"series": key, "values": values(v)} for key, v in fleet.items()],
            "alert_rule_test": [
                {"eval_time": f"{minute}m", "alertname": rule["alert"],
                 "exp_alerts": firing(minute, rule["alert"])}
                for minute in range(len(minutes)) for rule in rules if "alert" in rule
            ],
            "promql_expr_test": [
                {"expr": 'ALERTS{alertstate="pending"}', "eval_time": f"{minute}m",
                 "exp_samples": pending(minute)}
                for minute in range(len(minutes))
            ],
        }],
    }  # fmt: skip


def assert_prometheus_agrees(folder: Path, fleet: Fleet) -> None:
    assert_promtool_agrees(folder, fleet, hostpulse_states(fleet), RULES)


def assert_promtool_agrees(
    folder: Path, fleet: Fleet, minutes: list[list[Active]], rules: list[dict[str, Any]]
) -> None:
    """promtool, given the same series and rules, expects at every minute what hostpulse had."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "rules.yml").write_text(yaml.safe_dump({"groups": [{"name": "g", "rules": rules}]}))
    (folder / "test.yml").write_text(yaml.safe_dump(promtool_test(fleet, minutes, rules)))
    run = subprocess.run(["promtool", "test", "rules", "test.yml"], cwd=folder,
                         capture_output=True, text=True, timeout=120, check=False)  # fmt: skip
    assert run.returncode == 0, f"{run.stdout[-6000:]}{run.stderr[-2000:]}"


HOT = [50.0, 95.0, 96.0, 97.0, 99.5, 99.8, 40.0, 96.0, 97.0, 98.0, 30.0, 30.0, 96.0, None,
       None, None]  # fmt: skip
STEADY = [60.0, 60.0, 80.0, 80.0, 80.0, 20.0, None, None, None, None, None, None, None, 60.0,
          60.0, 60.0]  # fmt: skip


def test_a_corpus_of_rules_alerts_as_prometheus_does(tmp_path: Path) -> None:
    assert_prometheus_agrees(tmp_path, fleet_series(HOT, STEADY))


CPU = st.sampled_from([None, 20.0, 60.0, 75.0, 91.0, 96.0, 99.9, 100.0])


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])  # fmt: skip
@given(
    cpu1=st.lists(CPU, min_size=MINUTES, max_size=MINUTES),
    cpu2=st.lists(CPU, min_size=MINUTES, max_size=MINUTES),
)
def test_any_cpu_series_alert_as_prometheus_does(
    tmp_path: Path, cpu1: list[float | None], cpu2: list[float | None]
) -> None:
    assert_prometheus_agrees(tmp_path / "example", fleet_series(cpu1, cpu2))
