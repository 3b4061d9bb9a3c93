"""Sign-in through the API: the session cookie, what each role may do, CSRF on writes."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr
from starlette.websockets import WebSocketDisconnect

from api.app import create_app
from api.dependencies import (
    SESSION_COOKIE,
    SIGN_IN_ENDED,
    get_accounts,
    get_alert_store,
    get_live_hub,
    get_now,
)
from hostpulse.core.settings import ApiSettings
from hostpulse.services.accounts.service import Accounts, Role, Session
from hostpulse.services.query.live import LiveHub
from tests.fakes import MemoryAccountStore, MemoryAuthThrottle
from tests.unit.test_api_admin import RULE, RuleStub
from tests.unit.test_live import MemorySource

PASSWORD = "correct horse battery staple"
STATIC_SITE = "https://dashboard.example"


@pytest.fixture
def accounts() -> Accounts:
    accounts = Accounts(MemoryAccountStore(), timedelta(hours=12), MemoryAuthThrottle(limit=3))
    for name, role in (("vera", Role.VIEWER), ("otto", Role.OPERATOR)):
        accounts.add_user(name, PASSWORD, role)
    return accounts


@pytest.fixture
def clock() -> list[datetime]:
    """The API's clock, which a test moves."""
    return [datetime(2026, 11, 23, 6, 0, tzinfo=UTC)]


@pytest.fixture
def client(accounts: Accounts, clock: list[datetime]) -> Iterator[TestClient]:
    settings = ApiSettings(
        database_url="postgresql://unused",
        redis_url="redis://unused",
        read_token=SecretStr("read-token-for-shared-links"),
        cors_origins=STATIC_SITE,
        live_recheck_seconds=0.05,
    )
    app = create_app(settings)
    app.dependency_overrides[get_accounts] = lambda: lambda: accounts
    app.dependency_overrides[get_live_hub] = lambda: LiveHub(MemorySource(), retry_s=0.01)
    rules = RuleStub()
    app.dependency_overrides[get_alert_store] = lambda: rules
    app.dependency_overrides[get_now] = lambda: clock[0]
    with TestClient(app, base_url="https://hostpulse.test") as client:
        yield client


def sign_in(client: TestClient, user: str, password: str = PASSWORD) -> str:
    """Signs in; the client keeps the cookie. Returns the CSRF token."""
    answer = client.post("/api/v1/session", json={"user": user, "password": password})
    assert answer.status_code == 200, answer.text
    return str(answer.json()["csrf"])


def test_signing_in_sets_an_http_only_same_site_cookie_that_reads_data(
    client: TestClient,
) -> None:
    assert client.get("/api/v1/alert-rules").status_code == 401

    answer = client.post("/api/v1/session", json={"user": "vera", "password": PASSWORD})

    assert answer.status_code == 200 and answer.headers["cache-control"] == "no-store"
    cookie = answer.headers["set-cookie"]
    assert cookie.startswith(f"{SESSION_COOKIE}=")
    for attribute in ("HttpOnly", "SameSite=Strict", "Secure", "Path=/", "Max-Age=43200"):
        assert attribute in cookie
    assert answer.json()["user"] == "vera" and answer.json()["role"] == "viewer"
    assert client.get("/api/v1/alert-rules").status_code == 200
    assert client.get("/api/v1/session").json()["user"] == "vera"


def test_a_wrong_password_is_refused_and_repeated_failures_are_throttled(
    client: TestClient,
) -> None:
    for _ in range(3):
        wrong = client.post("/api/v1/session", json={"user": "vera", "password": "nope"})
        assert wrong.status_code == 401 and "set-cookie" not in wrong.headers
    throttled = client.post("/api/v1/session", json={"user": "vera", "password": PASSWORD})

    assert throttled.status_code == 429 and throttled.headers["retry-after"] == "60"
    assert client.get("/api/v1/session").status_code == 401


@pytest.mark.parametrize(
    "body",
    [{"user": "vera"}, {"user": "", "password": "x"}, {"user": "v", "password": "x" * 1025}],
)
def test_a_malformed_sign_in_is_a_422(client: TestClient, body: dict[str, str]) -> None:
    assert client.post("/api/v1/session", json=body).status_code == 422


def test_an_operator_changes_rules_only_with_the_csrf_token(client: TestClient) -> None:
    csrf = sign_in(client, "otto")

    assert client.put("/api/v1/alert-rules/Hot", json=RULE).status_code == 403
    wrong = {"X-CSRF-Token": csrf + "x"}
    assert client.put("/api/v1/alert-rules/Hot", json=RULE, headers=wrong).status_code == 403
    right = {"X-CSRF-Token": csrf}
    assert client.put("/api/v1/alert-rules/Hot", json=RULE, headers=right).status_code == 201
    assert client.delete("/api/v1/alert-rules/Hot", headers=right).status_code == 204


