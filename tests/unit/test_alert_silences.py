"""Silences: matchers as Alertmanager's, the request's checks, and what the alert service does
with a silenced alert: it still shows, its notifications are held back, what still fires is told
again when the silence ends, and a resolution of an alert told before is always told."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from hostpulse.core.responses import ActiveAlert
from hostpulse.services.alerts.rules import load_rule_set
from hostpulse.services.alerts.service import AlertService
from hostpulse.services.alerts.silences import (
    Matcher,
    NewSilence,
    SilenceRequest,
    with_silences,
)
from tests.alert_fakes import MemoryAlertStore, RecordingChannel
from tests.unit.test_alert_service import RULES, SEED, T0, batches, kinds

# Label values and patterns drawn from an alphabet whose regular expressions mean the same to
# RE2 and to Python's re, which is the reference here.
WORDS = st.text(alphabet="ab1-", max_size=4)
PATTERNS = st.lists(st.tuples(WORDS, st.booleans()), min_size=1, max_size=3).map(
    lambda parts: "|".join(re.escape(word) + (".*" if star else "") for word, star in parts)
)


@given(
    labels=st.dictionaries(st.sampled_from(["host", "alertname", "env"]), WORDS, max_size=3),
    name=st.sampled_from(["host", "alertname", "env"]),
    value=WORDS,
    pattern=PATTERNS,
    op=st.sampled_from(["=", "!=", "=~", "!~"]),
)
def test_a_matcher_means_what_alertmanagers_does(
    labels: dict[str, str], name: str, value: str, pattern: str, op: str
) -> None:
    seen = labels.get(name, "")  # a missing label is empty
    if op in ("=", "!="):
        matcher = Matcher(name=name, value=value, op=op)
        expected = (seen == value) == (op == "=")
    else:
        matcher = Matcher(name=name, value=pattern, op=op)
        expected = (re.fullmatch(f"(?:{pattern})", seen) is not None) == (op == "=~")

    assert matcher.matches(labels) == expected


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        ({"matchers": [{"name": "host", "value": "a"}], "comment": "x"}, "duration or ends_at"),
        ({"matchers": [{"name": "host", "value": ""}], "comment": "x", "duration": "1h"},
         "every alert"),
        ({"matchers": [{"name": "host", "value": ".*", "op": "=~"}], "comment": "x",
          "duration": "1h"}, "every alert"),
        ({"matchers": [{"name": "host", "value": "(", "op": "=~"}], "comment": "x",
          "duration": "1h"}, "regular expression"),
        ({"matchers": [{"name": "host-name", "value": "a"}], "comment": "x", "duration": "1h"},
         "string should match"),
        ({"matchers": [], "comment": "x", "duration": "1h"}, "at least 1"),
        ({"matchers": [{"name": "host", "value": "a"}], "comment": "", "duration": "1h"},
         "at least 1"),
        ({"matchers": [{"name": "host", "value": "a"}], "comment": "x",
          "ends_at": "2030-01-01T00:00:00"}, "offset"),
    ],
)  # fmt: skip
def test_a_silence_request_is_checked(body: dict[str, object], problem: str) -> None:
    with pytest.raises(ValidationError, match=f"(?i){problem}"):
        SilenceRequest.model_validate(body)


def test_a_silence_ends_after_it_starts_and_within_a_year() -> None:
    now = datetime(2026, 12, 6, tzinfo=UTC)
    now_ms = int(now.timestamp() * 1000)
    one = [{"name": "host", "value": "web-1"}]

    past = SilenceRequest.model_validate(
        {"matchers": one, "comment": "x", "ends_at": (now - timedelta(hours=1)).isoformat()}
    )
    far = SilenceRequest.model_validate(
        {"matchers": one, "comment": "x", "ends_at": (now + timedelta(days=400)).isoformat()}
    )
    later = SilenceRequest.model_validate(
        {"matchers": one, "comment": "x", "duration": "2h",
         "starts_at": (now + timedelta(hours=1)).isoformat()}
    )  # fmt: skip

    for refused in (past, far):
        with pytest.raises(ValueError, match=r"end|at most"):
            refused.span_ms(now_ms)
    assert later.span_ms(now_ms) == (now_ms + 3_600_000, now_ms + 3 * 3_600_000)


def rig() -> tuple[AlertService, MemoryAlertStore, RecordingChannel]:
    store = MemoryAlertStore(load_rule_set(RULES))
    channel = RecordingChannel()
    return AlertService(store, {"webhook": channel, "log": channel}), store, channel


def silence(store: MemoryAlertStore, start_ms: int, end_ms: int, **labels: str) -> int:
    matchers = tuple(Matcher(name=k, value=v) for k, v in labels.items())
    return store.add_silence(NewSilence(matchers, start_ms, end_ms, "maintenance", "ops"), 0).id


def evaluate(service: AlertService, cpu: list[float], now_ms: int) -> None:
    for batch in batches(cpu):
        service.evaluate_batch(batch, now_ms)


def test_a_silenced_alert_shows_sends_nothing_and_is_told_when_the_silence_ends() -> None:
    service, store, channel = rig()
    held = silence(store, T0, T0 + 10 * 60_000, host="web-1", alertname="HostHighCpu")
    silence(store, T0, T0 + 60 * 60_000, host="web-2")  # another host's

    for batch in batches([95.0] * 12, every_s=60):  # fires, and keeps firing for 11 minutes
        service.evaluate_batch(batch, T0 + 20_000)
    assert service.deliver_due(T0 + 20_000).suppressed == 1
    active = store.active()
    with_silences(active, store.live_silences(T0 + 20_000), T0 + 20_000)
    assert [a.get("silenced_by") for a in active] == [[held]]
    assert channel.sent == []

    outcome = service.tick(T0 + 10 * 60_000)  # its end: recorded, and the alert told now

    assert [s.expired_by for s in store.silences] == ["its end", None]
    assert (outcome.suppressed, kinds(channel)) == (0, [("reminder", "HostHighCpu")])


def test_an_alert_that_fires_and_resolves_within_a_silence_is_never_told() -> None:
    service, store, channel = rig()
    silence(store, T0, T0 + 10 * 60_000, host="web-1")

    evaluate(service, SEED, T0 + 60_000)
    assert service.deliver_due(T0 + 60_000).suppressed == 2
    service.tick(T0 + 11 * 60_000)  # the silence ends with nothing firing

    assert channel.sent == []


def test_the_resolution_of_an_alert_told_before_a_silence_is_told() -> None:
    service, store, channel = rig()
    evaluate(service, SEED[:20], T0 + 20_000)
    service.deliver_due(T0 + 20_000)  # told: firing
    silence(store, T0 + 25_000, T0 + 10 * 60_000, host="web-1")

    evaluate(service, SEED, T0 + 40_000)  # resolves within the silence
    service.deliver_due(T0 + 40_000)

    assert kinds(channel) == [("firing", "HostHighCpu"), ("resolved", "HostHighCpu")]


def test_a_pending_silence_holds_nothing_back_yet() -> None:
    service, store, channel = rig()
    silence(store, T0 + 60 * 60_000, T0 + 120 * 60_000, host="web-1")

    evaluate(service, SEED[:20], T0 + 20_000)
    service.deliver_due(T0 + 20_000)

    assert kinds(channel) == [("firing", "HostHighCpu")]
    active: list[ActiveAlert] = store.active()
    with_silences(active, store.live_silences(T0 + 20_000), T0 + 20_000)
    assert "silenced_by" not in active[0]
