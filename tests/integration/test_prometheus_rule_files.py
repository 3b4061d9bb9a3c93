"""Prometheus rule files as `promtool check rules` checks them: every file of the corpus is
accepted by both or refused by both, and a refused expression is named on the line promtool
names. Then
`hostpulse alerts check` on such a file, as a user runs it."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from hostpulse.services.alerts.prometheus_rules import load_prometheus_rules
from hostpulse.services.alerts.rules import RuleFileError
from tests.support import HOSTPULSE

GOOD_RULE = """      - alert: HostHighCpu
        expr: avg by (host) (rate(node_cpu_seconds_total{mode!="idle"}[5m])) > 0.9
        for: 10m
        keep_firing_for: 5m
        labels: {severity: critical}
        annotations:
          summary: "CPU on {{ $labels.host }} at {{ $value | humanizePercentage }}"
"""
CORPUS = {
    "alerting and recording rules": f"""groups:
  - name: node
    interval: 30s
    rules:
{GOOD_RULE}      - record: job:cpu:rate5m
        expr: sum by (job) (rate(node_cpu_seconds_total[5m]))
        labels: {{team: ops}}
""",
    "durations of several units": """groups:
  - name: g
    rules:
      - alert: DiskWillFill
        expr: predict_linear(node_filesystem_avail_bytes[6h], 86400) < 0
        for: 1h30m
""",
    "no groups at all": "groups: []\n",
    "an expression that does not parse": """groups:
  - name: g
    rules:
      - alert: Broken
        expr: sum by (host (up)
""",
    "a rule with no expression": """groups:
  - name: g
    rules:
      - alert: Empty
        for: 5m
""",
    "both alert and record": """groups:
  - name: g
    rules:
      - alert: Both
        record: both:total
        expr: up
""",
    "neither alert nor record": """groups:
  - name: g
    rules:
      - expr: up
""",
    "a recording rule named as no metric is": """groups:
  - name: g
    rules:
      - record: 1bad-name
        expr: up
""",
    "a label name Prometheus refuses": """groups:
  - name: g
    rules:
      - alert: BadLabel
        expr: up == 0
        labels: {"team-name": ops}
""",
    "a duration that is not one": """groups:
  - name: g
    rules:
      - alert: Soon
        expr: up == 0
        for: soon
""",
    "a field no rule has": """groups:
  - name: g
    rules:
      - alert: Extra
        expr: up == 0
        severity: page
""",
    "a template left open": """groups:
  - name: g
    rules:
      - alert: Open
        expr: up == 0
        annotations: {summary: "{{ $labels.host "}
""",
    "a group with no name": """groups:
  - rules:
      - alert: NoGroup
        expr: up == 0
""",
}


def promtool(path: Path) -> tuple[bool, int | None]:
    """Whether promtool accepts the file, and, when it refuses an expression, its line."""
    run = subprocess.run(["promtool", "check", "rules", str(path)], capture_output=True,
                         text=True, timeout=60, check=False)  # fmt: skip
    said = run.stdout + run.stderr
    found = re.search(rf"{re.escape(str(path))}: (\d+):\d+:.*expression", said)
    return run.returncode == 0, int(found[1]) if found else None


@pytest.mark.parametrize("text", CORPUS.values(), ids=CORPUS)
def test_a_rule_file_is_accepted_or_refused_as_promtool_does(tmp_path: Path, text: str) -> None:
    path = tmp_path / "rules.yml"
    path.write_text(text)
    accepted, line = promtool(path)

    try:
        load_prometheus_rules(text, "rules.yml")
    except RuleFileError as error:
        assert not accepted, f"promtool accepts it; hostpulse: {error}"
        if line is not None:
            assert f"line {line}:" in str(error), (line, str(error))
    else:
        assert accepted, "promtool refuses it; hostpulse accepts it"


def test_the_cli_checks_a_prometheus_rule_file_and_names_the_line(tmp_path: Path) -> None:
    good, bad = tmp_path / "good.yml", tmp_path / "bad.yml"
    good.write_text(CORPUS["alerting and recording rules"])
    bad.write_text(CORPUS["an expression that does not parse"])

    checked = subprocess.run([*HOSTPULSE, "alerts", "check", str(good)], capture_output=True,
                             text=True, timeout=120, check=False)  # fmt: skip
    refused = subprocess.run([*HOSTPULSE, "alerts", "check", str(bad)], capture_output=True,
                             text=True, timeout=120, check=False)  # fmt: skip

    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "1 groups, 1 alerting and 1 recording rules, all valid" in checked.stdout
    assert refused.returncode == 1
    assert "line 5: groups.0.rules.0.expr" in refused.stdout
    assert "could not parse expression" in refused.stdout


def test_a_template_hostpulse_cannot_fill_is_refused_with_its_line(tmp_path: Path) -> None:
    """promtool takes any Go template; hostpulse refuses, at check time, an action it would
    not fill in when the rule fires (here Prometheus' humanizeTimestamp)."""
    text = """groups:
  - name: g
    rules:
      - alert: Old
        expr: time() - node_boot_time_seconds > 86400
        annotations:
          since: "{{ $value | humanizeTimestamp }}"
"""
    path = tmp_path / "rules.yml"
    path.write_text(text)

    assert promtool(path) == (True, None)
    with pytest.raises(RuleFileError, match=r"line 7: .*humanizeTimestamp.* take "):
        load_prometheus_rules(text, "rules.yml")
