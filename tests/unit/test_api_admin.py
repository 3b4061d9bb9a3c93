"""Who may change alert rules through the API: the admin token, in a header, and nobody else."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from api.app import create_app
from api.dependencies import get_alert_store
from hostpulse.core.settings import ApiSettings
from hostpulse.services.alerts.rules import Rule, RuleSet

READ = "read-token-for-shared-links"
ADMIN = "admin-token-for-operators-only"
RULE = {"name": "Hot", "metric": "cpu.percent", "threshold": 90, "for": "10s"}


@dataclass
class RuleStub:
    rules: dict[str, Rule] = field(default_factory=dict)

    def rule_set(self) -> RuleSet:
        return RuleSet(rules=list(self.rules.values()))

    def rules_with_source(self) -> list[dict[str, Any]]:
        return [{"rule": r.model_dump(mode="json"), "source": "api"} for r in self.rules.values()]

    def put_rule(self, rule: Rule) -> None:
        self.rules[rule.name] = rule

    def delete_rule(self, name: str) -> bool:
        return self.rules.pop(name, None) is not None

    def last_seen(self) -> dict[str, tuple[int, dict[str, str]]]:
        return {}

    def hosts_with_open_episodes(self) -> list[str]:
        return []  # the resolving itself is the alert service's test


def client_with(
    admin: str | None, read: str | None = READ
) -> Iterator[tuple[TestClient, RuleStub]]:
    settings = ApiSettings(
        database_url="postgresql://unused",
        redis_url="redis://unused",
        read_token=SecretStr(read) if read else None,
        admin_token=SecretStr(admin) if admin else None,
    )
    app = create_app(settings)
    store = RuleStub()
    app.dependency_overrides[get_alert_store] = lambda: store
    with TestClient(app) as client:
        yield client, store


@pytest.fixture
def api() -> Iterator[tuple[TestClient, RuleStub]]:
    yield from client_with(ADMIN)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_the_admin_token_in_a_header_changes_rules(api: tuple[TestClient, RuleStub]) -> None:
    client, store = api
    assert (
        client.put("/api/v1/alert-rules/Hot", json=RULE, headers=bearer(ADMIN)).status_code == 201
    )
    assert "Hot" in store.rules
    assert client.delete("/api/v1/alert-rules/Hot", headers=bearer(ADMIN)).status_code == 204


@pytest.mark.parametrize(
    ("headers", "query", "status"),
    [
        ({}, "", 401),  # no credential at all
        (bearer(READ), "", 403),  # the read token reads, never writes
        ({}, f"?token={READ}", 401),  # nor as a URL parameter
        ({}, f"?token={ADMIN}", 401),  # the admin token never travels in a URL
        (bearer("x" * 30), "", 403),
    ],
)
def test_anything_but_the_admin_header_is_refused_and_changes_nothing(
    api: tuple[TestClient, RuleStub], headers: dict[str, str], query: str, status: int
) -> None:
    client, store = api
    store.put_rule(Rule.model_validate({**RULE, "name": "Kept"}))

    put = client.put(f"/api/v1/alert-rules/Hot{query}", json=RULE, headers=headers)
    delete = client.delete(f"/api/v1/alert-rules/Kept{query}", headers=headers)

    assert (put.status_code, delete.status_code) == (status, status)
    assert list(store.rules) == ["Kept"]


def test_without_an_admin_token_configured_nobody_administers() -> None:
    for client, store in client_with(admin=None, read=None):
        response = client.put("/api/v1/alert-rules/Hot", json=RULE, headers=bearer(ADMIN))
        assert response.status_code == 403
        assert "HOSTPULSE_ADMIN_TOKEN" in response.json()["detail"]
        assert store.rules == {}


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"threshold": "NaN"}, "threshold"),
        ({"threshold": 1e300}, "threshold"),
        ({"for": 1e308}, "for"),
        ({"for": "999999d"}, "for"),
        ({"keep_firing_for": -1}, "keep_firing_for"),
        ({"repeat_interval": 0}, "repeat_interval"),
        ({"hosts": {"names": ["web-*"] * 101}}, "names"),
        ({"labels": {f"k{i}": "v" for i in range(33)}}, "labels"),
        ({"annotations": {"summary": "x" * 2000}}, "summary"),
        ({"metric": "cpu\x00percent"}, "metric"),
    ],
)
def test_a_rule_out_of_bounds_is_a_422_naming_the_field(
    api: tuple[TestClient, RuleStub], change: dict[str, Any], field: str
) -> None:
    client, store = api
    body = {**RULE, **change}
    response = client.put(
        "/api/v1/alert-rules/Hot",
        content=json.dumps(body),
        headers={**bearer(ADMIN), "Content-Type": "application/json"},
    )
    assert response.status_code == 422, response.text
    assert field in response.text
    assert store.rules == {}
