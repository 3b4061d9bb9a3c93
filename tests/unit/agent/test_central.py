"""The agent follows the server's central configuration: applied without a restart, over the
host's own settings, pinned keys kept, a bad one refused, the last one kept across restarts."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

from hostpulse_agent.runner import Agent
from hostpulse_agent.sender import SendResult
from tests.unit.agent.test_runner import ScriptedSender, config, spool_batches

CENTRAL = {
    "config_version": 3,
    "settings": {
        "interval_s": 0.2,
        "top_n": 4,
        "groups": ["cpu", "load"],
        "labels": {"zone": "eu"},
        "log_level": "DEBUG",
    },
}


def told(version: int) -> SendResult:
    return SendResult("accepted", 202, "ok", config_version=version)


def send_one(agent: Agent) -> None:
    spool_batches(agent, 1)
    agent.send_pending(deadline=time.monotonic() + 2)


def following(tmp_path: Path, central: dict[str, Any] | None, *told_versions: int) -> Agent:
    sender = ScriptedSender([told(v) for v in told_versions], central=central)
    return Agent(config(tmp_path, labels={"role": "web"}, pinned=frozenset({"log_level"})), sender)


def test_an_agent_behind_syncs_and_runs_the_new_settings_without_restarting(
    tmp_path: Path,
) -> None:
    agent = following(tmp_path, CENTRAL, 3, 3)
    sender = agent.sender
    assert isinstance(sender, ScriptedSender)

    send_one(agent)

    assert sender.syncs == [
        {
            "hostname": agent.facts["hostname"],
            "labels": {"role": "web"},
            "config_version": None,
            "acks": [],
        }
    ]
    assert agent.config_version == 3
    assert (agent.config.interval_s, agent.config.top_n) == (0.2, 4)
    assert agent.config.groups == frozenset({"cpu", "load"})
    assert agent.config.labels == {"role": "web", "zone": "eu"}, "label by label"
    assert agent.config.log_level == "INFO", "pinned on this host"
    assert set(agent.collector.sample(int(time.time() * 1000))) >= {"cpu", "load"}
    assert "memory" not in agent.collector.sample(int(time.time() * 1000))

    send_one(agent)  # told 3 again: already running it
    assert len(sender.syncs) == 1
    reported = sender.accepted[-1]["host"]
    assert reported["config_version"] == 3 and reported["labels"] == {"role": "web", "zone": "eu"}


def test_a_configuration_that_breaks_the_agents_rules_is_refused_once(tmp_path: Path) -> None:
    bad = {"config_version": 4, "settings": {"interval_s": -1, "top_n": 4}}
    agent = following(tmp_path, bad, 4, 4, 4)

    for _ in range(3):
        send_one(agent)

    assert agent.config == agent.local, "the previous settings run on"
    assert (agent.config_version, agent.refused_version) == (None, 4)
    assert isinstance(agent.sender, ScriptedSender) and len(agent.sender.syncs) == 1


def test_a_setting_the_server_drops_goes_back_to_the_hosts_own(tmp_path: Path) -> None:
    agent = following(tmp_path, CENTRAL, 3)
    send_one(agent)
    assert isinstance(agent.sender, ScriptedSender)
    agent.sender.central = {"config_version": 5, "settings": {"top_n": 6}}
    agent.sender.script.append(told(5))

    send_one(agent)

    assert (agent.config.top_n, agent.config.interval_s) == (6, agent.local.interval_s)
    assert agent.config.labels == {"role": "web"}


def test_the_last_central_configuration_runs_at_once_after_a_restart(tmp_path: Path) -> None:
    send_one(following(tmp_path, CENTRAL, 3))

    restarted = following(tmp_path, CENTRAL)

    assert restarted.config_version == 3 and restarted.config.top_n == 4
    assert isinstance(restarted.sender, ScriptedSender) and restarted.sender.syncs == []


def test_a_server_that_cannot_say_leaves_the_agent_as_it_runs(tmp_path: Path) -> None:
    agent = following(tmp_path, None, 3)

    send_one(agent)

    assert agent.config == agent.local and agent.config_version is None


def commanding(tmp_path: Path, *kinds: str) -> tuple[Agent, ScriptedSender]:
    commands = [{"id": i + 1, "kind": kind} for i, kind in enumerate(kinds)]
    sender = ScriptedSender(
        [SendResult("accepted", 202, "ok", config_version=0, command=len(kinds))],
        central={"config_version": 0, "settings": {}, "commands": commands},
    )
    return Agent(config(tmp_path), sender), sender


def test_commands_run_once_in_order_and_are_acknowledged_with_what_they_did(
    tmp_path: Path,
) -> None:
    agent, sender = commanding(tmp_path, "pause", "diagnostics", "collect_now", "resume")

    send_one(agent)  # the answer names command 4: the sync hands over all four

    # The collect-now batch went at once; its answer's sync carried the acknowledgements.
    assert len(sender.accepted) == 2
    acks = {ack["id"]: ack["result"] for ack in sender.syncs[1]["acks"]}
    assert acks[1] == {"paused": True} and acks[4] == {"paused": False}
    assert acks[2]["paused"] is True and acks[2]["agent_version"]
    assert acks[3] == {"spooled": True}
    assert not agent.paused and agent.commands.done_through == 4
    # This fake server hands the same four over again: acknowledged, not run again.
    assert [a["result"] for a in agent.commands.unacked] == [{"repeated": True}] * 4
    assert len(sender.accepted) == 2


def test_a_paused_agent_collects_nothing_and_still_asks_the_server(tmp_path: Path) -> None:
    agent, sender = commanding(tmp_path, "pause")
    send_one(agent)
    assert agent.paused
    sender.central = {
        "config_version": 0,
        "settings": {},
        "commands": [{"id": 2, "kind": "resume"}],
    }
    before = len(sender.syncs)

    runner = threading.Thread(target=agent.run)
    runner.start()
    try:
        deadline = time.monotonic() + 5
        while agent.paused and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        agent.stop()
        runner.join()

    assert not agent.paused, "resumed by a sync of its own, with no batch to answer"
    assert len(sender.syncs) > before


def test_a_command_run_before_a_restart_is_not_run_again(tmp_path: Path) -> None:
    agent, _ = commanding(tmp_path, "collect_now")
    send_one(agent)

    restarted, sender = commanding(tmp_path, "collect_now")
    send_one(restarted)

    assert [a["result"] for a in restarted.commands.unacked] == [{"repeated": True}]
    assert len(sender.accepted) == 1, "no second collect-now batch"


def test_a_failure_while_following_the_server_never_stops_the_sending(tmp_path: Path) -> None:
    sender = ScriptedSender(
        [SendResult("accepted", 202, "ok", command=1)],
        central={"config_version": 0, "settings": {}, "commands": [{"kind": "pause"}]},  # no id
    )
    agent = Agent(config(tmp_path), sender)
    spool_batches(agent, 3)

    agent.send_pending(deadline=time.monotonic() + 2)

    assert len(sender.accepted) == 3 and agent.spool.pending == 0


def test_a_paused_agent_stays_paused_through_a_restart_until_resumed(tmp_path: Path) -> None:
    agent, _ = commanding(tmp_path, "pause")
    send_one(agent)

    restarted = Agent(config(tmp_path), ScriptedSender())
    assert restarted.paused
    restarted.run_command("resume")
    assert not Agent(config(tmp_path), ScriptedSender()).paused
