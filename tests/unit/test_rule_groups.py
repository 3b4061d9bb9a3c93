"""Prometheus rule groups run by the alerts schedule, on in-memory storage and a scripted query:
which steps a run evaluates, what it tells (once), what recording rules store and refuse,
what survives a reload, and what a run that fails or runs long leaves."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hostpulse.services.alerts.group_listing import rules_listing
from hostpulse.services.alerts.prometheus_rules import load_prometheus_rules
from hostpulse.services.alerts.rule_groups import (
    MAX_STEPS,
    GroupState,
    RuleGroupRunner,
    due_steps,
    replace_rule_groups,
)
from hostpulse.services.alerts.rules import Notifier, RuleFileError, RuleSet
from hostpulse.services.promql.model import PromQLError
from tests.alert_fakes import MemoryRecorder, MemoryRuleGroups, RecordingChannel, ScriptedQuery

MINUTE = 60_000
T0 = 1_700_000_000_000 - 1_700_000_000_000 % 3_600_000  # a whole hour


def rule_file(rules: str, interval: str = "1m", name: str = "hosts") -> Any:
    return load_prometheus_rules(
        f"groups:\n- name: {name}\n  interval: {interval}\n  rules:\n{rules}"
    )


HOT = """\
  - alert: HostHot
    expr: cpu > 90
    for: 2m
    labels: {severity: critical}
    annotations: {summary: "{{ $labels.host }} at {{ $value }}"}
