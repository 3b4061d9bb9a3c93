"""Regular expressions as Prometheus runs them: RE2 (Go's syntax, and time linear in the
text whatever the pattern, so that no matcher can make a query run for ever), anchored at
both ends."""

from __future__ import annotations

from typing import Any

import re2  # type: ignore[import-untyped]  # no stubs published

Pattern = Any  # re2's compiled pattern: the package ships no type information
_OPTIONS = re2.Options()
_OPTIONS.log_errors = False  # a user's bad pattern is an answer, not a log line


def anchored(pattern: str) -> Pattern | None:
    """``^(?:pattern)$`` compiled, or None when it is not a valid expression."""
    try:
        return re2.compile(f"^(?:{pattern})$", options=_OPTIONS)
    except re2.error:
        return None


def expand(found: Any, template: str) -> str:
    """A replacement with its group references filled in; a reference to a group the
    pattern does not have expands to nothing, as in Go."""
    try:
        return str(found.expand(template))
    except (IndexError, re2.error):
        return ""
