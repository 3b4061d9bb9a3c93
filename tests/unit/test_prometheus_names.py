"""The names table: every metric a sample carries has a Prometheus name, the mapping goes both
ways, and the README's table is the module's."""

from __future__ import annotations

import re
from pathlib import Path

from hostpulse.core.contract import metric_values
from hostpulse.core.prometheus_names import (
    BY_NAME,
    FAMILIES,
    PrometheusSeries,
    exact_series_key,
    prometheus_series,
    stored_patterns,
)
from hostpulse.simulation.host import SyntheticHost

README = Path(__file__).parents[2] / "README.md"
NAME = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")


def like(pattern: str, text: str) -> bool:
    """SQL LIKE: % any run, _ any one character, a backslash escapes the next."""
    parts, i = [], 0
    while i < len(pattern):
        c = pattern[i]
        if c == "\\":
            parts.append(re.escape(pattern[i + 1]))
            i += 2
            continue
        parts.append(".*" if c == "%" else "." if c == "_" else re.escape(c))
        i += 1
    return re.fullmatch("".join(parts), text, re.DOTALL) is not None


def test_every_metric_of_a_sample_has_a_prometheus_name_that_finds_it_again() -> None:
    sample = SyntheticHost("names-1", cores=3).sample(1_700_000_000_000)
    sample = sample.model_copy(update={"custom": {"queue": 1.0, "jobs:queue=a,kind=b": 2.0}})
    seen = set()
    for metric, _ in metric_values(sample):
        named = prometheus_series(metric)
        assert named is not None, metric
        assert NAME.match(named.name), named.name
        assert any(like(p, metric) for p in stored_patterns(named.name)), (metric, named.name)
        seen.add((named.name, tuple(sorted(named.labels.items()))))
    assert ("jobs", (("kind", "b"), ("queue", "a"))) in seen
    assert ("hostpulse_cpu_percent", (("mode", "total"),)) in seen
    assert ("hostpulse_cpu_core_percent", (("core", "2"),)) in seen


def test_a_name_of_the_table_never_reads_a_custom_series_of_another_name() -> None:
    for pattern in stored_patterns("hostpulse_load1"):
        assert not like(pattern, "load.15")
        assert not like(pattern, "custom.hostpulse_load15")
    patterns = stored_patterns("a_b")
    assert like(patterns[-2], "custom.a_b:x=1")
    assert not like(patterns[-2], "custom.aXb:x=1")  # _ is no wildcard
    assert like(patterns[-1], 'custom.a_b{x="1"}')  # written by Prometheus
    assert not any(like(p, 'custom.a_bc{x="1"}') for p in patterns)


def test_a_series_written_by_prometheus_reads_back_with_exactly_its_labels() -> None:
    labels = [("instance", 'we"b\\1\n'), ("job", "")]
    key = exact_series_key("node_load1", labels)
    assert key == 'node_load1{instance="we\\"b\\\\1\\n",job=""}'
    named = prometheus_series(f"custom.{key}")
    assert named == PrometheusSeries("node_load1", dict(labels), exact=True)
    # not that form: an ordinary custom series, hostpulse's labels added
    for broken in ('a{x="1"', "a{x=1}", 'a{x="1"y="2"}', 'a{="1"}'):
        named = prometheus_series(f"custom.{broken}")
        assert named is not None and not named.exact, broken


def test_unknown_and_malformed_metrics_have_no_name() -> None:
    assert prometheus_series("cpu.core") is None  # a per-core metric without its core
    assert prometheus_series("cpu.percent:3") is None
    assert prometheus_series("nothing.we.know") is None


def rendered() -> str:
    rows = ["| Prometheus name | labels | hostpulse metric | type, unit |", "|---|---|---|---|"]
    for name, families in BY_NAME.items():
        first = families[0]
        labels = sorted(
            {k for f in families for k, _ in f.fixed} | {f.instance for f in families if f.instance}
        )
        fixed = sorted({f"{k}={v}" for f in families for k, v in f.fixed})
        metrics = ", ".join(f"`{f.metric}{':…' if f.instance else ''}`" for f in families)
        label_text = ", ".join(f"`{k}`" for k in labels)
        if fixed and len(fixed) > 1:
            label_text += " (" + ", ".join(v.split("=", 1)[1] for v in fixed) + ")"
        unit = f"{first.type}" + (f", {first.unit}" if first.unit else "")
        rows.append(f"| `{name}` | {label_text} | {metrics} | {unit} |")
    return "\n".join(rows)


def test_the_readme_lists_the_table_as_the_module_has_it() -> None:
    text = README.read_text()
    start = text.index("<!-- names table -->") + len("<!-- names table -->\n")
    end = text.index("<!-- end of names table -->")
    assert text[start:end].strip() == rendered(), (
        "README's names table; the module's:\n" + rendered()
    )
    assert len(FAMILIES) >= 30
