"""hostpulse's own rules shown as what they are in PromQL: the expression for each kind of rule,
and every form a valid Prometheus rule that `promtool check rules` accepts (and hostpulse's own
check too). The shipped rules are among them."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from hostpulse.localcloud.settings import PROJECT_ROOT
from hostpulse.services.alerts.prometheus_rules import load_prometheus_rules
from hostpulse.services.alerts.promql_form import as_promql, rule_text
from hostpulse.services.alerts.rules import Rule, load_rule_set

CASES: dict[str, tuple[dict[str, object], str]] = {
    "cpu.percent": ({"metric": "cpu.percent", "threshold": 90},
                    'hostpulse_cpu_percent{mode="total"} > 90'),
    "a glob over instances, aggregated per host": (
        {"metric": "disk.percent:*", "aggregate": "max", "threshold": 90.5},
        "max by (host) (hostpulse_filesystem_used_percent) > 90.5"),
    "one instance": ({"metric": "disk.percent:/var", "op": ">=", "threshold": 95},
                     'hostpulse_filesystem_used_percent{mount="/var"} >= 95'),
    "a partial glob": ({"metric": "net.rx_bytes_per_s:eth*", "aggregate": "sum",
                        "threshold": 1e9},
                       'sum by (host) (hostpulse_network_receive_bytes_per_second'
                       '{interface=~"eth.*"}) > 1e+09'),
    "hosts by name and label": (
        {"metric": "load.1", "threshold": 8, "op": "<",
         "hosts": {"names": ["web-*", "db-1"], "labels": {"env": "prod"}}},
        'hostpulse_load1{host=~"web\\\\-.*|db\\\\-1",env="prod"} < 8'),
    "a sender's own series": ({"metric": "custom.queue_depth", "threshold": 100},
                              "queue_depth{} > 100"),
    "a silent host": ({"absent_for": 120},
                      "time() - max by (host) (timestamp(hostpulse_uptime_seconds)) > 120"),
}  # fmt: skip


def rule(spec: dict[str, object]) -> Rule:
    return Rule.model_validate({"name": "R", **spec})


@pytest.mark.parametrize(("spec", "expr"), CASES.values(), ids=CASES)
def test_each_kind_of_rule_has_its_promql(spec: dict[str, object], expr: str) -> None:
    assert as_promql(rule(spec)).expr == expr


def test_a_process_rule_has_no_promql_and_says_why() -> None:
    form = as_promql(rule({"metric": "process.cpu_percent", "process": "pg*", "threshold": 80}))

    assert form.expr is None and "process" in form.why_not


def test_every_form_is_a_rule_promtool_accepts(tmp_path: Path) -> None:
    shipped = load_rule_set((PROJECT_ROOT / "stack" / "alert-rules.yaml").read_text()).rules
    ours = [Rule.model_validate({**spec, "name": f"R{i}", "for": 90, "keep_firing_for": 0.25,
                                 "labels": {"team": "a: b"}})
            for i, (spec, _) in enumerate(CASES.values())]  # fmt: skip
    texts = [text for r in [*shipped, *ours] if (text := rule_text(r)) is not None]
    body = "groups:\n  - name: hostpulse\n    rules:\n" + "".join(
        "".join(f"      {line}\n" for line in text.splitlines()) for text in texts
    )
    path = tmp_path / "rules.yml"
    path.write_text(body)

    run = subprocess.run(["promtool", "check", "rules", str(path)], capture_output=True,
                         text=True, timeout=60, check=False)  # fmt: skip

    assert run.returncode == 0, body + run.stdout + run.stderr
    assert f"{len(texts)} rules found" in run.stdout + run.stderr
    assert len(load_prometheus_rules(body).alerting) == len(texts) >= len(CASES) + 4
    assert "for: 90s" in body and "keep_firing_for: 250ms" in body and "team: 'a: b'" in body
