"""Agent configuration: a TOML file, then environment variables, then flags (flags win).

Validated at start; every message names the bad key and where it came from.
"""

from __future__ import annotations

import os
import re
import socket
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from hostpulse_agent.host import check_host_root
from hostpulse_agent_rules import GROUPS, RULES, ConfigError, parse

__all__ = ["GROUPS", "AgentConfig", "ConfigError", "environment", "load_config"]

DEFAULT_CONFIG = Path("/etc/hostpulse/agent.toml")
ENV_PREFIX = "HOSTPULSE_AGENT_"


@dataclass(frozen=True)
class AgentConfig:
    ingest_url: str
    token: str
    agent_id: str
    interval_s: float = 5.0
    send_every_s: float = 10.0
    top_n: int = 10
    state_dir: Path = Path("/var/lib/hostpulse-agent")
    spool_max_bytes: int = 256 * 1024 * 1024
    timeout_s: float = 30.0
    tls_verify: bool = True
    ca_file: Path | None = None
    shutdown_deadline_s: float = 10.0
    log_level: str = "INFO"
    groups: frozenset[str] = field(default_factory=lambda: frozenset(GROUPS))
    labels: Mapping[str, str] = field(default_factory=dict)
    # In a container: the host's name (a DaemonSet passes its node's) and where the host's /
    # is mounted, read-only, so that the host is measured instead of the container.
    hostname: str | None = None
    host_root: Path | None = None
    # Settings the server's central configuration may not change on this host.
    pinned: frozenset[str] = frozenset()


PARSERS: dict[str, Callable[[Any], Any]] = {
    **RULES,
    "host_root": lambda value: check_host_root(Path(value)),
}


def _parse(raw: Mapping[str, Any], source: Callable[[str], str]) -> dict[str, Any]:
    return parse(raw, source, PARSERS)


def read_file(path: Path, explicit: bool) -> dict[str, Any]:
    if not path.exists():
        if explicit:
            raise ConfigError(f"config file {path} does not exist")
        return {}
    try:
        data = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as error:
        raise ConfigError(f"{path}: {error}") from None
    return _parse(data, lambda key: str(path))


def read_env(environ: Mapping[str, str]) -> dict[str, Any]:
    raw = {
        name[len(ENV_PREFIX) :].lower(): value
        for name, value in environ.items()
        if name.startswith(ENV_PREFIX) and name != f"{ENV_PREFIX}CONFIG"
    }
    return _parse(raw, lambda key: f"${ENV_PREFIX}{key.upper()}")


def load_config(
    path: Path | None,
    environ: Mapping[str, str],
    flags: Mapping[str, Any],
) -> AgentConfig:
    """File, then environment, then flags; each later source overrides the earlier ones."""
    explicit = path is not None or f"{ENV_PREFIX}CONFIG" in environ
    file = path or Path(environ.get(f"{ENV_PREFIX}CONFIG", DEFAULT_CONFIG))
    merged = {
        **read_file(file, explicit),
        **read_env(environ),
        **_parse({k: v for k, v in flags.items() if v is not None}, lambda key: f"--{key}"),
    }
    token_file = merged.pop("token_file", None)
    if not merged.get("token") and token_file is not None:
        try:
            merged["token"] = Path(token_file).read_text().strip()
        except OSError as error:
            raise ConfigError(f"token_file: cannot read {token_file}: {error.strerror}") from None
    for required in ("ingest_url", "token"):
        if not merged.get(required):
            hint = " or token_file" if required == "token" else ""
            raise ConfigError(
                f"{required}{hint} is required: set it in {file}, "
                f"${ENV_PREFIX}{required.upper()} or --{required}"
            )
    named = merged.get("hostname") or socket.gethostname()
    merged.setdefault("agent_id", RULES["agent_id"](re.sub(r"[^A-Za-z0-9._-]", "-", named)[:63]))
    known = {f.name for f in fields(AgentConfig)}
    return AgentConfig(**{k: v for k, v in merged.items() if k in known})


def environment() -> Mapping[str, str]:
    return os.environ
