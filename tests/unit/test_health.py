from __future__ import annotations

from dataclasses import dataclass

from hostpulse.services.self_monitoring.health import check_health


@dataclass
class FixedProbe:
    name: str
    healthy: bool
    detail: str = "ok"

    def check(self) -> tuple[bool, str]:
        return self.healthy, self.detail


def test_all_probes_healthy_is_ok() -> None:
    healthy, body = check_health([FixedProbe("postgres", True), FixedProbe("redis", True)])

    assert healthy is True
    assert body["status"] == "ok"


def test_one_failing_probe_degrades_and_is_named() -> None:
    healthy, body = check_health(
        [FixedProbe("postgres", True), FixedProbe("redis", False, "ConnectionError")]
    )

    assert healthy is False
    assert body["status"] == "degraded"
    assert body["components"]["redis"] == {"healthy": False, "detail": "ConnectionError"}
