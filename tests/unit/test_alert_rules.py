"""Rule files: the shipped defaults, every mistake named with its line, values and messages."""

from __future__ import annotations

import pytest

from hostpulse.core.contract import Process
from hostpulse.localcloud.settings import PROJECT_ROOT
from hostpulse.services.alerts.rules import RuleFileError, load_rule_set
from hostpulse.services.alerts.values import describe, render, rule_value
from hostpulse.simulation.host import SyntheticHost

DEFAULTS = PROJECT_ROOT / "stack" / "alert-rules.yaml"


def test_the_default_rules_load() -> None:
    rules = {rule.name: rule for rule in load_rule_set(DEFAULTS.read_text()).rules}

    cpu = rules["HostHighCpu"]
    assert (cpu.metric, cpu.op, cpu.threshold, cpu.for_) == ("cpu.percent", ">", 90, 10)
    assert rules["HostHighMemory"].for_ == 60
    assert rules["HostDiskFull"].metric == "disk.percent:*"
    assert rules["HostSilent"].absent_for == 60 and rules["HostSilent"].is_absent


@pytest.mark.parametrize(
    ("text", "line", "fragment"),
    [
        ("rules:\n  - name: a\n    metric: cpu.percent\n    threshold: 90\n    for: soon\n", 5,
         "not a duration"),
        ("rules:\n  - name: a\n    metric: cpu.percent\n", 2, "needs a metric and a threshold"),
        ("rules:\n  - name: a\n    metric: cpu.percent\n    threshold: 9\n    colour: red\n", 5,
         "colour"),
        ("rules:\n  - name: a\n    metric: cpu.percent\n    threshold: 9\n    op: '=>'\n", 5,
         "op"),
        ("rules:\n  - name: a\n    metric: cpu.percent\n    threshold: 9\n    notify: [pager]\n",
         1, "unknown targets ['pager']"),
        ("notifiers:\n  - name: hook\n    type: webhook\n    url: ftp://x\n", 2, "http(s) url"),
        ("rules:\n  - name: a\n    metric: process.cpu_percent\n    threshold: 9\n", 2,
         "process name glob"),
        ("rules: [\n", 2, "not valid YAML"),
        ("rules:\n  - name: a\n    absent_for: 1m\n    threshold: 3\n", 2, "no metric"),
    ],
)  # fmt: skip
def test_every_mistake_is_named_with_its_line(text: str, line: int, fragment: str) -> None:
    with pytest.raises(RuleFileError) as raised:
        load_rule_set(text, "rules.yaml")

    assert f"rules.yaml: line {line}:" in str(raised.value)
    assert fragment in str(raised.value)


def test_rule_values_aggregate_over_cores_mounts_and_processes() -> None:
    sample = SyntheticHost("web-1", cores=4).sample(1_000)
    hot = Process(pid=1, name="postgres", cpu_percent=77.0, rss_bytes=1)
    sample = sample.model_copy(update={"processes": [*sample.processes, hot]})
    rules = load_rule_set(
        "rules:\n"
        "  - {name: cores, metric: 'cpu.core:*', aggregate: avg, threshold: 1}\n"
        "  - {name: hottest, metric: 'cpu.core:*', aggregate: max, threshold: 1}\n"
        "  - {name: pg, metric: process.cpu_percent, process: 'postgres*', threshold: 1}\n"
        "  - {name: gpu, metric: gpu.percent, threshold: 1}\n"
    ).rules
    assert sample.cpu is not None

    values = [rule_value(rule, sample) for rule in rules]

    assert values[0] == pytest.approx(sum(sample.cpu.per_core) / 4)
    assert values[1] == max(sample.cpu.per_core)
    assert values[2] == 77.0
    assert values[3] is None


def test_messages_are_rendered_from_templates() -> None:
    rule = load_rule_set(DEFAULTS.read_text()).rules[0]

    assert describe(rule, "web-1", 93.456, "firing")["summary"] == (
        "CPU on web-1 above 90 % for 10 s (now 93.46 %)"
    )
    assert render("{{ labels.team }} {{ nope }}", {"labels": {"team": "ops"}}) == "ops {{ nope }}"
