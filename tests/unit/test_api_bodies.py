"""Request bodies on the query API: bounded before they are parsed, and a refused one described,
never echoed (its input may be megabytes, or hold a bare NaN that JSON cannot carry)."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from hypothesis import given
from hypothesis import strategies as st
from pydantic import SecretStr

from api.app import create_app
from api.dependencies import get_accounts, get_agent_commands, get_agent_configs, get_alert_store
from hostpulse.core.settings import ApiSettings
from hostpulse.services.agents.config import AgentConfigs
from tests.fakes import MemoryAgentConfigStore, MemoryCommandStore
from tests.unit.test_api_admin import ADMIN, RuleStub

LIMIT = 64 * 1024
AS_ADMIN = {"Authorization": f"Bearer {ADMIN}", "Content-Type": "application/json"}
JSON = {"Content-Type": "application/json"}


class NoAccounts:
    """Sign-in must never reach the accounts with a body that was refused."""

    def __call__(self) -> None:
        raise AssertionError("the accounts were asked")


@pytest.fixture(scope="module")
def client() -> Iterator[TestClient]:
    settings = ApiSettings(
        database_url="postgresql://unused",
        redis_url="redis://unused",
        admin_token=SecretStr(ADMIN),
        public_read=True,
        max_body_bytes=LIMIT,
    )
    app = create_app(settings)
    app.dependency_overrides[get_alert_store] = RuleStub
    app.dependency_overrides[get_accounts] = NoAccounts
    app.dependency_overrides[get_agent_configs] = lambda: AgentConfigs(MemoryAgentConfigStore())
    app.dependency_overrides[get_agent_commands] = MemoryCommandStore
    with TestClient(app) as test_client:
        yield test_client


def test_a_body_over_the_bound_is_refused_before_it_is_read(client: TestClient) -> None:
    big = json.dumps({"user": "u", "password": "p" * (LIMIT + 1)})

    declared = client.post("/api/v1/session", content=big, headers=JSON)
    streamed = client.post(
        "/api/v1/session", content=iter([big[:1000].encode(), big[1000:].encode()]), headers=JSON
    )

    assert declared.status_code == 413 and "over 65536 bytes" in declared.json()["detail"]
    assert streamed.status_code == 413
    assert "content-length" not in streamed.request.headers  # sent without one, and counted
    assert client.get("/api/v1/health").status_code in (200, 503)  # the app still answers


def test_a_large_refused_body_is_not_echoed(client: TestClient) -> None:
    password = "x" * (LIMIT - 100)

    answer = client.post("/api/v1/session", json={"user": "u", "password": password, "ex": 1})

    assert answer.status_code == 422
    assert len(answer.content) < 2000
    assert "xxxxxxxx" not in answer.text


@pytest.mark.parametrize(
    ("method", "path", "body", "headers"),
    [
        ("POST", "/api/v1/session", '{"user": NaN, "password": Infinity}', JSON),
        ("POST", "/api/v1/session", "NaN", JSON),
        ("PUT", "/api/v1/alert-rules/Hot", '{"name": "Hot", "metric": "cpu.percent", '
         '"threshold": NaN}', AS_ADMIN),
        ("PUT", "/api/v1/alert-rules/Hot", '{"name": "Hot", "metric": "cpu.percent", '
         '"threshold": -Infinity, "for": NaN}', AS_ADMIN),
        ("POST", "/api/v1/agent-commands", '{"host": "db-01", "kind": NaN}', AS_ADMIN),
        ("PUT", "/api/v1/agent-config/fleet", '{"interval_s": NaN}', AS_ADMIN),
    ],
)  # fmt: skip
def test_a_bare_nan_or_infinity_is_a_422(
    client: TestClient, method: str, path: str, body: str, headers: dict[str, str]
) -> None:
    answer = client.request(method, path, content=body, headers=headers)

    assert answer.status_code == 422, answer.text
    assert all({"loc", "msg", "type"} == set(p) for p in answer.json()["detail"])


JSON_TOKENS = st.sampled_from(["NaN", "Infinity", "-Infinity", "1e999", "null", '"x"', "[]"])


@given(
    route=st.sampled_from(
        [
            ("POST", "/api/v1/session"),
            ("PUT", "/api/v1/alert-rules/Hot"),
            ("POST", "/api/v1/agent-commands"),
            ("PUT", "/api/v1/agent-config/fleet"),
        ]
    ),
    keys=st.lists(
        st.sampled_from(["user", "password", "name", "metric", "threshold", "for", "host", "kind"])
        | st.text(max_size=300),
        max_size=6,
    ),
    values=st.lists(JSON_TOKENS, min_size=6, max_size=6),
)
def test_no_body_of_json_constants_makes_a_server_error(
    client: TestClient, route: tuple[str, str], keys: list[str], values: list[str]
) -> None:
    members = ", ".join(f"{json.dumps(k)}: {v}" for k, v in zip(keys, values, strict=False))
    answer = client.request(*route, content="{" + members + "}", headers=AS_ADMIN)

    assert answer.status_code < 500, answer.text
    assert len(answer.content) < 20_000
