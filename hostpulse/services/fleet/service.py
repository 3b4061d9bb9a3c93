"""The fleet's hosts as they come and go. A retired host (by hand, or once down longer than
``retire_after``) leaves the fleet page and raises no HostSilent, keeps its history until the
tiers' retention takes it (then it is forgotten), and comes back by itself when it sends again.
A forgotten host is gone from every tier and from the hot tier. The hot tier keeps the live
fleet only: a host it has not seen for as long as it keeps a silent host's figures loses its
entries there."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from hostpulse.services.fleet.ports import HostRegistry, HotTier, KnownHost, ResolveAlerts

log = logging.getLogger(__name__)
SWEEP_LIMIT = 10_000  # hot-tier entries one tidy looks at; the next takes the rest
SILENCE = "its silence"  # who retired a host down too long, for the record


@dataclass
class Tidied:
    retired: list[str] = field(default_factory=list)
    forgotten: list[str] = field(default_factory=list)
    swept: int = 0


@dataclass
class FleetLifecycle:
    registry: HostRegistry
    hot: HotTier
    resolve_alerts: ResolveAlerts
    retire_after_ms: int
    history_ms: int  # the longest a tier keeps anything: a retired host older has nothing left
    hot_keep_ms: int  # how long the hot tier keeps a silent host's figures

    def retire(self, host: str, by: str, now_ms: int) -> KnownHost | None:
        """The host retired now (kept as it is when retired already); None: no such host."""
        known = self.registry.known(host)
        if known is None:
            return None
        if known.retired_ms is None and self.registry.retire(host, by, now_ms):
            self._left(host, now_ms)
        return self.registry.known(host)

    def forget(self, host: str, now_ms: int) -> bool:
        """Whether there was such a host; either way nothing of it is left."""
        found = self.registry.forget(host)
        self._left(host, now_ms)
        return found

    def tidy(self, now_ms: int) -> Tidied:
        """The schedule's part: retire the hosts down too long, forget the retired ones whose
        history every tier has outlived, and keep the hot tier to the live fleet."""
        tidied = Tidied()
        for host in self.registry.silent_since(now_ms - self.retire_after_ms):
            if self.registry.retire(host, SILENCE, now_ms):
                self._left(host, now_ms)
                tidied.retired.append(host)
        for host in self.registry.retired_before(now_ms - self.history_ms):
            if self.registry.forget(host):
                tidied.forgotten.append(host)
        before_ms = now_ms - self.hot_keep_ms
        for host in self.hot.unseen_since(before_ms, SWEEP_LIMIT):
            tidied.swept += self.hot.forget_if_unseen(host, before_ms)
        log.info("fleet tidied", extra={"retired": tidied.retired, "forgotten": tidied.forgotten,
                                        "swept": tidied.swept})  # fmt: skip
        return tidied

    def _left(self, host: str, now_ms: int) -> None:
        """A host out of the fleet: what it still fires resolves, its hot-tier keys go."""
        self.resolve_alerts(host, now_ms)
        self.hot.forget(host)
