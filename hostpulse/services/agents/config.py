"""Central agent configuration: the settings the server wants agents to run, for every agent
(``all``), a group of hosts by label (``label:role=db``) or one host (``host:web-01``).

Every change is a new version in an append-only history that says who made it; removing a
scope's settings is a change too, so the version a host should run only ever grows. A host's
desired settings are its scopes' merged (all, then its groups oldest change first, then the
host itself), and its version is the newest change among them. Settings are checked with the
agent's own rules (``hostpulse_agent_rules``) before they are stored: a bad value never reaches
an agent.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from hostpulse.core.contract import HOSTNAME, SAFE_TEXT, canonical_host
from hostpulse.services.agents.ports import AgentConfigStore
from hostpulse_agent_rules import REMOTE_KEYS, ConfigError, parse_remote

ScopeKind = Literal["all", "label", "host"]
_PRECEDENCE = {"all": 0, "label": 1, "host": 2}
_LABEL = re.compile(r"^([^=]{1,64})=(.{0,256})$")


class AgentConfigError(ValueError):
    """A change that cannot be made; the message says why."""


@dataclass(frozen=True)
class Scope:
    kind: ScopeKind
    value: str = ""  # '' for all, 'key=value' for a label, the host name for a host

    @classmethod
    def parse(cls, text: str) -> Scope:
        if text == "all":
            return cls("all")
        kind, _, value = text.partition(":")
        if kind == "host" and re.match(HOSTNAME, value):
            return cls("host", canonical_host(value))
        label = _LABEL.match(value)
        if kind == "label" and label and all(re.match(SAFE_TEXT, part) for part in label.groups()):
            return cls("label", value)
        raise AgentConfigError(
            f"{text!r} is not a scope: 'all', 'label:KEY=VALUE' or 'host:HOSTNAME'"
        )

    def applies_to(self, host: str, labels: Mapping[str, str]) -> bool:
        if self.kind == "all":
            return True
        if self.kind == "host":
            return self.value == host
        key, _, value = self.value.partition("=")
        return labels.get(key) == value

    def __str__(self) -> str:
        return self.kind if self.kind == "all" else f"{self.kind}:{self.value}"


@dataclass(frozen=True)
class ConfigChange:
    version: int
    scope: Scope
    settings: Mapping[str, Any] | None  # None: the scope's settings were removed
    changed_by: str
    changed_at: datetime


@dataclass(frozen=True)
class DesiredConfig:
    version: int  # 0: nothing was ever set for the host
    settings: Mapping[str, Any]


def checked(scope: Scope, raw: Mapping[str, Any]) -> dict[str, Any]:
    """``raw`` by the agent's own rules, as JSON values; raises ``AgentConfigError``."""
    try:
        parsed = parse_remote(raw, f"the central configuration of {scope}")
    except ConfigError as error:
        raise AgentConfigError(str(error)) from None
    if scope.kind == "label" and "labels" in parsed:
        # A group is chosen by its labels: setting them from the group could move its hosts
        # out of it, and back, at every sync.
        raise AgentConfigError(
            "labels are set for all agents or for one host, not for a group chosen by a label"
        )
    return {key: sorted(value) if key == "groups" else value for key, value in parsed.items()}


def desired_for(
    current: Sequence[ConfigChange], host: str, labels: Mapping[str, str]
) -> DesiredConfig:
    applying = [change for change in current if change.scope.applies_to(host, labels)]
    merged: dict[str, Any] = {}
    for change in sorted(applying, key=lambda c: (_PRECEDENCE[c.scope.kind], c.version)):
        for key, value in (change.settings or {}).items():
            if key == "labels":  # label by label: one host's label keeps the fleet's others
                merged["labels"] = {**merged.get("labels", {}), **value}
            else:
                merged[key] = value
    return DesiredConfig(max((c.version for c in applying), default=0), merged)


class AgentConfigs:
    def __init__(self, store: AgentConfigStore) -> None:
        self.store = store

    def set(self, scope: Scope, raw: Mapping[str, Any], changed_by: str) -> ConfigChange:
        """Adds ``raw`` to the scope's settings (a key given again takes the new value)."""
        if not raw:
            raise AgentConfigError("name at least one setting, as KEY=VALUE")
        settings = {**self._settings_of(scope), **checked(scope, raw)}
        return self.store.append(scope, settings, changed_by)

    def unset(self, scope: Scope, keys: Sequence[str], changed_by: str) -> ConfigChange:
        """Removes ``keys`` from the scope's settings, or all of them when none are named."""
        unknown = sorted(set(keys) - set(REMOTE_KEYS))
        if unknown:
            raise AgentConfigError(
                f"unknown setting(s) {', '.join(unknown)}; known: {', '.join(REMOTE_KEYS)}"
            )
        before = self._settings_of(scope)
        if not before:
            raise AgentConfigError(f"nothing is set for {scope}")
        kept = {key: value for key, value in before.items() if keys and key not in keys}
        return self.store.append(scope, kept or None, changed_by)

    def desired(self, host: str, labels: Mapping[str, str]) -> DesiredConfig:
        return desired_for(self.store.current(), host, labels)

    def current(self) -> list[ConfigChange]:
        return [change for change in self.store.current() if change.settings is not None]

    def history(self, scope: Scope | None = None, limit: int = 50) -> list[ConfigChange]:
        return self.store.history(scope, limit)

    def _settings_of(self, scope: Scope) -> Mapping[str, Any]:
        found = next((c for c in self.store.current() if c.scope == scope), None)
        return (found.settings or {}) if found else {}
