"""The central agent configuration through the API: read with the read credential, changed
with the admin one (token, or a user signed in as an admin), every change recorded with who."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from api.app import create_app
from api.dependencies import get_accounts, get_agent_commands, get_agent_configs
from hostpulse.core.settings import ApiSettings
from hostpulse.services.accounts.service import Accounts, Role
from hostpulse.services.agents.config import AgentConfigs
from tests.fakes import (
    MemoryAccountStore,
    MemoryAgentConfigStore,
    MemoryAuthThrottle,
    MemoryCommandStore,
)

PASSWORD = "correct horse battery staple"
ADMIN = {"Authorization": "Bearer the-admin-token-of-tests"}
READ = {"Authorization": "Bearer the-read-token-of-tests"}


@pytest.fixture
def client() -> Iterator[TestClient]:
    settings = ApiSettings(
        database_url="postgresql://unused",
        redis_url="redis://unused",
        read_token=SecretStr("the-read-token-of-tests"),
        admin_token=SecretStr("the-admin-token-of-tests"),
    )
    accounts = Accounts(MemoryAccountStore(), timedelta(hours=1), MemoryAuthThrottle(limit=5))
    accounts.add_user("ada", PASSWORD, Role.ADMIN)
    accounts.add_user("otto", PASSWORD, Role.OPERATOR)
    configs = AgentConfigs(MemoryAgentConfigStore())
    app = create_app(settings)
    app.dependency_overrides[get_accounts] = lambda: lambda: accounts
    app.dependency_overrides[get_agent_configs] = lambda: configs
    commands = MemoryCommandStore()
    app.dependency_overrides[get_agent_commands] = lambda: commands
    with TestClient(app, base_url="https://hostpulse.test") as client:
        yield client


def test_the_admin_token_sets_and_readers_read_what_a_host_should_run(client: TestClient) -> None:
    put = client.put(
        "/api/v1/agent-config/label:role=db", json={"top_n": 20, "groups": ["cpu"]}, headers=ADMIN
    )
    client.put("/api/v1/agent-config/host:db-01", json={"interval_s": "2"}, headers=ADMIN)

    assert put.status_code == 200
    assert put.json()["settings"] == {"top_n": 20, "groups": ["cpu"]}
    assert put.json()["changed_by"] == "the admin token"
    wanted = client.get(
        "/api/v1/agent-config/desired", params={"host": "db-01", "label": "role=db"}, headers=READ
    )
    assert wanted.json() == {
        "config_version": 2,
        "settings": {"top_n": 20, "groups": ["cpu"], "interval_s": 2.0},
    }
    scopes = [
        c["scope"] for c in client.get("/api/v1/agent-config", headers=READ).json()["changes"]
    ]
    assert sorted(scopes) == ["host:db-01", "label:role=db"]


def test_a_setting_the_agent_would_refuse_is_refused_and_nothing_changes(
    client: TestClient,
) -> None:
    refused = client.put("/api/v1/agent-config/all", json={"interval_s": 0}, headers=ADMIN)
    unknown = client.put("/api/v1/agent-config/all", json={"token": "x"}, headers=ADMIN)
    bad_scope = client.put("/api/v1/agent-config/everyone", json={"top_n": 1}, headers=ADMIN)

    assert refused.status_code == 422 and "interval_s: must be a number" in refused.text
    assert unknown.status_code == 422 and "unknown key 'token'" in unknown.text
    assert bad_scope.status_code == 422 and "is not a scope" in bad_scope.text
    assert client.get("/api/v1/agent-config/history", headers=READ).json() == {"changes": []}


def test_changing_needs_the_admin_credential_not_the_read_one_or_an_operator(
    client: TestClient,
) -> None:
    assert (
        client.put("/api/v1/agent-config/all", json={"top_n": 1}, headers=READ).status_code == 403
    )
    assert client.put("/api/v1/agent-config/all", json={"top_n": 1}).status_code == 401
    signed = client.post("/api/v1/session", json={"user": "otto", "password": PASSWORD})
    csrf = {"X-CSRF-Token": signed.json()["csrf"]}

    refused = client.put("/api/v1/agent-config/all", json={"top_n": 1}, headers=csrf)

    assert refused.status_code == 403 and "operator" in refused.json()["detail"]


def test_an_admin_signed_in_changes_it_under_their_name(client: TestClient) -> None:
    signed = client.post("/api/v1/session", json={"user": "ada", "password": PASSWORD})
    csrf = {"X-CSRF-Token": signed.json()["csrf"]}
    client.put("/api/v1/agent-config/all", json={"top_n": 3, "interval_s": 5}, headers=csrf)

    removed = client.delete("/api/v1/agent-config/all", params={"key": "top_n"}, headers=csrf)

    assert removed.status_code == 200 and removed.json()["settings"] == {"interval_s": 5.0}
    history = client.get("/api/v1/agent-config/history", params={"scope": "all"}).json()
    assert [(c["version"], c["changed_by"]) for c in history["changes"]] == [
        (2, "user ada"),
        (1, "user ada"),
    ]
    assert client.delete("/api/v1/agent-config/all", headers={}).status_code == 403, "no CSRF"


def test_commands_are_issued_with_the_admin_credential_and_listed_with_answers(
    client: TestClient,
) -> None:
    order = {"host": "db-01", "kind": "diagnostics"}
    issued = client.post("/api/v1/agent-commands", json=order, headers=ADMIN)
    refused = client.post("/api/v1/agent-commands", json=order, headers=READ)
    unknown = client.post("/api/v1/agent-commands", json={**order, "kind": "reboot"}, headers=ADMIN)

    assert issued.status_code == 201 and issued.json()["issued_by"] == "the admin token"
    assert refused.status_code == 403 and unknown.status_code == 422
    listed = client.get("/api/v1/agent-commands", params={"host": "db-01"}, headers=READ).json()
    assert [(c["kind"], c["acked_at_ms"]) for c in listed["commands"]] == [("diagnostics", None)]
