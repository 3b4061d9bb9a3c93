"""Health of the platform: every dependency answers, or the answer says which does not."""

from __future__ import annotations

from collections.abc import Iterable

from hostpulse.core.responses import ComponentHealth, HealthAnswer, StoreState
from hostpulse.services.self_monitoring.ports import Probe


def check_health(probes: Iterable[Probe]) -> tuple[bool, HealthAnswer]:
    """Every probe's answer under ``components``; the stores also as the seed platform's
    health answer names them (``"redis": "connected"``), so its dashboard reads them too."""
    components: dict[str, ComponentHealth] = {}
    for probe in probes:
        healthy, detail = probe.check()
        components[probe.name] = {"healthy": healthy, "detail": detail}
    overall = all(c["healthy"] for c in components.values())
    answer: HealthAnswer = {"status": "ok" if overall else "degraded", "components": components}
    if "redis" in components:
        answer["redis"] = store_state(components["redis"])
    if "postgres" in components:
        answer["postgres"] = store_state(components["postgres"])
    return overall, answer


def store_state(component: ComponentHealth) -> StoreState:
    return "connected" if component["healthy"] else "disconnected"
