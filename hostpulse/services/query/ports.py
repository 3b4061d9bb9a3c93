"""What the query service reads: the PostgreSQL tiers, the hot tier and the live feed."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Sequence
    from datetime import datetime

    from hostpulse.core.responses import (
        AtAGlance,
        CompactSample,
        HostFactsView,
        LatestSample,
        ProcessPoint,
        ProcessRow,
    )
    from hostpulse.core.tiers import TierChoice
    from hostpulse.services.query.live import Message
    from hostpulse.services.query.rows import EncodedPoints, HostRow


class MetricReader(Protocol):
    def hosts(self, completeness_window_s: int, only: str | None = None) -> list[HostRow]:
        """Every host, or only the one named (none when unknown), with its batches over the
        window."""
        ...

    def host_known(self, host: str) -> bool: ...

    def metrics(self, host: str) -> list[str]: ...

    def series(
        self,
        host: str,
        metrics: Sequence[str],
        choice: TierChoice,
        start: datetime,
        end: datetime,
    ) -> dict[str, EncodedPoints]: ...

    def latest_processes(self, host: str) -> tuple[int, list[ProcessRow]] | None: ...

    def processes_between(
        self, host: str, start: datetime, end: datetime
    ) -> dict[int, list[ProcessRow]]:
        """Each stored sample's processes in [start, end), by its time in ms, busiest first."""

    def process_history(
        self, host: str, pid: int, start: datetime, end: datetime
    ) -> list[ProcessPoint]: ...


class HotReader(Protocol):
    def last_seen(self) -> dict[str, int]: ...

    def latest(self, host: str) -> LatestSample | None: ...

    def facts(self, only: str | None = None) -> dict[str, HostFactsView]: ...

    def window(self, host: str, since_ms: int) -> list[CompactSample]:
        """Compact samples ({"ts", "m"}) of the hot window newer than ``since_ms``, oldest first."""
        ...

    def glances(self, only: str | None = None) -> dict[str, AtAGlance]:
        """Every host's newest sample at a glance (or only one host's), as ingest last wrote
        it: its ``ts_ms`` is when ingest last saw the host."""
        ...


class LiveSource(Protocol):
    def messages(self) -> AsyncIterator[Message]:
        """SUBSCRIBED once listening, then every host's messages as they are published;
        raises when the source is lost."""
        ...
