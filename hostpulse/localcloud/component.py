"""What the supervisor needs from each part of the local cloud."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class Health:
    name: str
    address: str
    healthy: bool
    detail: str = ""


class Component(Protocol):
    name: str

    def start(self) -> None:
        """Start (or attach to) the component and return once it is healthy."""

    def stop(self) -> None:
        """Stop what start() started; external servers are left alone."""

    def health(self) -> Health: ...

    def crash(self) -> str | None:
        """Why a started process died, or None while it runs."""
