"""What a simulated fleet sends through."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from hostpulse.simulation.fleet import Reply


class Transport(Protocol):
    def post(self, url: str, body: bytes, headers: dict[str, str]) -> Reply:
        """The answer; raises OSError-like errors when the endpoint is unreachable."""
