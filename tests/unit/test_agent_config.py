"""The central agent configuration: scopes, the agent's own rules, merging, versions."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hostpulse.services.agents.config import (
    AgentConfigError,
    AgentConfigs,
    Scope,
    checked,
)
from hostpulse_agent.central import Central, applied
from hostpulse_agent.config import AgentConfig
from hostpulse_agent_rules import REMOTE_KEYS
from tests.fakes import MemoryAgentConfigStore


@pytest.fixture
def configs() -> AgentConfigs:
    return AgentConfigs(MemoryAgentConfigStore())


@pytest.mark.parametrize(
    ("text", "scope"),
    [
        ("all", Scope("all")),
        ("host:web-01.eu", Scope("host", "web-01.eu")),
        ("label:role=db", Scope("label", "role=db")),
        ("label:role=", Scope("label", "role=")),
    ],
)
def test_scopes_read_and_print_alike(text: str, scope: Scope) -> None:
    assert Scope.parse(text) == scope
    assert str(scope) == text


@pytest.mark.parametrize(
    "text", ["", "everyone", "host:", "host:-web", "host:a b", "label:role", "label:=db", "x:y"]
)
def test_a_scope_that_names_nothing_is_refused(text: str) -> None:
    with pytest.raises(AgentConfigError, match="is not a scope"):
        Scope.parse(text)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"interval_s": "-1"}, "interval_s: must be a number greater than 0"),
        ({"interval_s": "fast"}, "interval_s"),
        ({"groups": "cpu,gpu"}, "unknown group(s) gpu"),
        ({"labels": "role"}, "key=value"),
        ({"top_n": "0"}, "top_n: must be a number greater than 0"),
        ({"top_n": "201"}, "top_n: must be at most 200"),
        ({"interval_s": "inf"}, "interval_s: must be a number greater than 0"),
        ({"send_every_s": "nan"}, "send_every_s: must be a number greater than 0"),
        ({"token": "x"}, "unknown key 'token'"),
        ({"ingest_url": "http://elsewhere"}, "unknown key 'ingest_url'"),
        ({"intervall_s": "5"}, "did you mean 'interval_s'"),
    ],
)
def test_settings_are_checked_with_the_agents_own_rules(raw: dict[str, str], message: str) -> None:
    with pytest.raises(AgentConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        checked(Scope("all"), raw)


def test_a_refused_change_is_not_stored(configs: AgentConfigs) -> None:
    with pytest.raises(AgentConfigError):
        configs.set(Scope("all"), {"interval_s": "0"}, "ops")

    assert configs.history() == []


def test_a_group_may_not_set_the_labels_it_is_chosen_by(configs: AgentConfigs) -> None:
    with pytest.raises(AgentConfigError, match="not for a group"):
        configs.set(Scope("label", "role=db"), {"labels": "role=web"}, "ops")


def test_a_host_runs_all_then_its_groups_then_its_own(configs: AgentConfigs) -> None:
    configs.set(Scope("all"), {"interval_s": "10", "top_n": "5", "labels": "dc=eu"}, "ops")
    configs.set(Scope("label", "role=db"), {"top_n": "20", "groups": "cpu,disk_io"}, "dba")
    configs.set(Scope("host", "db-01"), {"interval_s": "1", "labels": "rack=7"}, "ops")
    configs.set(Scope("host", "web-01"), {"interval_s": "2"}, "ops")

    db = configs.desired("db-01", {"role": "db"})
    web = configs.desired("web-02", {"role": "web"})

    assert db.version == 3
    assert db.settings == {
        "interval_s": 1.0,
        "top_n": 20,
        "labels": {"dc": "eu", "rack": "7"},
        "groups": ["cpu", "disk_io"],
    }
    assert web.version == 1 and web.settings == {
        "interval_s": 10.0,
        "top_n": 5,
        "labels": {"dc": "eu"},
    }
    assert configs.desired("lonely", {}).version == 1
    assert AgentConfigs(MemoryAgentConfigStore()).desired("any", {}).version == 0


def test_setting_adds_to_a_scope_and_unsetting_removes_with_a_new_version(
    configs: AgentConfigs,
) -> None:
    configs.set(Scope("host", "db-01"), {"interval_s": "1", "top_n": "3"}, "ops")
    configs.set(Scope("host", "db-01"), {"top_n": "4"}, "ops")
    assert configs.desired("db-01", {}).settings == {"interval_s": 1.0, "top_n": 4}

    removed_key = configs.unset(Scope("host", "db-01"), ["top_n"], "ops")
    assert configs.desired("db-01", {}).settings == {"interval_s": 1.0}
    removed_all = configs.unset(Scope("host", "db-01"), [], "ops")

    # Removing is a change too: the host's version grows, so its agent hears of it.
    desired = configs.desired("db-01", {})
    assert (removed_key.version, removed_all.version, desired.version) == (3, 4, 4)
    assert desired.settings == {}
    assert configs.current() == [], "a removed scope is not listed as set"
    with pytest.raises(AgentConfigError, match="nothing is set"):
        configs.unset(Scope("host", "db-01"), [], "ops")
    with pytest.raises(AgentConfigError, match="unknown setting"):
        configs.unset(Scope("all"), ["token"], "ops")
    history = configs.history(Scope("host", "db-01"))
    assert [c.version for c in history] == [4, 3, 2, 1]
    assert all(c.changed_by == "ops" for c in history)


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=8,
)
SETTINGS = st.dictionaries(st.sampled_from([*REMOTE_KEYS, "token", ""]), JSON, max_size=6)
LOCAL = AgentConfig(ingest_url="https://ingest.example/v1/ingest", token="t", agent_id="a")


@given(SETTINGS)
def test_whatever_json_is_sent_is_refused_with_a_message_or_runs_on_the_agent(
    raw: dict[str, Any],
) -> None:
    try:
        settings = checked(Scope("all"), raw)
    except AgentConfigError as error:
        assert str(error)
        return
    config, _ = applied(LOCAL, Central(1, settings))
    assert config.interval_s > 0 and 0 < config.top_n <= 200