def test_a_viewer_may_not_change_rules(client: TestClient) -> None:
    csrf = sign_in(client, "vera")

    refused = client.put("/api/v1/alert-rules/Hot", json=RULE, headers={"X-CSRF-Token": csrf})

    assert refused.status_code == 403 and "viewer" in refused.json()["detail"]


def test_signing_out_ends_the_session_on_the_server(client: TestClient, accounts: Accounts) -> None:
    csrf = sign_in(client, "vera")
    token = client.cookies[SESSION_COOKIE]

    assert client.delete("/api/v1/session").status_code == 403, "a write: needs its CSRF token"
    out = client.delete("/api/v1/session", headers={"X-CSRF-Token": csrf})

    assert out.status_code == 204 and f"{SESSION_COOKIE}=;" in out.headers["set-cookie"]
    client.cookies.set(SESSION_COOKIE, token)  # the old cookie, kept by someone
    assert client.get("/api/v1/alert-rules").status_code == 401
    assert client.get("/api/v1/session").status_code == 401


def test_a_cookie_of_no_session_reads_nothing(client: TestClient) -> None:
    client.cookies.set(SESSION_COOKIE, "made-up")

    assert client.get("/api/v1/alert-rules").status_code == 401
    assert client.put("/api/v1/alert-rules/Hot", json=RULE).status_code == 401


def test_a_session_ends_when_it_expires(client: TestClient, clock: list[datetime]) -> None:
    sign_in(client, "vera")
    clock[0] += timedelta(hours=12) - timedelta(seconds=1)
    assert client.get("/api/v1/alert-rules").status_code == 200

    clock[0] += timedelta(seconds=1)

    assert client.get("/api/v1/alert-rules").status_code == 401
    assert client.get("/api/v1/session").status_code == 401


SETTINGS = {
    "default_range": "24h",
    "charts": ["memory", "cpu"],
    "hidden_hosts": ["db-01", "build.example.org"],
}


def test_dashboard_settings_are_the_defaults_until_saved_and_then_what_was_saved(
    client: TestClient,
) -> None:
    csrf = sign_in(client, "vera")
    defaults = client.get("/api/v1/session/settings").json()
    assert defaults == {
        "default_range": "live",
        "charts": ["cpu", "cores", "memory", "load", "diskio", "net"],
        "hidden_hosts": [],
    }

    saved = client.put("/api/v1/session/settings", json=SETTINGS, headers={"X-CSRF-Token": csrf})

    assert saved.status_code == 200 and saved.json() == SETTINGS
    assert client.get("/api/v1/session/settings").json() == SETTINGS
    sign_in(client, "otto")
    assert client.get("/api/v1/session/settings").json() == defaults, "settings are per user"


def test_saving_dashboard_settings_needs_the_csrf_token_and_a_sign_in(client: TestClient) -> None:
    sign_in(client, "vera")
    assert client.put("/api/v1/session/settings", json=SETTINGS).status_code == 403
    client.cookies.clear()
    bearer = {"Authorization": "Bearer read-token-for-shared-links"}

    assert client.get("/api/v1/session/settings", headers=bearer).status_code == 401
    assert client.put("/api/v1/session/settings", json=SETTINGS, headers=bearer).status_code == 401


@pytest.mark.parametrize(
    "change",
    [
        {"default_range": "custom"},
        {"charts": ["cpu", "cpu"]},
        {"charts": ["gpu"]},
        {"hidden_hosts": ["a", "a"]},
        {"hidden_hosts": ["<script>"]},
        {"hidden_hosts": [f"h{i}" for i in range(1001)]},
        {"theme": "dark"},
    ],
)
def test_settings_the_dashboard_could_not_show_are_refused_and_nothing_is_saved(
    client: TestClient, change: dict[str, object]
) -> None:
    csrf = {"X-CSRF-Token": sign_in(client, "vera")}
    client.put("/api/v1/session/settings", json=SETTINGS, headers=csrf)

    refused = client.put("/api/v1/session/settings", json={**SETTINGS, **change}, headers=csrf)

    assert refused.status_code == 422
    assert client.get("/api/v1/session/settings").json() == SETTINGS


def test_settings_go_with_their_user(client: TestClient, accounts: Accounts) -> None:
    csrf = {"X-CSRF-Token": sign_in(client, "vera")}
    client.put("/api/v1/session/settings", json=SETTINGS, headers=csrf)

    accounts.remove_user("vera")
    accounts.add_user("vera", PASSWORD, Role.VIEWER)
    sign_in(client, "vera")

    assert client.get("/api/v1/session/settings").json()["hidden_hosts"] == []


