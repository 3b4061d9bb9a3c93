"""A Prometheus rule file loaded into hostpulse and run as the alerts schedule runs it: the
series stored in PostgreSQL as remote write stores them, the group loaded through the store,
evaluated minute after minute by the group runner (its PromQL engine reading PostgreSQL, its
recording rules writing there), and what it lists as Prometheus' rules API lists alerts
compared, minute by minute, with what Debian's `promtool test rules` expects of the same file
on the same series. A corpus of 44 alerting rules (and the recording rules some read), then
hypothesis drawing the series."""

from __future__ import annotations

import time
import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from hostpulse.adapters.postgres.alerts import PgAlertStore
from hostpulse.adapters.postgres.connector import PgConnector
from hostpulse.adapters.postgres.metrics import PgMetricStore
from hostpulse.adapters.postgres.migrate import migrate
from hostpulse.adapters.postgres.promql import PgSeriesSource
from hostpulse.adapters.postgres.rule_groups import PgRuleGroups
from hostpulse.core.contract import Batch
from hostpulse.core.tiers import default_tiers
from hostpulse.services.alerts.group_listing import rules_listing
from hostpulse.services.alerts.prometheus_rules import PrometheusRuleFile
from hostpulse.services.alerts.rule_groups import (
    RuleGroupRunner,
    instant_query,
    replace_rule_groups,
)
from hostpulse.services.alerts.rules import RuleSet
from hostpulse.services.ingest.remote_write.series import HostRule, host_batches, made_of
from hostpulse.services.promql.service import PromQLService
from tests.integration.test_rule_evaluation_promtool import (
    RULES,
    Active,
    Fleet,
    assert_promtool_agrees,
    fleet_series,
    parsed,
)
from tests.support import CloudUnderTest, per_worker, replace_database

pytestmark = [pytest.mark.localcloud, pytest.mark.slow]

