"""Silences: label matchers, for a while, with who and why. A silenced alert still shows, marked
so; its notifications are not sent. Alertmanager's model, for users without one."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import Field, model_validator

from hostpulse.core.contract import SAFE_TEXT
from hostpulse.core.responses import ActiveAlert, SilenceEntry
from hostpulse.services.alerts.rules import Duration, Strict
from hostpulse.services.promql.regex import anchored

LabelName = Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")]
MAX_SILENCE_S = 366 * 86400
SilenceState = Literal["pending", "active", "expired"]


class Matcher(Strict):
    """One label's condition, as Alertmanager's: equal, not equal, or a regular expression
    (RE2, anchored at both ends) that matches or does not. A missing label is empty."""

    name: LabelName = Field(description="alertname, host, severity, or a label of the rule")
    value: str = Field(max_length=1024, pattern=SAFE_TEXT)
    op: Literal["=", "!=", "=~", "!~"] = "="

    @model_validator(mode="after")
    def _regex(self) -> Matcher:
        if self.op in ("=~", "!~") and anchored(self.value) is None:
            raise ValueError(f"{self.value!r} is not a regular expression (RE2 syntax)")
        return self

    def matches(self, labels: dict[str, str]) -> bool:
        seen = labels.get(self.name, "")
        if self.op in ("=", "!="):
            return (seen == self.value) == (self.op == "=")
        pattern = anchored(self.value)
        return (pattern is not None and pattern.match(seen) is not None) == (self.op == "=~")


class SilenceRequest(Strict):
    """A silence as an operator asks for it: from ``starts_at`` (now when not given) for
    ``duration`` or until ``ends_at``."""

    matchers: list[Matcher] = Field(min_length=1, max_length=16)
    comment: str = Field(min_length=1, max_length=1024, pattern=SAFE_TEXT)
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    duration: Duration | None = Field(None, gt=0, description="e.g. 2h (30 days at most)")

    @model_validator(mode="after")
    def _span(self) -> SilenceRequest:
        if (self.duration is None) == (self.ends_at is None):
            raise ValueError("give a duration or ends_at, one of them")
        if all(m.matches({}) for m in self.matchers):
            raise ValueError("at least one matcher must not match an empty label: this one "
                             "would silence every alert")  # fmt: skip
        for moment in (self.starts_at, self.ends_at):
            if moment is not None and moment.tzinfo is None:
                raise ValueError("times need their offset, e.g. 2026-12-06T18:00:00Z")
        return self

    def span_ms(self, now_ms: int) -> tuple[int, int]:
        """Its start and end; an end before its start or now, or too far away, is refused."""
        starts = now_ms if self.starts_at is None else int(self.starts_at.timestamp() * 1000)
        starts = max(starts, now_ms)
        if self.ends_at is not None:
            ends = int(self.ends_at.timestamp() * 1000)
        else:
            assert self.duration is not None
            ends = starts + int(self.duration * 1000)
        if ends <= starts:
            raise ValueError("the silence would end before it starts")
        if ends - now_ms > MAX_SILENCE_S * 1000:
            raise ValueError(f"a silence lasts at most {MAX_SILENCE_S // 86400} days from now")
        return starts, ends


@dataclass(frozen=True)
class NewSilence:
    matchers: tuple[Matcher, ...]
    starts_ms: int
    ends_ms: int
    comment: str
    created_by: str


@dataclass(frozen=True)
class Silence:
    id: int
    matchers: tuple[Matcher, ...]
    starts_ms: int
    ends_ms: int
    comment: str
    created_by: str
    created_ms: int
    expired_ms: int | None = None  # when it stopped: its end, or an operator ending it early
    expired_by: str | None = None

    def state(self, now_ms: int) -> SilenceState:
        if self.expired_ms is not None or now_ms >= self.ends_ms:
            return "expired"
        return "pending" if now_ms < self.starts_ms else "active"

    def silences(self, labels: dict[str, str], now_ms: int) -> bool:
        return self.state(now_ms) == "active" and all(m.matches(labels) for m in self.matchers)

    def answer(self, now_ms: int) -> SilenceEntry:
        return {
            "id": self.id,
            "matchers": [{"name": m.name, "value": m.value, "op": m.op} for m in self.matchers],
            "starts_ms": self.starts_ms,
            "ends_ms": self.ends_ms,
            "comment": self.comment,
            "created_by": self.created_by,
            "created_ms": self.created_ms,
            "state": self.state(now_ms),
            "expired_ms": self.expired_ms,
            "expired_by": self.expired_by,
        }


def alert_labels(payload: dict[str, Any]) -> dict[str, str]:
    """What a silence matches in a notification: its labels (alertname, host, the rule's) and
    its severity."""
    return {"severity": str(payload.get("severity", "")), **payload.get("labels", {})}


def active_labels(alert: ActiveAlert) -> dict[str, str]:
    """The same of an active alert, as the alerts API lists it."""
    own = {"alertname": alert["rule"], "host": alert["host"]}
    return {"severity": alert.get("severity", ""), **alert.get("labels", {}), **own}


def with_silences(alerts: list[ActiveAlert], silences: list[Silence], now_ms: int) -> None:
    """Each firing alert that a silence holds now: the silences' ids, in ``silenced_by``."""
    for alert in alerts:
        if alert["state"] == "firing":
            held = silenced_by(silences, active_labels(alert), now_ms)
            if held:
                alert["silenced_by"] = held


def silenced_by(silences: list[Silence], labels: dict[str, str], now_ms: int) -> list[int]:
    return [s.id for s in silences if s.silences(labels, now_ms)]
