"""Who may do what, asked of every route of the query API on every runtime it has here.

A local cloud of its own is started with a read token (HOSTPULSE_READ_TOKEN) and nothing said
of public reads. Every route of the API's OpenAPI description is asked without a credential,
with the read token, as a signed-in viewer and operator, and with the admin token, under
uvicorn and on Lambda behind API Gateway, and each answer is held to one table (ACCESS and
ALLOWED below, also in docs/security.md). A route the table does not name fails the test: a new
route chooses its row when it is born.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from tests.integration.test_sign_in import PASSWORD, add_user
from tests.openapi import DESCRIPTION
from tests.support import CloudUnderTest

pytestmark = pytest.mark.slow

# The table: each route's row.
ACCESS = {
    ("GET", "/health"): "open",
    ("GET", "/api/v1/health"): "open",
    ("POST", "/api/v1/session"): "open",  # signing in
    ("GET", "/api/v1/session"): "session",
    ("DELETE", "/api/v1/session"): "session",
    ("GET", "/api/v1/session/settings"): "session",
    ("PUT", "/api/v1/session/settings"): "session",
    ("GET", "/api/v1/hosts"): "read",
    ("GET", "/api/v1/hosts/{host}"): "read",
    ("GET", "/api/v1/hosts/{host}/latest"): "read",
    ("GET", "/api/v1/hosts/{host}/recent"): "read",
    ("GET", "/api/v1/hosts/{host}/processes/{pid}"): "read",
    ("GET", "/api/v1/series"): "read",
    ("GET", "/api/v1/live"): "read",
    ("GET", "/api/metrics/recent"): "read",
    ("GET", "/api/v1/alert-rules"): "read",
    ("GET", "/api/v1/alerts"): "read",
    ("GET", "/api/v1/alerts/history"): "read",
    ("GET", "/api/alerts/recent"): "read",
    ("GET", "/api/v1/silences"): "read",
    ("GET", "/api/v1/pipeline"): "read",
    ("GET", "/api/v1/pipeline/history"): "read",
    ("GET", "/metrics"): "read",
    ("GET", "/api/v1/agent-config"): "read",
    ("GET", "/api/v1/agent-config/history"): "read",
    ("GET", "/api/v1/agent-config/desired"): "read",
    ("GET", "/api/v1/agent-commands"): "read",
    ("PUT", "/api/v1/alert-rules/{name}"): "operate",
    ("DELETE", "/api/v1/alert-rules/{name}"): "operate",
    ("POST", "/api/v1/silences"): "operate",
    ("DELETE", "/api/v1/silences/{silence_id}"): "operate",
    ("PUT", "/api/v1/rule-groups"): "operate",
    ("POST", "/api/v1/hosts/{host}/retire"): "operate",
    ("DELETE", "/api/v1/hosts/{host}"): "operate",
    ("PUT", "/api/v1/agent-config/{scope}"): "administer",
    ("DELETE", "/api/v1/agent-config/{scope}"): "administer",
    ("POST", "/api/v1/agent-commands"): "administer",
    # Prometheus' API, for Grafana: reads, GET and form POST alike
    **{
        (method, f"/prometheus/api/v1/{path}"): "read"
        for path in ("query", "query_range", "series", "labels", "query_exemplars")
        for method in ("GET", "POST")
    },
    ("GET", "/prometheus/api/v1/label/{name}/values"): "read",
    ("GET", "/prometheus/api/v1/metadata"): "read",
    ("GET", "/prometheus/api/v1/status/buildinfo"): "read",
    ("GET", "/prometheus/api/v1/rules"): "read",
}
CREDENTIALS = ("anonymous", "read token", "viewer", "operator", "admin token")
# Per row, the credentials let through; every other one is refused with 401 or 403.
ALLOWED = {
    "open": set(CREDENTIALS),
    "read": {"read token", "viewer", "operator"},
    "session": {"viewer", "operator"},
    "operate": {"operator", "admin token"},
    "administer": {"admin token"},
}
PATH_VALUES = {"host": "matrix-host", "pid": "1", "name": "MatrixRule", "scope": "fleet",
               "silence_id": "1"}  # fmt: skip


def routes() -> list[tuple[str, str]]:
    found = [(m.upper(), p) for p, methods in DESCRIPTION["paths"].items() for m in methods]
    # Signing out ends the session the rows after it would use: asked last.
    return sorted(found, key=lambda route: route == ("DELETE", "/api/v1/session"))


def test_the_table_names_every_route() -> None:
    assert set(routes()) == set(ACCESS)


@pytest.fixture(scope="module")
def guarded_cloud() -> Iterator[tuple[CloudUnderTest, str]]:
    read_token = f"hp_read_{secrets.token_urlsafe(24)}"
    cloud = CloudUnderTest.fresh("access-matrix")
    cloud.env["HOSTPULSE_READ_TOKEN"] = read_token
    cloud.up()
    try:
        yield cloud, read_token
    finally:
        cloud.down()


def signed_in(cloud: CloudUnderTest, role: str) -> dict[str, str]:
    """A session's cookie and CSRF header, signed in through the API under uvicorn: the
    session lives in PostgreSQL, so the api function knows it too."""
    name = f"matrix-{role}-{time.time_ns() % 10**8}"
    assert add_user(cloud, name, role) == ""
    answer = requests.post(
        f"{cloud.endpoints['local_api_url']}/api/v1/session",
        json={"user": name, "password": PASSWORD},
        timeout=30,
    )
    assert answer.status_code == 200, answer.text
    return {
        "Cookie": f"hostpulse_session={answer.cookies['hostpulse_session']}",
        "X-CSRF-Token": answer.json()["csrf"],
    }


def headers_for(cloud: CloudUnderTest, read_token: str) -> dict[str, dict[str, str]]:
    admin = cloud.cli("admin-token").stdout.strip()
    return {
        "anonymous": {},
        "read token": {"Authorization": f"Bearer {read_token}"},
        "viewer": signed_in(cloud, "viewer"),
        "operator": signed_in(cloud, "operator"),
        "admin token": {"Authorization": f"Bearer {admin}"},
    }


def ask_everything(base: str, headers: dict[str, dict[str, str]]) -> dict[str, Any]:
    answers = {}
    for credential, sent in headers.items():
        for method, path in routes():
            url = base + path.format(**PATH_VALUES)
            answer = requests.request(method, url, headers=sent, timeout=60)
            answers[f"{method} {path} as {credential}"] = answer.status_code
    return answers


def judged(answers: dict[str, Any]) -> list[str]:
    """Every answer that breaks the table, or is a server error."""
    wrong = []
    for asked, status in answers.items():
        route, credential = asked.split(" as ")
        method, path = route.split(" ", 1)
        allowed = credential in ALLOWED[ACCESS[(method, path)]]
        refused = status in (401, 403)
        if status >= 500 or allowed == refused:
            wrong.append(f"{asked}: {status} ({'allowed' if allowed else 'refused'} by the table)")
    return wrong


@pytest.mark.parametrize("runtime", ["uvicorn", "API Gateway and Lambda"])
def test_every_route_answers_each_credential_as_the_table_says(
    guarded_cloud: tuple[CloudUnderTest, str], runtime: str
) -> None:
    cloud, read_token = guarded_cloud
    endpoints = cloud.endpoints
    base = endpoints["local_api_url"] if runtime == "uvicorn" else endpoints["api_url"]

    answers = ask_everything(base, headers_for(cloud, read_token))

    assert len(answers) == len(ACCESS) * len(CREDENTIALS)
    assert judged(answers) == []
