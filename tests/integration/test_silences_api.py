"""Silences through the API and the CLI, on the real local cloud's PostgreSQL: who may make
and end them (an operator, not a viewer; the admin token), their author on record, their
states, and every refusal."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest
import requests

from tests.integration.test_alerts_api import admin_token
from tests.integration.test_sign_in import add_user, sign_in
from tests.support import CloudUnderTest

pytestmark = pytest.mark.localcloud


def body(host: str, **more: object) -> dict[str, object]:
    return {"matchers": [{"name": "host", "value": host}], "comment": "disk swap", **more}


def test_an_operator_silences_a_viewer_may_not_and_every_silence_is_on_record(
    local_cloud: CloudUnderTest,
) -> None:
    api = local_cloud.endpoints["local_api_url"]
    base = f"{api}/api/v1/silences"
    host = f"silenced-{uuid.uuid4().hex[:8]}"
    operator, viewer = f"op{uuid.uuid4().hex[:6]}", f"view{uuid.uuid4().hex[:6]}"
    add_user(local_cloud, operator, "operator")
    add_user(local_cloud, viewer, "viewer")
    admin = requests.Session()
    admin.headers["Authorization"] = f"Bearer {admin_token(local_cloud)}"

    anonymous = requests.post(base, json=body(host, duration="1h"), timeout=30)
    refused = sign_in(api, viewer).post(base, json=body(host, duration="1h"), timeout=30)
    by_operator = sign_in(api, operator).post(base, json=body(host, duration="2h"), timeout=30)
    later = admin.post(
        base,
        json=body(
            host, duration="1h", starts_at=(datetime.now(UTC) + timedelta(days=1)).isoformat()
        ),
        timeout=30,
    )
    listed = {s["id"]: s for s in requests.get(base, timeout=30).json()["silences"]}

    assert (anonymous.status_code, refused.status_code) == (401, 403)
    assert (by_operator.status_code, later.status_code) == (201, 201), by_operator.text
    made = by_operator.json()["silence"]
    assert made["created_by"] == f"user {operator}" and made["state"] == "active"
    assert made["ends_ms"] - made["starts_ms"] == 2 * 3_600_000
    assert made["matchers"] == [{"name": "host", "value": host, "op": "="}]
    pending = later.json()["silence"]
    assert (pending["created_by"], pending["state"]) == ("the admin token", "pending")
    assert {made["id"], pending["id"]} <= listed.keys()

    ended = admin.delete(f"{base}/{made['id']}", timeout=30)
    again = admin.delete(f"{base}/{made['id']}", timeout=30)
    unknown = admin.delete(f"{base}/{2**40}", timeout=30)
    viewer_end = sign_in(api, viewer).delete(f"{base}/{pending['id']}", timeout=30)
    after = {s["id"]: s for s in requests.get(base, timeout=30).json()["silences"]}

    assert ended.status_code == 200
    assert (again.status_code, unknown.status_code, viewer_end.status_code) == (409, 404, 403)
    gone = after[made["id"]]
    assert (gone["state"], gone["expired_by"]) == ("expired", "the admin token")
    assert gone["expired_ms"] >= made["created_ms"]
    assert admin.delete(f"{base}/{pending['id']}", timeout=30).status_code == 200


@pytest.mark.parametrize(
    ("sent", "problem"),
    [
        ({"comment": "x", "duration": "1h"}, "matchers"),
        ({"matchers": [{"name": "host", "value": "a"}], "comment": "x"}, "duration or ends_at"),
        ({"matchers": [{"name": "host", "value": ".*", "op": "=~"}], "comment": "x",
          "duration": "1h"}, "every alert"),
        ({"matchers": [{"name": "host", "value": "a"}], "comment": "x",
          "ends_at": "2001-01-01T00:00:00Z"}, "end"),
        ({"matchers": [{"name": "host", "value": "a"}], "comment": "x", "duration": "1h",
          "color": "red"}, "extra"),
    ],
)  # fmt: skip
def test_a_bad_silence_is_refused_with_its_reason(
    local_cloud: CloudUnderTest, sent: dict[str, object], problem: str
) -> None:
    api = local_cloud.endpoints["local_api_url"]
    admin = requests.Session()
    admin.headers["Authorization"] = f"Bearer {admin_token(local_cloud)}"

    answer = admin.post(f"{api}/api/v1/silences", json=sent, timeout=30)

    assert answer.status_code == 422 and problem in answer.text.lower(), answer.text


def test_the_cli_silences_lists_and_ends(local_cloud: CloudUnderTest) -> None:
    host = f"cli-silenced-{uuid.uuid4().hex[:8]}"

    made = local_cloud.cli("alerts", "silence", "--match", f"host={host}",
                           "--match", "alertname=~Host.*", "--for", "30m",
                           "--comment", "kernel update")  # fmt: skip
    bad = local_cloud.cli("alerts", "silence", "--match", "host", "--for", "30m",
                          "--comment", "x")  # fmt: skip
    listed = [
        json.loads(line) for line in local_cloud.cli("alerts", "silences").stdout.splitlines()
    ]

    assert made.returncode == 0, made.stdout
    assert bad.returncode == 1 and "LABEL=VALUE" in bad.stdout
    [mine] = [s for s in listed if s["matchers"][0]["value"] == host]
    assert mine["matchers"][1] == {"name": "alertname", "value": "Host.*", "op": "=~"}
    assert mine["state"] == "active" and mine["created_by"].endswith("(cli)")
    ended = local_cloud.cli("alerts", "unsilence", str(mine["id"]))
    assert ended.returncode == 0 and f"silence {mine['id']} ended" in ended.stdout
    assert local_cloud.cli("alerts", "unsilence", str(mine["id"])).returncode == 1
