"""Dashboard users end to end on the local cloud: managed with the CLI, stored in PostgreSQL,
signed in through the API with a session cookie, failures throttled in Redis."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

from hostpulse.wiring import by_url
from tests.support import CloudUnderTest, dashboard_api

pytestmark = pytest.mark.localcloud
PASSWORD = "correct horse battery staple"


def add_user(cloud: CloudUnderTest, name: str, role: str, password: str = PASSWORD) -> str:
    added = cloud.cli("users", "add", name, "--role", role, "--password-stdin", stdin=password)
    return added.stdout + added.stderr if added.returncode else ""


def sign_in(api: str, name: str, password: str = PASSWORD) -> requests.Session:
    browser = requests.Session()
    # Its own client address (the local API trusts a proxy on this machine): failed sign-ins
    # of other tests (the API fuzzing) count against theirs.
    browser.headers["X-Forwarded-For"] = "192.0.2.1"
    answer = browser.post(f"{api}/api/v1/session", json={"user": name, "password": password})
    assert answer.status_code == 200, answer.text
    browser.headers["X-CSRF-Token"] = answer.json()["csrf"]
    return browser


def test_a_user_added_with_the_cli_signs_in_changes_rules_and_is_removed(
    local_cloud: CloudUnderTest,
) -> None:
    api = local_cloud.endpoints["local_api_url"]
    name = f"otto-{time.time_ns() % 10**8}"
    assert add_user(local_cloud, name, "operator") == ""
    assert "exists" in add_user(local_cloud, name, "viewer")
    assert "at least 12" in add_user(local_cloud, f"{name}-2", "viewer", "short")
    listed = local_cloud.cli("users", "list").stdout
    assert any(line.split() == [name, "operator"] for line in listed.splitlines())

    browser = sign_in(api, name)
    assert browser.cookies.get("hostpulse_session")
    assert browser.get(f"{api}/api/v1/session").json()["role"] == "operator"
    rule = {"name": f"SignedIn{time.time_ns() % 10**8}", "metric": "cpu.percent", "threshold": 99}
    put = browser.put(f"{api}/api/v1/alert-rules/{rule['name']}", json=rule)
    assert put.status_code == 201, put.text
    assert browser.delete(f"{api}/api/v1/alert-rules/{rule['name']}").status_code == 204

    assert local_cloud.cli("users", "remove", name).returncode == 0
    assert browser.get(f"{api}/api/v1/session").status_code == 401, "its sessions went with it"


def test_failed_sign_ins_are_throttled_per_user(local_cloud: CloudUnderTest) -> None:
    api = local_cloud.endpoints["local_api_url"]
    name = f"vera-{time.time_ns() % 10**8}"
    assert add_user(local_cloud, name, "viewer") == ""
    # Each from another address: the user's own count stops them all.
    answers = [
        requests.post(
            f"{api}/api/v1/session",
            json={"user": name, "password": "wrong"},
            headers={"X-Forwarded-For": f"198.51.100.{n}"},
        )
        for n in range(11)
    ]

    assert [a.status_code for a in answers] == [401] * 10 + [429]
    assert 0 < int(answers[-1].headers["Retry-After"]) <= 60
    refused = requests.post(
        f"{api}/api/v1/session",
        json={"user": name, "password": PASSWORD},
        headers={"X-Forwarded-For": "198.51.100.99"},
    )
    assert refused.status_code == 429, "the right password too, until the minute is over"


def test_dashboard_settings_are_kept_in_postgresql_and_go_with_their_user(
    local_cloud: CloudUnderTest,
) -> None:
    api = local_cloud.endpoints["local_api_url"]
    name = f"sara-{time.time_ns() % 10**8}"
    assert add_user(local_cloud, name, "viewer") == ""
    chosen = {"default_range": "7d", "charts": ["net", "cpu"], "hidden_hosts": ["db-01"]}

    browser = sign_in(api, name)
    assert browser.put(f"{api}/api/v1/session/settings", json=chosen).status_code == 200
    again = sign_in(api, name)  # another browser, another session
    assert again.get(f"{api}/api/v1/session/settings").json() == chosen
    store = by_url.account_admin(local_cloud.endpoints["database_url"]).store
    assert store.dashboard_settings(name) == chosen

    assert local_cloud.cli("users", "remove", name).returncode == 0
    assert store.dashboard_settings(name) is None
    assert store.save_dashboard_settings(name, chosen) is False, "no row for a removed user"


def test_wrong_passwords_sent_at_once_are_held_to_the_bound(local_cloud: CloudUnderTest) -> None:
    api = local_cloud.endpoints["local_api_url"]
    name = f"gina-{time.time_ns() % 10**8}"
    assert add_user(local_cloud, name, "viewer") == ""

    def guess(n: int) -> int:
        return requests.post(
            f"{api}/api/v1/session",
            json={"user": name, "password": f"wrong guess {n}"},
            headers={"X-Forwarded-For": f"203.0.113.{n + 1}"},  # each from its own address
            timeout=60,
        ).status_code

    with ThreadPoolExecutor(max_workers=30) as pool:
        answers = list(pool.map(guess, range(30)))

    # Before, all 30 were checked (401): the count was read before the slow hash, written after.
    assert sorted(answers) == [401] * 10 + [429] * 20


def test_a_forwarded_address_counts_only_from_a_trusted_proxy(
    local_cloud: CloudUnderTest, tmp_path: Path
) -> None:
    def failures_from_eleven_addresses(api: str) -> list[int]:
        return [
            requests.post(
                f"{api}/api/v1/session",
                json={"user": f"nobody-{n}-{time.time_ns()}", "password": "wrong"},
                headers={"X-Forwarded-For": f"192.0.2.{100 + n}"},
                timeout=60,
            ).status_code
            for n in range(11)
        ]

    with dashboard_api(local_cloud, tmp_path / "behind-a-proxy") as proxied:
        believed = failures_from_eleven_addresses(proxied.url)
    with dashboard_api(local_cloud, tmp_path / "direct", trusted_proxies="") as direct:
        spoofed = failures_from_eleven_addresses(direct.url)

    assert believed == [401] * 11, "eleven addresses, each under its bound"
    # Before, the header picked the address: a guesser sent a new one with every guess.
    assert spoofed == [401] * 10 + [429], "one peer, whatever the header says"