MINUTE_MS = 60_000
MINUTES = 20
# Whole hours that ended a while ago: inside the raw tier, on no day's edge that matters.
BASE_MS = (int(time.time() * 1000) // 3_600_000 - 3) * 3_600_000

RECORDING: list[dict[str, Any]] = [
    {"record": "host:cpu:avg", "expr": "avg by (host) (cpu)"},
    {"record": "host:errors:rate2m", "expr": "sum by (host) (rate(http_requests_total[2m]))",
     "labels": {"source": "rules"}},
]  # fmt: skip
MORE: list[dict[str, Any]] = [
    {"alert": "RecordedHot", "expr": "host:cpu:avg > 90", "for": "1m"},
    {"alert": "RecordedErrors", "expr": 'host:errors:rate2m{source="rules"} > 0.1',
     "annotations": {"rate": "{{ $value }}"}},
    {"alert": "Reset", "expr": "resets(http_requests_total[5m]) > 0",
     "annotations": {"n": "{{ $value }} resets on {{ $labels.host }}"}},
    {"alert": "Increase", "expr": "increase(http_requests_total[4m]) > 20", "for": "2m"},
    {"alert": "Changes", "expr": "changes(cpu[3m]) >= 3", "keep_firing_for": "3m"},
    {"alert": "Gone", "expr": "up == 0 or absent(up)", "for": "2m"},
    {"alert": "Flapping", "expr": "count_over_time((cpu > 90)[4m:1m]) >= 2"},
    {"alert": "AvgWindow", "expr": "avg_over_time(cpu[5m]) > 80", "for": "1m",
     "labels": {"severity": "warning"}},
    {"alert": "Quantile", "expr": "quantile_over_time(0.9, cpu[5m]) > 97"},
    {"alert": "Deriv", "expr": "deriv(disk_free_bytes[5m]) < -1e6", "for": "1m",
     "annotations": {"per_second": "{{ $value | humanize1024 }}B/s"}},
    {"alert": "Delta", "expr": "delta(cpu[2m]) > 30"},
    {"alert": "Unless", "expr": 'cpu > 90 unless on (host) cpu{host="web-2"}'},
    {"alert": "BoolCount", "expr": "sum(cpu > bool 90) >= 2", "for": "1m"},
    {"alert": "TopOne", "expr": "topk(1, cpu) > 0",
     "annotations": {"who": "{{ $labels.host }}"}},
    {"alert": "Relabelled", "expr": 'label_replace(cpu, "node", "$1", "host", "web-(.*)") > 95',
     "labels": {"node": "n{{ $labels.node }}"}},
    {"alert": "Clamped", "expr": "clamp_max(cpu, 50) == 50", "keep_firing_for": "2m"},
    {"alert": "Ratio", "expr": 'cpu{host="web-1"} / on (env) cpu{host="web-2"} > 1.5',
     "annotations": {"ratio": "{{ $value | printf \"%.2f\" }}"}},
    {"alert": "MinMax", "expr": "max(cpu) - min(cpu) > 50", "for": "2m"},
    {"alert": "Scalar", "expr": 'vector(scalar(cpu{host="web-1"})) > 99'},
    {"alert": "Vector", "expr": "vector(1) > 0", "labels": {"always": "yes"}},
    {"alert": "Stale", "expr": "up", "for": "1m", "keep_firing_for": "1m"},
    {"alert": "Subquery", "expr": "max_over_time(rate(http_requests_total[2m])[5m:1m]) > 1"},
    {"alert": "Offset", "expr": "cpu offset 5m > 95"},
    {"alert": "Absent", "expr": "absent_over_time(up[3m])",
     "annotations": {"since": "{{ $value }}"}},
    {"alert": "Sorted", "expr": "sort_desc(cpu) > 98", "labels": {"team": "{{ $labels.env }}"}},
    {"alert": "Percent", "expr": "cpu / 100 > 0.95",
     "annotations": {"share": "{{ $value | humanizePercentage }}"}},
    {"alert": "ByEnv", "expr": "count by (env) (cpu) == 2", "for": "5m"},
    {"alert": "LongFor", "expr": "cpu > 50", "for": "6m", "keep_firing_for": "4m"},
    {"alert": "Upper", "expr": "cpu > 99", "annotations": {"env": "{{ $labels.env | toUpper }}"}},
    {"alert": "Without", "expr": "sum without (host) (cpu) > 150"},
    {"alert": "Ignoring", "expr": "cpu > ignoring (env) group_left () (up * 90)"},
    {"alert": "StdDev", "expr": "stddev_over_time(cpu[5m]) > 20", "for": "1m"},
    {"alert": "LastOver", "expr": "last_over_time(cpu[10m]) > 95",
     "annotations": {"v": "{{ $value }}"}},
    {"alert": "Rounded", "expr": "round(cpu, 10) >= 100"},
]  # fmt: skip
CORPUS = RULES + MORE
UP: list[float | None] = [1.0] * 5 + [0.0] * 3 + [1.0] * 4 + [None] * 8


def fleet_of(cpu1: list[float | None], cpu2: list[float | None]) -> Fleet:
    return {**fleet_series(cpu1, cpu2, MINUTES, reset_at=13), 'up{host="web-1"}': UP}


def stored_batches(fleet: Fleet) -> list[Batch]:
    """The fleet as remote write stores it: each series under its host, exactly its labels."""
    by_host: dict[str, dict[int, dict[str, float]]] = {}
    for key, values in fleet.items():
        made = made_of(parsed(key), HostRule())
        assert not isinstance(made, str), made
        host, series = made
        for minute, value in enumerate(values):
            if value is not None:
                by_host.setdefault(host, {}).setdefault(BASE_MS + minute * MINUTE_MS, {})[
                    series
                ] = value
    refused: Counter[str] = Counter()
    return [
        batch
        for host, times in sorted(by_host.items())
        for batch in host_batches(host, times, "fleet", refused, uuid.uuid4().bytes)
    ]


@pytest.fixture(scope="module")
def database(local_cloud: CloudUnderTest) -> Iterator[str]:
    server = local_cloud.endpoints["database_url"].rsplit("/", 1)[0]
    url = f"{server}/{per_worker('rule_groups')}"
    yield url
    replace_database(url, create=False)


def hostpulse_minutes(url: str, fleet: Fleet, rules: list[dict[str, Any]]) -> list[list[Active]]:
    """The fleet stored, the rule file loaded, and at each minute the group run and its
    alerts as listed."""
    replace_database(url)
    migrate(url)
    connector = PgConnector(url)
    try:
        metrics = PgMetricStore(connector)
        metrics.write_batches(stored_batches(fleet))
        groups = PgRuleGroups(connector)
        group = {"name": "g", "interval": "1m", "rules": rules}
        replace_rule_groups(groups, PrometheusRuleFile.model_validate({"groups": [group]}),
                            (), BASE_MS)  # fmt: skip
        end = datetime.fromtimestamp((BASE_MS + MINUTES * MINUTE_MS) / 1000, UTC)
        promql = PromQLService(PgSeriesSource(connector), default_tiers(), now=lambda: end)
        runner = RuleGroupRunner(groups, instant_query(promql), metrics, {}, RuleSet)
        alert_store = PgAlertStore(connector)
        minutes = []
        for minute in range(MINUTES):
            runner.run(BASE_MS + minute * MINUTE_MS + 1_000)  # a run a second past the step
            minutes.append(listed(groups))
            assert_episodes_follow(alert_store, minutes[-1])
        return minutes
    finally:
        connector.close()


def listed(groups: PgRuleGroups) -> list[Active]:
    [group] = rules_listing(groups.stored_groups())["groups"]
    broken = [(r["name"], r.get("lastError")) for r in group["rules"] if r["health"] != "ok"]
    assert not broken, broken
    return [
        (alert["state"], rule["name"], alert["labels"], alert["annotations"])
        for rule in group["rules"] if rule["type"] == "alerting"
        for alert in rule["alerts"]
    ]  # fmt: skip


def assert_episodes_follow(store: PgAlertStore, now: list[Active]) -> None:
    """What the listing says fires is what the alerts page and the notifications know."""

    def key(labels: dict[str, str]) -> tuple[tuple[str, str], ...]:
        return tuple(sorted(labels.items()))

    firing = sorted(key(labels) for state, _, labels, _ in now if state == "firing")
    active = store.active()
    stored = sorted(key(a.get("labels", {})) for a in active if a["state"] == "firing")
    assert stored == firing
    pending = sorted(key(labels) for state, _, labels, _ in now if state == "pending")
    assert sorted(key(a.get("labels", {})) for a in active if a["state"] == "pending") == pending


HOT: list[float | None] = [50.0, 95.0, 96.0, 97.0, 99.5, 99.8, 40.0, 96.0, 97.0, 98.0, 30.0,
                           30.0, 96.0, None, None, None, 99.0, 99.9, 100.0, 20.0]  # fmt: skip
STEADY: list[float | None] = [60.0, 60.0, 80.0, 80.0, 80.0, 20.0, None, None, None, None, None,
                              None, None, 60.0, 60.0, 60.0, 91.0, 92.0, 93.0, 94.0]  # fmt: skip


def test_a_loaded_rule_file_alerts_as_prometheus_does(database: str, tmp_path: Path) -> None:
    fleet = fleet_of(HOT, STEADY)
    rules = RECORDING + CORPUS
    minutes = hostpulse_minutes(database, fleet, rules)
    assert len([r for r in rules if "alert" in r]) >= 40
    fired = {name for minute in minutes for state, name, _, _ in minute if state == "firing"}
    assert len(fired) >= 30, sorted(fired)  # the corpus fires, it does not only stay quiet
    assert_promtool_agrees(tmp_path, fleet, minutes, rules)


CPU = st.sampled_from([None, 20.0, 60.0, 75.0, 91.0, 96.0, 99.9, 100.0])
# Left out of the drawn fleets: a recorded series is not marked stale when its rule stops
# returning it (hostpulse stores no staleness markers), so read back it lasts the lookback
# longer than in Prometheus (docs/alerts.md says so), which drawn gaps in cpu show; and topk
# between equal values, where which one Prometheus keeps is its heap's order, not PromQL's.
DRAWN = [rule for rule in CORPUS if rule.get("alert") not in ("RecordedHot", "TopOne")]


# Each example stores a fleet and runs 20 minutes of the group: a few, and no shrinking (the
# failing example is printed as drawn).
@settings(max_examples=12, deadline=None, phases=[Phase.explicit, Phase.generate],
          suppress_health_check=[HealthCheck.function_scoped_fixture])  # fmt: skip
@given(
    cpu1=st.lists(CPU, min_size=MINUTES, max_size=MINUTES),
    cpu2=st.lists(CPU, min_size=MINUTES, max_size=MINUTES),
)
def test_any_cpu_series_alert_as_prometheus_does_once_loaded(
    database: str, tmp_path: Path, cpu1: list[float | None], cpu2: list[float | None]
) -> None:
    fleet = fleet_of(cpu1, cpu2)
    rules = RECORDING + DRAWN
    assert_promtool_agrees(
        tmp_path / uuid.uuid4().hex[:8], fleet, hostpulse_minutes(database, fleet, rules), rules
    )
