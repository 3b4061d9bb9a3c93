"""What ingest tells agents, from caches that outlive a failing store."""

from __future__ import annotations

import pytest

from hostpulse.services.agents.config import AgentConfigs, Scope
from hostpulse.services.agents.control import AgentControl, TtlCache, issue
from tests.fakes import MemoryAgentConfigStore, MemoryCommandStore


def test_the_cache_reads_once_per_ttl_and_keeps_the_last_read_when_the_store_fails() -> None:
    store = MemoryAgentConfigStore()
    now = [0.0]
    cache = TtlCache(store.current, ttl_s=2.0, clock=lambda: now[0])
    AgentConfigs(store).set(Scope("all"), {"top_n": "7"}, "ops")

    assert [c.version for c in cache.get() or []] == [1]
    AgentConfigs(store).set(Scope("all"), {"top_n": "8"}, "ops")
    now[0] = 1.9
    assert [c.version for c in cache.get() or []] == [1], "within the TTL: the earlier read"
    now[0] = 2.0
    assert [c.version for c in cache.get() or []] == [2]
    store.failing = True
    now[0] = 10.0
    assert [c.version for c in cache.get() or []] == [2], "the store away: the last good read"
    assert store.reads == 2 + 3, "two by the changes, three by the cache"


def test_before_any_good_read_nothing_is_announced_and_a_sync_waits() -> None:
    control = AgentControl(MemoryAgentConfigStore(failing=True), MemoryCommandStore(), ttl_s=2)

    assert control.announce("web-1", {}) == {}
    assert control.sync("web-1", {}, []) is None


def test_an_answer_names_the_version_and_the_newest_pending_command_of_the_host() -> None:
    commands = MemoryCommandStore()
    control = AgentControl(MemoryAgentConfigStore(), commands, ttl_s=0)
    issue(commands, "web-1", "pause", "ops")
    issue(commands, "web-1", "resume", "ops")

    assert control.announce("web-1", {}) == {"config_version": 0, "command": 2}
    assert control.announce("web-2", {}) == {"config_version": 0}


def test_a_command_no_agent_runs_is_refused() -> None:
    store = MemoryCommandStore()
    with pytest.raises(ValueError, match="unknown command 'reboot'"):
        issue(store, "web-1", "reboot", "ops")
    assert store.commands == []
