"""`hostpulse agents` and `hostpulse simulate` as a user runs them, on the session's cloud."""

from __future__ import annotations

import json

import pytest
import requests

from hostpulse.adapters.postgres.agents import CachedAgentDirectory, PgAgentRepository
from hostpulse.adapters.postgres.connector import PgConnector
from hostpulse.services.agents.tokens import token_hash
from tests.support import CloudUnderTest

pytestmark = pytest.mark.localcloud


def test_agents_add_list_revoke(local_cloud: CloudUnderTest) -> None:
    repository = PgAgentRepository(PgConnector(local_cloud.endpoints["database_url"]))

    added = local_cloud.cli("agents", "add", "cli-agent")
    token = added.stdout.splitlines()[0]
    again = local_cloud.cli("agents", "add", "cli-agent")
    listed = local_cloud.cli("agents", "list")
    revoked = local_cloud.cli("agents", "revoke", "cli-agent")
    twice = local_cloud.cli("agents", "revoke", "cli-agent")
    bad = local_cloud.cli("agents", "add", "no spaces please")

    assert added.returncode == 0 and token.startswith("hp_")
    assert "shown once" in added.stdout
    assert again.returncode == 1 and "exists" in again.stdout
    assert "cli-agent" in listed.stdout and token not in listed.stdout
    assert revoked.returncode == 0
    assert repository.grant_for_hash(token_hash(token)) is None
    assert twice.returncode == 1 and "no active agent" in twice.stdout
    assert bad.returncode == 1 and "agent name" in bad.stdout


def test_every_change_to_the_agents_moves_the_directory_version(
    local_cloud: CloudUnderTest,
) -> None:
    repository = PgAgentRepository(PgConnector(local_cloud.endpoints["database_url"]))
    directory = CachedAgentDirectory(repository, ttl_s=0.0)
    versions = [repository.directory_version()]

    def changed() -> bool:
        versions.append(repository.directory_version())
        return versions[-1] != versions[-2]

    token = local_cloud.cli("agents", "add", "version-agent").stdout.splitlines()[0]
    assert changed()
    assert directory.grant_for_token(token) is not None
    assert directory.cached_grant(token) is not None
    assert not changed()  # reads move nothing
    repository.bind("version-agent", ["version-*"])
    assert changed()
    repository.set_host_label("version-agent", "instance")
    assert changed()
    assert directory.cached_grant(token) is None  # changed since it was looked up
    assert directory.grant_for_token(token) is not None
    local_cloud.cli("agents", "revoke", "version-agent")
    assert changed()
    assert directory.grant_for_token(token) is None


def test_simulate_sends_a_fleet_through_the_real_endpoint(local_cloud: CloudUnderTest) -> None:
    result = local_cloud.cli(
        "simulate",
        "--hosts",
        "3",
        "--duration",
        "6",
        "--interval",
        "1",
        "--send-every",
        "2",
        "--prefix",
        "clisim",
        timeout=120,
    )

    assert result.returncode == 0, result.stdout + result.stderr
    stats = json.loads(result.stdout.strip().splitlines()[-1])
    assert stats["rejected"] == 0 and stats["samples"] >= 3 * 5
    hosts = requests.get(f"{local_cloud.endpoints['local_api_url']}/api/v1/hosts", timeout=30)
    names = {h["host"] for h in hosts.json()["hosts"]}
    assert {"clisim-000", "clisim-001", "clisim-002"} <= names

    rerun = local_cloud.cli(
        "simulate",
        "--hosts",
        "1",
        "--duration",
        "2",
        "--interval",
        "1",
        "--send-every",
        "1",
        "--prefix",
        "clisim",
        timeout=120,
    )
    assert rerun.returncode == 0  # the same agents again, their sequence numbers carried on
    book = json.loads((local_cloud.state_dir / "simulate" / "agents.json").read_text())
    assert book["clisim-000"]["next_seq"] > stats["batches"] // 3
