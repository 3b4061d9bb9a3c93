"""Text the agent reports, made safe to send: what the server's contract accepts.

Process names, command lines, mount points and interface names are chosen by whoever runs
things on the host. A control character or a bidirectional override in one of them must not
get every batch of the host refused, so it is replaced, never sent.
"""

from __future__ import annotations

import re
from typing import Any

# The same characters the wire contract refuses (hostpulse.core.contract.SAFE_TEXT).
UNSAFE = re.compile("[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
REPLACEMENT = "\ufffd"
HOST_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")


def safe_text(value: str, limit: int) -> str:
    """``value`` with unsafe characters replaced, cut to ``limit`` characters."""
    return UNSAFE.sub(REPLACEMENT, value)[:limit]


def first_of_each(entries: list[dict[str, Any]], key: str) -> list[dict[str, Any]]:
    """One entry per name: two names made safe can become one, and the contract refuses a
    name twice in a sample."""
    seen: set[Any] = set()
    kept = []
    for entry in entries:
        if entry[key] not in seen:
            seen.add(entry[key])
            kept.append(entry)
    return kept


def is_safe_text(value: str) -> bool:
    return UNSAFE.search(value) is None


def host_name(raw: str) -> str:
    """A host name the contract accepts: letters, digits, '.', '_' and '-', starting with a
    letter or digit."""
    name = HOST_UNSAFE.sub("-", raw).lstrip("._-")[:253]
    return name or "unnamed-host"
