"""Health of the platform: every dependency answers, or the answer says which does not."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

from hostpulse.answers import ComponentHealth, HealthAnswer


class Probe(Protocol):
    name: str

    def check(self) -> tuple[bool, str]: ...


def check_health(probes: Iterable[Probe]) -> tuple[bool, HealthAnswer]:
    components: dict[str, ComponentHealth] = {}
    for probe in probes:
        healthy, detail = probe.check()
        components[probe.name] = {"healthy": healthy, "detail": detail}
    overall = all(c["healthy"] for c in components.values())
    return overall, {"status": "ok" if overall else "degraded", "components": components}