"""
WEB1 = {"__name__": "cpu", "host": "web-1", "env": "prod"}


def runner_of(
    groups: MemoryRuleGroups,
    query: ScriptedQuery,
    notifiers: list[Notifier] | None = None,
    channel: RecordingChannel | None = None,
    recorder: MemoryRecorder | None = None,
) -> RuleGroupRunner:
    rule_set = RuleSet(notifiers=notifiers or [])
    return RuleGroupRunner(
        groups,
        query,
        recorder or MemoryRecorder(),
        {"alertmanager": channel or RecordingChannel()},
        lambda: rule_set,
    )


# -- which steps ------------------------------------------------------------------------------


def test_a_new_group_starts_at_the_newest_step_then_catches_up_every_step() -> None:
    assert due_steps(None, T0 + 61_000, 15_000) == [T0 + 60_000]
    assert due_steps(T0 + 60_000, T0 + 121_000, 15_000) == [
        T0 + 75_000, T0 + 90_000, T0 + 105_000, T0 + 120_000,
    ]  # fmt: skip
    assert due_steps(T0 + 120_000, T0 + 134_999, 15_000) == []


@given(
    evaluated=st.integers(0, 10**7),
    ahead=st.integers(0, 10**7),
    interval=st.sampled_from([1_000, 15_000, 60_000, 300_000]),
)
def test_steps_lie_on_the_grid_after_the_last_evaluation_and_are_bounded(
    evaluated: int, ahead: int, interval: int
) -> None:
    evaluated -= evaluated % interval
    now = T0 + evaluated + ahead
    steps = due_steps(T0 + evaluated, now, interval)
    assert len(steps) <= MAX_STEPS
    assert all(step % interval == 0 and T0 + evaluated < step <= now for step in steps)
    assert steps == sorted(set(steps))
    if ahead >= interval:
        assert steps and steps[-1] > now - interval  # the newest due step is never skipped


# -- alerts -----------------------------------------------------------------------------------


def test_an_alert_pends_fires_and_resolves_once_each_with_its_labels() -> None:
    groups = MemoryRuleGroups()
    replace_rule_groups(groups, rule_file(HOT), (), T0)
    query = ScriptedQuery({"cpu > 90": {T0: [(WEB1, 95.0)], T0 + 4 * MINUTE: []}})
    runner = runner_of(groups, query)
    for minute in range(7):
        runner.run(T0 + minute * MINUTE + 5_000)
        runner.run(T0 + minute * MINUTE + 6_000)  # a second run in the same step: no-op

    assert [at for _, at in query.asked] == [T0 + m * MINUTE for m in range(7)]
    [episode] = groups.episodes
    assert episode.key.rule == "HostHot" and episode.key.host == "web-1"
    assert episode.fired.labels == {"alertname": "HostHot", "host": "web-1", "env": "prod",
                                    "severity": "critical"}  # fmt: skip
    assert (episode.fired.started_ms, episode.fired.fired_ms) == (T0, T0 + 2 * MINUTE)
    assert episode.resolved_ms == T0 + 4 * MINUTE
    assert [(e.state, e.ts_ms) for _, e in groups.events] == [
        ("pending", T0), ("firing", T0 + 2 * MINUTE), ("resolved", T0 + 4 * MINUTE)
    ]  # fmt: skip
    assert [(n.kind, n.targets) for n in groups.outbox] == [
        ("firing", ("log",)), ("resolved", ("log",))
    ]  # fmt: skip
    firing = groups.outbox[0].payload
    assert firing["summary"] == "web-1 at 95" and firing["severity"] == "critical"
    assert firing["labels"]["alertname"] == "HostHot"


def test_a_late_run_tells_an_alert_that_fired_and_resolved_between_two_runs() -> None:
    groups = MemoryRuleGroups()
    replace_rule_groups(groups, rule_file(HOT, interval="15s"), (), T0)
    query = ScriptedQuery({"cpu > 90": {T0: [(WEB1, 95.0)], T0 + 45_000: []}})
    runner = runner_of(groups, query)
    runner.run(T0)
    runner.run(T0 + 4 * MINUTE)  # 16 steps in one run

    assert [(e.state, e.ts_ms) for _, e in groups.events] == [("pending", T0)]
    assert not groups.episodes  # it went away before `for` had passed: never fired

    long = MemoryRuleGroups()
    replace_rule_groups(long, rule_file(HOT, interval="15s"), (), T0)
    query = ScriptedQuery({"cpu > 90": {T0: [(WEB1, 95.0)], T0 + 3 * MINUTE: []}})
    runner = runner_of(long, query)
    runner.run(T0)
    runner.run(T0 + 4 * MINUTE)
    assert [(e.state, e.ts_ms) for _, e in long.events] == [
        ("pending", T0), ("firing", T0 + 2 * MINUTE), ("resolved", T0 + 3 * MINUTE)
    ]  # fmt: skip
    assert [n.kind for n in long.outbox] == ["firing", "resolved"]


def test_alerts_go_to_every_alertmanager_when_no_notifier_is_named_and_are_resent() -> None:
    pair = Notifier(name="pager", type="alertmanager", urls=["http://127.0.0.1:1/"])
    channel = RecordingChannel()
    groups = MemoryRuleGroups()
    replace_rule_groups(groups, rule_file(HOT.replace("for: 2m", "for: 0s")), (), T0)
    runner = runner_of(groups, ScriptedQuery({"cpu > 90": {T0: [(WEB1, 99.0)]}}), [pair],
                       channel)  # fmt: skip
    runner.run(T0)
    runner.run(T0 + MINUTE)

    assert [(n.kind, n.targets) for n in groups.outbox] == [("firing", ("pager",))]
    assert [name for name, _ in channel.sent] == ["pager", "pager"]  # every run, as Prometheus
    assert channel.sent[0][1]["labels"]["severity"] == "critical"


def test_a_failing_expression_marks_its_rule_and_keeps_its_alerts() -> None:
    groups = MemoryRuleGroups()
    replace_rule_groups(groups, rule_file(HOT), (), T0)
    query = ScriptedQuery({"cpu > 90": {
        T0: [(WEB1, 95.0)], T0 + MINUTE: PromQLError("query timed out", "timeout"),
        T0 + 2 * MINUTE: [(WEB1, 96.0)],
    }})  # fmt: skip
    runner = runner_of(groups, query)
    runner.run(T0)
    runner.run(T0 + MINUTE)
    [rule] = rules_listing(groups.stored_groups())["groups"][0]["rules"]
    assert (rule["health"], rule["lastError"]) == ("err", "query timed out")
    assert rule["state"] == "pending"  # kept through the failed evaluation, as Prometheus does

    runner.run(T0 + 2 * MINUTE)
    [rule] = rules_listing(groups.stored_groups())["groups"][0]["rules"]
    assert (rule["health"], rule["state"]) == ("ok", "firing")
    assert "lastError" not in rule


def test_two_results_with_one_label_set_fail_the_rule() -> None:
    groups = MemoryRuleGroups()
    replace_rule_groups(groups, rule_file(HOT), (), T0)
    twice = [({"host": "a", "x": "1"}, 95.0), ({"host": "a", "x": "2"}, 96.0)]
    text = HOT.replace("labels: {severity: critical}", "labels: {x: same}")
    replace_rule_groups(groups, rule_file(text), (), T0)
    runner_of(groups, ScriptedQuery({"cpu > 90": {T0: twice}})).run(T0)
    [rule] = rules_listing(groups.stored_groups())["groups"][0]["rules"]
    assert rule["health"] == "err" and "same labelset" in rule["lastError"]


def test_past_the_limit_a_rule_keeps_no_alert() -> None:
    text = "groups:\n- name: g\n  limit: 1\n  rules:\n" + HOT
    groups = MemoryRuleGroups()
    replace_rule_groups(groups, load_prometheus_rules(text), (), T0)
    many = [({"host": f"web-{i}"}, 95.0) for i in range(3)]
    runner_of(groups, ScriptedQuery({"cpu > 90": {T0: many}})).run(T0)
    [rule] = rules_listing(groups.stored_groups())["groups"][0]["rules"]
    assert rule["lastError"] == "exceeded limit of 1 with 3 alerts"
    assert rule["alerts"] == []


def test_a_reload_keeps_what_pends_and_a_group_taken_out_resolves_what_it_fired() -> None:
    groups = MemoryRuleGroups()
    replace_rule_groups(groups, rule_file(HOT), (), T0)
    query = ScriptedQuery({"cpu > 90": {T0: [(WEB1, 95.0)]}})
    runner = runner_of(groups, query)
    runner.run(T0)
    runner.run(T0 + MINUTE)
    replace_rule_groups(groups, rule_file(HOT), (), T0 + MINUTE)  # the same file again
    runner.run(T0 + 2 * MINUTE)
    [episode] = groups.episodes
    assert episode.fired.started_ms == T0  # pending since the first run, through the reload

    removed = replace_rule_groups(groups, rule_file(HOT, name="other"), (), T0 + 3 * MINUTE)
    assert removed == ["hosts"]
    assert episode.resolved_ms == T0 + 3 * MINUTE
    assert [n.kind for n in groups.outbox] == ["firing", "resolved"]
    assert groups.outbox[-1].payload["labels"]["host"] == "web-1"
    assert groups.group_names() == ["other"]


def test_a_group_another_run_holds_is_passed_by_and_a_long_run_leaves_steps_for_the_next() -> None:
    groups = MemoryRuleGroups()
    replace_rule_groups(groups, rule_file(HOT, interval="15s"), (), T0)
    query = ScriptedQuery({"cpu > 90": {T0: [(WEB1, 95.0)]}})
    groups.busy.add("hosts")
    runner = runner_of(groups, query)
    runner.run(T0)
    assert query.asked == []
    groups.busy.clear()
    runner.run(T0)

    ticks = iter([0.0, 0.0, 10.0, 30.0, 30.0, 30.0])  # the budget runs out after two steps
    runner.clock = lambda: next(ticks)
    runner.run(T0 + MINUTE)
    assert [at for _, at in query.asked] == [T0, T0 + 15_000, T0 + 30_000]
    assert groups.groups["hosts"].evaluated_ms == T0 + 30_000


# -- recording rules --------------------------------------------------------------------------

RECORD = """\
  - record: host:cpu:avg
    expr: avg by (host) (cpu)
    labels: {source: rules}
