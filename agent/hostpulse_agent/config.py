"""Agent configuration: a TOML file, then environment variables, then flags (flags win).

Validated at start; every message names the bad key and where it came from.
"""

from __future__ import annotations

import difflib
import os
import re
import socket
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from hostpulse_agent.host import check_host_root
from hostpulse_agent.text import host_name, is_safe_text

DEFAULT_CONFIG = Path("/etc/hostpulse/agent.toml")
ENV_PREFIX = "HOSTPULSE_AGENT_"
GROUPS = ("cpu", "load", "memory", "disks", "disk_io", "net", "uptime", "processes")
# The wire contract's bounds on host labels.
MAX_LABELS = 32
MAX_LABEL_KEY = 64
MAX_LABEL_VALUE = 256


class ConfigError(ValueError):
    """A configuration mistake; the message names the key and its source."""


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


def _positive(kind: type) -> Callable[[Any], Any]:
    def parse(value: Any) -> Any:
        number = kind(value)
        if number <= 0:
            raise ValueError("must be greater than 0")
        return number

    return parse


def _boolean(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off"):
        return False
    raise ValueError("must be true or false")


def _url(value: Any) -> str:
    text = str(value).strip()
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError("must be an http:// or https:// URL")
    return text


def _groups(value: Any) -> frozenset[str]:
    items = value if isinstance(value, list) else [g for g in str(value).split(",") if g.strip()]
    chosen = frozenset(str(g).strip() for g in items)
    unknown = sorted(chosen - set(GROUPS))
    if unknown:
        raise ValueError(f"unknown group(s) {', '.join(unknown)}; known: {', '.join(GROUPS)}")
    return chosen


def _labels(value: Any) -> dict[str, str]:
    if isinstance(value, dict):
        result = {str(k): str(v) for k, v in value.items()}
    else:
        result = {}
        for pair in (p for p in str(value).split(",") if p.strip()):
            key, sep, val = pair.partition("=")
            if not sep:
                raise ValueError("must be key=value pairs separated by commas")
            result[key.strip()] = val.strip()
    # The server refuses a batch with a bad label: better said once here than on every batch.
    if len(result) > MAX_LABELS:
        raise ValueError(f"at most {MAX_LABELS} labels")
    for key, val in result.items():
        if not 1 <= len(key) <= MAX_LABEL_KEY or not is_safe_text(key):
            raise ValueError(f"label name {key!r} must be 1-{MAX_LABEL_KEY} printable characters")
        if len(val) > MAX_LABEL_VALUE or not is_safe_text(val):
            raise ValueError(
                f"label {key!r}: value must be at most {MAX_LABEL_VALUE} printable characters"
            )
    return result


def _hostname(value: Any) -> str:
    text = str(value).strip()
    if not text or host_name(text) != text:
        raise ValueError(
            "must be 1-253 letters, digits, '.', '_' or '-', starting with a letter or digit"
        )
    return text


def _agent_id(value: Any) -> str:
    text = str(value)
    if not re.match(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$", text):
        raise ValueError(
            "must be 1-63 letters, digits, '.', '_' or '-', starting with one of the first two"
        )
    return text


def _level(value: Any) -> str:
    text = str(value).upper()
    if text not in ("DEBUG", "INFO", "WARNING", "ERROR"):
        raise ValueError("must be DEBUG, INFO, WARNING or ERROR")
    return text


PARSERS: dict[str, Callable[[Any], Any]] = {
    "ingest_url": _url,
    "token": str,
    "token_file": Path,
    "agent_id": _agent_id,
    "interval_s": _positive(float),
    "send_every_s": _positive(float),
    "top_n": _positive(int),
    "state_dir": Path,
    "spool_max_bytes": _positive(int),
    "timeout_s": _positive(float),
    "tls_verify": _boolean,
    "ca_file": Path,
    "shutdown_deadline_s": _positive(float),
    "log_level": _level,
    "groups": _groups,
    "labels": _labels,
    "hostname": _hostname,
    "host_root": lambda value: check_host_root(Path(value)),
}


def _suggest(key: str) -> str:
    close = difflib.get_close_matches(key, PARSERS, n=1)
    return f" (did you mean '{close[0]}'?)" if close else ""


def _parse(raw: Mapping[str, Any], source: Callable[[str], str]) -> dict[str, Any]:
    parsed = {}
    for key, value in raw.items():
        if key not in PARSERS:
            raise ConfigError(f"unknown key '{key}' in {source(key)}{_suggest(key)}")
        try:
            parsed[key] = PARSERS[key](value)
        except (TypeError, ValueError) as error:
            raise ConfigError(f"{key}: {error} (got {value!r} from {source(key)})") from None
    return parsed


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
    merged.setdefault("agent_id", _agent_id(re.sub(r"[^A-Za-z0-9._-]", "-", named)[:63]))
    known = {f.name for f in fields(AgentConfig)}
    return AgentConfig(**{k: v for k, v in merged.items() if k in known})


def environment() -> Mapping[str, str]:
    return os.environ