def test_a_sign_in_from_the_allowed_static_site_gets_a_partitioned_cross_site_cookie(
    client: TestClient,
) -> None:
    origin = {"Origin": STATIC_SITE}
    preflight = client.options(
        "/api/v1/session/settings",
        headers={
            **origin,
            "Access-Control-Request-Method": "PUT",
            "Access-Control-Request-Headers": "content-type,x-csrf-token",
        },
    )
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == STATIC_SITE
    assert preflight.headers["access-control-allow-credentials"] == "true"

    answer = client.post(
        "/api/v1/session", json={"user": "vera", "password": PASSWORD}, headers=origin
    )

    cookie = answer.headers["set-cookie"]
    for attribute in ("HttpOnly", "SameSite=None", "Secure", "Partitioned"):
        assert attribute in cookie
    assert answer.headers["access-control-allow-credentials"] == "true"
    csrf = {**origin, "X-CSRF-Token": answer.json()["csrf"]}
    out = client.delete("/api/v1/session", headers=csrf)
    assert out.status_code == 204 and "Partitioned" in out.headers["set-cookie"]


def test_other_origins_get_no_credentialed_answers(client: TestClient) -> None:
    evil = {"Origin": "https://evil.example"}
    preflight = client.options(
        "/api/v1/session",
        headers={**evil, "Access-Control-Request-Method": "POST"},
    )
    answer = client.post(
        "/api/v1/session", json={"user": "vera", "password": PASSWORD}, headers=evil
    )

    assert preflight.status_code == 400 and "access-control-allow-origin" not in preflight.headers
    assert "access-control-allow-origin" not in answer.headers
    assert "SameSite=Strict" in answer.headers["set-cookie"], "not the cross-site kind"


@pytest.mark.parametrize(
    ("origin", "opens"),
    [
        ("http://testserver", True),  # the host the test client's sockets name
        (STATIC_SITE, True),
        (None, True),
        ("https://evil.example", False),
    ],
)
def test_a_signed_in_live_feed_opens_only_from_the_dashboards_origins(
    client: TestClient, origin: str | None, opens: bool
) -> None:
    sign_in(client, "vera")
    # Given by hand: the client's jar keeps the Secure cookie from a ws:// URL.
    headers = {"Cookie": f"{SESSION_COOKIE}={client.cookies[SESSION_COOKIE]}"}
    headers |= {"Origin": origin} if origin else {}

    if opens:
        with client.websocket_connect("/api/v1/live?host=web-1", headers=headers):
            pass
    else:
        with (
            pytest.raises(WebSocketDisconnect) as refused,
            client.websocket_connect("/api/v1/live?host=web-1", headers=headers),
        ):
            pass
        assert refused.value.code == 1008


def test_a_live_feed_opened_with_a_sign_in_ends_with_the_session(
    client: TestClient, accounts: Accounts
) -> None:
    sign_in(client, "vera")
    headers = {"Cookie": f"{SESSION_COOKIE}={client.cookies[SESSION_COOKIE]}"}

    with client.websocket_connect("/api/v1/live?host=web-1", headers=headers) as socket:
        accounts.remove_user("vera")
        # Before, the feed streamed on: the sign-in was checked at the handshake only.
        with pytest.raises(WebSocketDisconnect) as ended:
            socket.receive_json()

    assert ended.value.code == 1008 and ended.value.reason == SIGN_IN_ENDED


def test_a_live_feed_survives_a_moment_without_the_sessions_store(
    client: TestClient, accounts: Accounts, monkeypatch: pytest.MonkeyPatch
) -> None:
    sign_in(client, "vera")
    headers = {"Cookie": f"{SESSION_COOKIE}={client.cookies[SESSION_COOKIE]}"}
    asked = threading.Event()
    real = accounts.session

    def away(token: str, now: datetime) -> Session | None:
        asked.set()
        raise ConnectionError("the sessions' store is away")

    with client.websocket_connect("/api/v1/live?host=web-1", headers=headers) as socket:
        monkeypatch.setattr(accounts, "session", away)
        assert asked.wait(5), "the feed asked again"
        time.sleep(0.2)  # more checks fail the same way: the feed stays open
        monkeypatch.setattr(accounts, "session", real)
        accounts.remove_user("vera")
        with pytest.raises(WebSocketDisconnect) as ended:
            socket.receive_json()

    assert ended.value.code == 1008, "it ended with the session, not with the store's moment"
