"""The default rule that predicts (`HostFilesystemWillFill` in stack/prometheus-rules.yaml), run
as shipped over three days of filesystems at five-minute samples: one that fills steadily is
told, a nightly cleanup and an hourly log rotation that stay below full are not, while the same
rule over a 30-minute window (and a shorter `for`) would page for the rotation. hostpulse's
group runner decides; `promtool test rules` on the same file and series agrees at every hour."""

from __future__ import annotations

import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from hostpulse.core.tiers import default_tiers
from hostpulse.localcloud.settings import PROJECT_ROOT
from hostpulse.services.alerts.group_listing import rules_listing
from hostpulse.services.alerts.prometheus_rules import load_prometheus_rules
from hostpulse.services.alerts.rule_groups import (
    RuleGroupRunner,
    instant_query,
    replace_rule_groups,
)
from hostpulse.services.alerts.rules import RuleSet
from hostpulse.services.promql.service import PromQLService
from tests.alert_fakes import MemoryRecorder, MemoryRuleGroups
from tests.integration.test_rule_evaluation_promtool import parsed
from tests.promql_memory import MemorySeriesSource

pytestmark = pytest.mark.slow

RULES = PROJECT_ROOT / "stack" / "prometheus-rules.yaml"
STEP_MS = 5 * 60_000
HOURS = 72
STEPS = HOURS * 12


def level(hour: float, shape: str) -> float:
    """How full (%) a filesystem of each shape is at an hour."""
    if shape == "fills":  # 2 % an hour from 60 %: full in 20 h
        return min(100.0, 60.0 + 2.0 * hour)
    if shape == "nightly":  # +15 % over each day, cleaned at midnight
        return 55.0 + 15.0 * (hour % 24) / 24
    return 60.0 + 15.0 * (hour % 1)  # "rotated": +15 % over each hour, rotated on the hour


FLEET = {
    f'hostpulse_filesystem_used_percent{{host="{shape}",mount="/var"}}': [
        level(step / 12, shape) for step in range(STEPS)
    ]
    for shape in ("fills", "nightly", "rotated")
}

Firing = list[tuple[dict[str, str], dict[str, str]]]


def hostpulse_firing(rule_text: str) -> list[Firing]:
    """At each step, the alerts that fire: the rule file run by the group runner."""
    data = {
        parsed(key): [(i * STEP_MS, v) for i, v in enumerate(values)]
        for key, values in FLEET.items()
    }
    end = datetime.fromtimestamp(STEPS * STEP_MS / 1000, UTC)
    promql = PromQLService(MemorySeriesSource(data), default_tiers(), now=lambda: end)
    groups = MemoryRuleGroups()
    replace_rule_groups(groups, load_prometheus_rules(rule_text), (), 0)
    runner = RuleGroupRunner(groups, instant_query(promql), MemoryRecorder(), {}, RuleSet)
    steps: list[Firing] = []
    for step in range(STEPS):
        runner.run(step * STEP_MS)
        [group] = rules_listing(groups.stored_groups())["groups"]
        [rule] = group["rules"]
        assert rule["health"] == "ok", rule.get("lastError")
        steps.append([(a["labels"], a["annotations"]) for a in rule["alerts"]
                      if a["state"] == "firing"])  # fmt: skip
    return steps


def firing_hosts(steps: list[Firing]) -> set[str]:
    return {labels["host"] for firing in steps for labels, _ in firing}


def test_a_filesystem_that_fills_is_told_and_a_sawtooth_below_full_is_not(
    tmp_path: Path,
) -> None:
    steps = hostpulse_firing(RULES.read_text())
    assert firing_hosts(steps) == {"fills"}
    first = next(i for i, firing in enumerate(steps) if firing)
    assert 12 * 6 <= first <= 12 * 8  # five hours of history or more, then an hour of `for`
    [(labels, notes)] = steps[first]
    assert labels == {"alertname": "HostFilesystemWillFill", "host": "fills", "mount": "/var",
                      "severity": "warning"}  # fmt: skip
    assert notes["summary"].startswith("/var on fills fills within 24 h")

    promtool_agrees(tmp_path, RULES.read_text(), steps)


def test_over_thirty_minutes_the_same_rule_would_page_for_the_rotation() -> None:
    """What the six hours are for: fitted over 30 minutes, with a `for` shorter than a
    rotation's rising edge (a common shape of this rule), the rotation pages."""
    short = RULES.read_text().replace("[6h]", "[30m]").replace("for: 1h", "for: 15m")
    assert firing_hosts(hostpulse_firing(short)) == {"fills", "rotated"}


def promtool_agrees(folder: Path, rule_text: str, steps: list[Firing]) -> None:
    """promtool, on the same file and series, expects at every hour what hostpulse had."""
    (folder / "rules.yml").write_text(rule_text)
    test: dict[str, Any] = {
        "rule_files": ["rules.yml"],
        "evaluation_interval": "5m",
        "tests": [{
            "interval": "5m",
            "input_series": [{"series": key, "values": " ".join(repr(v) for v in values)}
                             for key, values in FLEET.items()],
            "alert_rule_test": [
                {"eval_time": f"{hour}h", "alertname": "HostFilesystemWillFill",
                 "exp_alerts": [{"exp_labels": {k: v for k, v in labels.items()
                                                if k != "alertname"},
                                 "exp_annotations": notes}
                                for labels, notes in steps[hour * 12]]}
                for hour in range(HOURS)
            ],
        }],
    }  # fmt: skip
    (folder / "test.yml").write_text(yaml.safe_dump(test))
    run = subprocess.run(["promtool", "test", "rules", "test.yml"], cwd=folder,
                         capture_output=True, text=True, timeout=300, check=False)  # fmt: skip
    assert run.returncode == 0, f"{run.stdout[-6000:]}{run.stderr[-2000:]}"