"""


def test_recorded_results_are_stored_under_their_host_with_exactly_their_labels() -> None:
    groups = MemoryRuleGroups()
    recorder = MemoryRecorder()
    replace_rule_groups(groups, rule_file(RECORD), (), T0)
    query = ScriptedQuery({"avg by (host) (cpu)": {T0: [
        ({"host": "web-1"}, 42.5), ({"instance": "db-1:9100"}, 7.0),
    ]}})  # fmt: skip
    runner_of(groups, query, recorder=recorder).run(T0)

    stored = {b.host.hostname: b.samples[0] for b in recorder.batches}
    assert stored["web-1"].custom == {'host:cpu:avg{host="web-1",source="rules"}': 42.5}
    assert stored["db-1"].custom == {'host:cpu:avg{instance="db-1:9100",source="rules"}': 7.0}
    assert {s.ts_ms for s in stored.values()} == {T0}
    [rule] = rules_listing(groups.stored_groups())["groups"][0]["rules"]
    assert (rule["type"], rule["health"]) == ("recording", "ok")


def test_a_result_without_a_host_is_not_stored_and_says_why() -> None:
    groups = MemoryRuleGroups()
    recorder = MemoryRecorder()
    replace_rule_groups(groups, rule_file(RECORD), (), T0)
    query = ScriptedQuery({"avg by (host) (cpu)": {T0: [({}, 1.0), ({"host": "a"}, 2.0)]}})
    runner_of(groups, query, recorder=recorder).run(T0)

    assert [b.host.hostname for b in recorder.batches] == ["a"]  # the rest still stored
    [rule] = rules_listing(groups.stored_groups())["groups"][0]["rules"]
    assert rule["health"] == "err" and "no host or instance label" in rule["lastError"]


# -- state between runs -----------------------------------------------------------------------


@given(value=st.floats(allow_nan=True, allow_infinity=True))
def test_an_alert_survives_storage_with_any_value(value: float) -> None:
    groups = MemoryRuleGroups()
    replace_rule_groups(groups, rule_file(HOT), (), T0)
    runner_of(groups, ScriptedQuery({"cpu > 90": {T0: [(WEB1, value)]}})).run(T0)
    stored = groups.stored_groups()[0]
    [alert] = GroupState.of(stored.group, stored.state).alerts["HostHot#0"].active.values()
    assert alert.value == value or (math.isnan(value) and math.isnan(alert.value))


def test_the_listing_is_prometheus_rules_api_shape() -> None:
    groups = MemoryRuleGroups()
    replace_rule_groups(groups, rule_file(HOT + RECORD), (), T0)
    runner_of(groups, ScriptedQuery({"cpu > 90": {T0: [(WEB1, 95.0)]}})).run(T0)
    [group] = rules_listing(groups.stored_groups())["groups"]
    assert (group["name"], group["interval"], group["lastEvaluation"]) == (
        "hosts", 60.0, "2023-11-14T22:00:00Z"
    )  # fmt: skip
    alerting, recording = group["rules"]
    assert alerting["type"] == "alerting" and alerting["duration"] == 120.0
    assert alerting["alerts"][0]["activeAt"] == "2023-11-14T22:00:00Z"
    assert alerting["alerts"][0]["value"] == "95" and alerting["state"] == "pending"
    assert recording["type"] == "recording" and recording["query"] == "avg by (host) (cpu)"
    only = rules_listing(groups.stored_groups(), "record")["groups"][0]["rules"]
    assert [r["type"] for r in only] == ["recording"]


@pytest.mark.parametrize("interval", ["15s", "1m", "5m"])
def test_the_listing_before_a_first_run_says_never(interval: str) -> None:
    groups = MemoryRuleGroups()
    replace_rule_groups(groups, rule_file(HOT, interval=interval), (), T0)
    [group] = rules_listing(groups.stored_groups())["groups"]
    assert group["lastEvaluation"] == "0001-01-01T00:00:00Z"
    assert group["rules"][0]["health"] == "unknown"


# -- what an operator's PUT may carry ---------------------------------------------------------

KEYS = st.sampled_from(["groups", "name", "rules", "alert", "record", "expr", "for", "labels",
                        "annotations", "interval", "limit", "keep_firing_for", "x"])  # fmt: skip
JSON = st.recursive(
    st.none() | st.booleans() | st.floats() | st.integers() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(KEYS, inner, max_size=5),
    max_leaves=30,
)


@given(data=JSON)
def test_any_body_loads_or_is_refused_with_a_reason(data: object) -> None:
    try:
        loaded = load_prometheus_rules(json.dumps(data))
    except RuleFileError as error:
        assert str(error).startswith("rules: ")
    else:
        assert isinstance(data, dict) and "groups" in data
        assert len(loaded.groups) == len(data["groups"])


@given(text=st.text(max_size=300))
def test_any_text_loads_or_is_refused_with_a_reason(text: str) -> None:
    try:
        load_prometheus_rules(text)
    except RuleFileError as error:
        assert str(error).startswith("rules: ")


@pytest.mark.parametrize("text", ["[" * 100_000, "groups: [" + "{" * 5_000, "a: &a [*a]"])
def test_text_nested_past_reading_is_refused(text: str) -> None:
    with pytest.raises(RuleFileError):
        load_prometheus_rules(text)
