"""The rules a setting of the agent is checked by, wherever it comes from: its file, its
environment, its flags, or the server's central configuration (which checks with these same
rules before any agent sees a change), and what text the agent may send (``text``). Its own
package, in both wheels (the agent's and the server's), so that the server carries these rules
and nothing else of the agent. Standard library only.
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from hostpulse_agent_rules.text import host_name, is_safe_text

GROUPS = ("cpu", "load", "memory", "disks", "disk_io", "net", "uptime", "processes")
# The wire contract's bounds on host labels.
MAX_LABELS = 32
MAX_LABEL_KEY = 64
MAX_LABEL_VALUE = 256
MAX_TOP_N = 200  # processes per sample
# What the server's central configuration may set; everything else (where to send, the token,
# local paths) belongs to the host alone.
REMOTE_KEYS = ("interval_s", "send_every_s", "top_n", "groups", "labels", "log_level")


class ConfigError(ValueError):
    """A configuration mistake; the message names the key and its source."""


def _positive(kind: type, most: float = math.inf) -> Callable[[Any], Any]:
    def parse(value: Any) -> Any:
        number = kind(value)
        if not math.isfinite(number) or number <= 0:
            raise ValueError("must be a number greater than 0")
        if number > most:
            raise ValueError(f"must be at most {most:g}")
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


def _names(value: Any, known: tuple[str, ...]) -> tuple[frozenset[str], list[str]]:
    """Names from a list or a comma-separated string, and those of them not in ``known``."""
    items = value if isinstance(value, list) else [n for n in str(value).split(",") if n.strip()]
    chosen = frozenset(str(n).strip() for n in items)
    return chosen, sorted(chosen - set(known))


def _groups(value: Any) -> frozenset[str]:
    chosen, unknown = _names(value, GROUPS)
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


def _pinned(value: Any) -> frozenset[str]:
    chosen, unknown = _names(value, REMOTE_KEYS)
    if unknown:
        raise ValueError(
            f"only centrally set keys can be pinned, not {', '.join(unknown)};"
            f" those are: {', '.join(REMOTE_KEYS)}"
        )
    return chosen


RULES: dict[str, Callable[[Any], Any]] = {
    "ingest_url": _url,
    "token": str,
    "token_file": Path,
    "agent_id": _agent_id,
    "interval_s": _positive(float),
    "send_every_s": _positive(float),
    "top_n": _positive(int, MAX_TOP_N),
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
    "pinned": _pinned,
}


def parse(
    raw: Mapping[str, Any],
    source: Callable[[str], str],
    parsers: Mapping[str, Callable[[Any], Any]] = RULES,
) -> dict[str, Any]:
    """Each value by its key's rule; an unknown key or a bad value raises ``ConfigError``."""
    parsed = {}
    for key, value in raw.items():
        if key not in parsers:
            raise ConfigError(f"unknown key '{key}' in {source(key)}{_suggest(key, parsers)}")
        try:
            parsed[key] = parsers[key](value)
        except (TypeError, ValueError, OverflowError) as error:
            shown = repr(value)[:200]
            raise ConfigError(f"{key}: {error} (got {shown} from {source(key)})") from None
    return parsed


def parse_remote(raw: Mapping[str, Any], source: str) -> dict[str, Any]:
    """Settings of the server's central configuration, by the same rules as the file's."""
    remote = {key: RULES[key] for key in REMOTE_KEYS}
    return parse(raw, lambda key: source, remote)


def _suggest(key: str, parsers: Mapping[str, Any]) -> str:
    close = difflib.get_close_matches(key, parsers, n=1)
    return f" (did you mean '{close[0]}'?)" if close else ""
