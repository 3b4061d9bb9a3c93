"""The fleet as the host list shows it: each host's status from when it was last seen, its
newest figures, and how complete its batches are."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import cast

from hostpulse.core.contract import canonical_host
from hostpulse.core.responses import AtAGlance, Completeness, HostEntry, HostFactsView, HostStatus
from hostpulse.services.query.ports import HotReader, MetricReader
from hostpulse.services.query.rows import HostRow


def completeness(row: HostRow) -> Completeness:
    """Received against expected batches, from the gaps in each agent's sequence numbers."""
    received, expected = row.batches_received, row.batches_expected
    return {
        "batches": received,
        "missing_batches": expected - received,
        "percent": round(100.0 * received / expected, 2) if expected else None,
    }


def host_status(last_seen_ms: int, now_ms: int, stale_s: int, down_s: int) -> HostStatus:
    age_s = (now_ms - last_seen_ms) / 1000
    if age_s <= stale_s:
        return "live"
    return "stale" if age_s <= down_s else "down"


@dataclass(frozen=True)
class HostAges:
    """When a silent host counts as stale and as down, and how far back completeness looks."""

    stale_s: int = 30
    down_s: int = 120
    completeness_window_s: int = 24 * 3600
    glance_s: int = 600  # a silent host's last figures are shown as long as the hot tier keeps it


DEFAULT_AGES = HostAges()


def fleet_hosts(  # noqa: PLR0913 -- the stores, the clock, and which hosts
    reader: MetricReader,
    hot: HotReader,
    ages: HostAges,
    now: datetime,
    *,
    retired: bool = False,
    only: str | None = None,
) -> tuple[list[HostEntry], int]:
    """The fleet (``retired``: the retired hosts instead; ``only``: that host alone, retired
    or not) with each host's status, newest figures and completeness: PostgreSQL's hosts, and
    those ingest saw that aggregation has not stored yet; and how many hosts the list left out
    as retired."""
    now_ms = int(now.timestamp() * 1000)
    glances = hot.glances(only)  # one read: when ingest last saw each host, and its figures
    answer: list[HostEntry] = []
    rows = reader.hosts(ages.completeness_window_s, only)
    out = {row.host for row in rows if is_retired(row, glances.get(row.host))}
    for row in rows:
        if only is None and (row.host in out) != retired:
            continue
        glance = glances.get(row.host)
        answer.append(
            _entry(
                ages,
                row.host,
                max(row.last_seen_ms, glance["ts_ms"] if glance else 0),
                glance,
                now_ms,
                agent_id=row.agent_id,
                first_seen_ms=row.first_seen_ms,
                last_received_ms=row.last_received_ms,
                # The seed's snapshots and OTLP carry time, not a sequence: no gaps to count.
                completeness=None if row.unnumbered else completeness(row),
                facts=cast(HostFactsView, row.facts),
            )
        )
        if row.host in out and row.retired_ms is not None:
            answer[-1]["status"], answer[-1]["retired_ms"] = "retired", row.retired_ms
    if retired:
        return answer, len(out)
    known = {row.host for row in rows}
    # A spelling from before hosts took one (migration 0015) lingers in the hot tier until
    # its keys expire: not a host of its own.
    new_hosts = sorted(h for h in glances if h not in known and h == canonical_host(h))
    facts = hot.facts(only) if new_hosts else {}
    for host in new_hosts:  # seen by ingest, not yet aggregated
        glance = glances[host]
        answer.append(
            _entry(
                ages,
                host,
                glance["ts_ms"],
                glance,
                now_ms,
                agent_id=None,
                first_seen_ms=glance["ts_ms"],
                last_received_ms=None,
                completeness=None,
                facts=facts.get(host, {}),
            )
        )
    return answer, len(out)


def is_retired(row: HostRow, glance: AtAGlance | None) -> bool:
    """Retired, and not back: ingest has seen nothing of it since (aggregation clears it)."""
    return row.retired_ms is not None and (glance is None or glance["ts_ms"] <= row.retired_ms)


def _entry(  # noqa: PLR0913 -- one host's entry, from PostgreSQL or from the hot tier
    ages: HostAges,
    host: str,
    last_seen_ms: int,
    glance: AtAGlance | None,
    now_ms: int,
    *,
    agent_id: str | None,
    first_seen_ms: int,
    last_received_ms: int | None,
    completeness: Completeness | None,
    facts: HostFactsView,
) -> HostEntry:
    # A silent host's last figures are shown only as long as the hot tier would keep them.
    shown = glance is not None and glance["ts_ms"] >= now_ms - ages.glance_s * 1000
    return {
        "host": host,
        "agent_id": agent_id,
        "status": host_status(last_seen_ms, now_ms, ages.stale_s, ages.down_s),
        "last_seen_ms": last_seen_ms,
        "first_seen_ms": first_seen_ms,
        "last_received_ms": last_received_ms,
        "completeness": completeness,
        "facts": facts,
        "now": glance if shown else None,
    }
