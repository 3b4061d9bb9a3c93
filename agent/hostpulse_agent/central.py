"""The server's central configuration, applied over the host's own.

The host's own settings (file, environment, flags) are the base; the server's settings for
this host replace them key by key, labels label by label, except the keys the host pins. A
setting the server leaves out goes back to the host's own value. Every value is checked with
the same rules as the file's; a configuration that fails them is refused whole and the agent
keeps running what it runs. The last applied one is kept in the state folder, so a restart
runs it at once instead of waiting for the server.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from hostpulse_agent.config import AgentConfig
from hostpulse_agent_rules import ConfigError, parse_remote


@dataclass(frozen=True)
class Central:
    version: int
    settings: Mapping[str, Any]


def applied(local: AgentConfig, central: Central) -> tuple[AgentConfig, list[str]]:
    """The configuration to run and the pinned keys the server's would have changed.
    Raises ``ConfigError`` when the server's settings break the agent's rules."""
    parsed = parse_remote(central.settings, f"the server's configuration v{central.version}")
    pinned = sorted(key for key in parsed if key in local.pinned)
    changes = {key: value for key, value in parsed.items() if key not in local.pinned}
    if "labels" in changes:
        changes["labels"] = {**local.labels, **changes["labels"]}
    return replace(local, **changes), pinned


def load(path: Path) -> Central | None:
    try:
        kept = json.loads(path.read_text())
        return Central(int(kept["version"]), dict(kept["settings"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None  # none yet, or unreadable: the server sends it again


def save(path: Path, central: Central) -> None:
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps({"version": central.version, "settings": central.settings}))
    os.replace(temporary, path)


class Commands:
    """The server's commands this agent ran: each once, in order, even across restarts (the
    newest id run is kept on disk before it is acknowledged), and the acknowledgements owed."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            self.done_through = int(path.read_text().strip())
        except (OSError, ValueError):
            self.done_through = 0
        self.unacked: list[dict[str, Any]] = []

    def run(self, command: Mapping[str, Any], execute: Callable[[str], dict[str, object]]) -> None:
        command_id = int(command["id"])
        if command_id > self.done_through:
            self.done_through = command_id
            # A full disk: run it all the same, and maybe again after a restart.
            with contextlib.suppress(OSError):
                self.path.write_text(str(command_id))
            result = execute(str(command["kind"]))
        else:
            result = {"repeated": True}  # ran before its acknowledgement was lost: not again
        self.unacked.append({"id": command_id, "result": result})


__all__ = ["Central", "Commands", "ConfigError", "applied", "load", "save"]
