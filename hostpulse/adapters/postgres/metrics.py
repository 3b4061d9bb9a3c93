"""The metric tiers on PostgreSQL: idempotent batch writes, partitions, retention, and the
query API's reads. Their SQL is in ``metrics_sql``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from itertools import pairwise
from typing import Any

import psycopg2.errors

from hostpulse.adapters.postgres import metrics_sql as sql
from hostpulse.adapters.postgres.connector import PgConnector
from hostpulse.adapters.postgres.copy_rows import (
    BINARY,
    copied,
    copy_lines,
    copy_text,
    copy_timestamp,
    processes_line,
    raw_row,
    series_array,
)
from hostpulse.adapters.postgres.process_documents import process_points, processes_by_time
from hostpulse.core.contract import Batch, metric_values
from hostpulse.core.partitions import day_of_ms, days_of_span, partition_name
from hostpulse.core.prometheus_names import is_counter
from hostpulse.core.responses import ProcessPoint, ProcessRow
from hostpulse.core.tiers import Tier, TierChoice, default_tiers, read_chain
from hostpulse.services.aggregate.service import Claim
from hostpulse.services.query.rows import EncodedJson, EncodedPoints, HostRow


def as_columns(rows: Sequence[tuple[Any, ...]]) -> list[list[Any]]:
    """Rows (at least one) as the arrays an ``unnest`` statement takes, a column each."""
    return [list(column) for column in zip(*rows, strict=True)]


def host_columns(batches: Sequence[Batch]) -> list[list[Any]]:
    """``UPSERT_HOSTS``'s columns, one entry per host: the agent and facts of its last batch
    in delivery order, the span of all its batches' samples."""
    spans: dict[str, tuple[Batch, int, int]] = {}
    for b in batches:
        stamps = [s.ts_ms for s in b.samples]
        first, last = min(stamps), max(stamps)
        if (known := spans.get(b.host.hostname)) is not None:
            first, last = min(first, known[1]), max(last, known[2])
        spans[b.host.hostname] = (b, first, last)
    return as_columns(
        [
            (host, b.agent_id, b.host.model_dump_json(), first, last)
            for host, (b, first, last) in spans.items()
        ]
    )


def claimed(
    batches: Sequence[Batch], known_rows: Sequence[tuple[str, int, int]]
) -> tuple[list[Claim], list[tuple[Any, ...]]]:
    """Per batch, what becomes of it, and the ``INSERT_BATCHES`` rows of the new ones: one
    batch per (agent, seq), recorded here or in any earlier transaction (``known_rows``:
    ``KNOWN_BATCHES``' answer).

    The same (agent, seq) with the same first timestamp is the same batch delivered again;
    with another, a reused sequence number, skipped whole rather than half stored.
    """
    known = {(agent, seq): first for agent, seq, first in known_rows}
    claims: list[Claim] = []
    new: list[tuple[Any, ...]] = []
    for b in batches:
        stamps = [s.ts_ms for s in b.samples]
        first = known.get((b.agent_id, b.seq))
        if first is not None:
            claims.append(Claim.DUPLICATE if first == min(stamps) else Claim.REUSED_SEQ)
            continue
        known[(b.agent_id, b.seq)] = min(stamps)
        claims.append(Claim.NEW)
        new.append((b.agent_id, b.seq, b.host.hostname, min(stamps), max(stamps), len(stamps)))
    return claims, new


Layout = tuple[str, tuple[str, ...]]  # a host and the metrics of one of its samples, in order
MAX_LAYOUTS = 100_000


@dataclass(frozen=True)
class NewIds:
    """What a write learnt of series ids, kept once its transaction commits."""

    series: dict[tuple[str, str], int] = field(default_factory=dict)
    layouts: dict[Layout, bytes] = field(default_factory=dict)


class PgMetricStore:
    def __init__(self, connector: PgConnector) -> None:
        self.connector = connector
        self._series_ids: dict[tuple[str, str], int] = {}
        self._layouts: dict[Layout, bytes] = {}  # a host's metrics, in order: their series array
        self._partitions: set[str] = set()
        self._generation = connector.generation

    def _forget_if_another_database(self) -> None:
        """Cached series ids and partitions describe one database: with another behind the
        same URL (restored, failed over, recreated), they would write rows to the wrong
        series, or to partitions that do not exist."""
        if self._generation != self.connector.generation:
            self._series_ids.clear()
            self._layouts.clear()
            self._partitions.clear()
            self._generation = self.connector.generation

    # -- writes -----------------------------------------------------------------------------

    def write_batch(self, batch: Batch) -> bool:
        """Store a batch in every PostgreSQL tier; False when it was stored before."""
        return self.write_batches([batch])[0] is Claim.NEW

    def write_batches(self, batches: Sequence[Batch]) -> list[Claim]:
        """Store several batches in one transaction; per batch, what became of it.

        New samples are COPied into the raw tier, a row each; a sample whose minute is rolled up
        already is staged, and the values of the raw rows it inserts are merged into the rolled
        buckets.
        """
        try:
            return self._write_batches(batches)
        except psycopg2.errors.CheckViolation as error:
            if "no partition" not in str(error):
                raise
            # A partition this process created is gone (dropped elsewhere): make it again.
            self._partitions.clear()
            return self._write_batches(batches)

    def _write_batches(self, batches: Sequence[Batch]) -> list[Claim]:
        # Partitions first, in a transaction of their own: a new one locks its whole table
        # against every read until its transaction ends, and the write's may wait on others.
        self.ensure_partitions({day_of_ms(s.ts_ms) for b in batches for s in b.samples})
        with self.connector.transaction() as cur:
            self._forget_if_another_database()
            keys = {f"host:{b.host.hostname}" for b in batches}
            keys |= {f"agent:{b.agent_id}" for b in batches}
            # Statements that need nothing from each other's answers go in one round trip (a
            # round trip costs as much as a statement beside a busy database): the locks, in
            # one order for every writer, then what is known of the batches; then what is new,
            # and the watermark.
            cur.execute(
                f"{sql.LOCK_KEYS};\n{sql.KNOWN_BATCHES}",
                (sorted(keys), [b.agent_id for b in batches], [b.seq for b in batches]),
            )
            claims, new_batches = claimed(batches, cur.fetchall())
            fresh = [b for b, claim in zip(batches, claims, strict=True) if claim is Claim.NEW]
            statements: list[str] = []
            params: list[Any] = []
            if fresh:
                statements += [sql.INSERT_BATCHES, sql.UPSERT_HOSTS]
                params += [*as_columns(new_batches), *host_columns(fresh)]
            statements += [sql.LOCK_ROLLUP_SHARED, sql.TIER_WATERMARK]
            cur.execute(";\n".join(statements), (*params, "1m"))
            (minutes_rolled,) = cur.fetchone()
            new = self._write_metrics(cur, fresh, int(minutes_rolled.timestamp() * 1000))
            self._write_processes(cur, fresh)
        # Only once committed: a rolled-back transaction takes its series along.
        self._series_ids.update(new.series)
        if len(self._layouts) + len(new.layouts) > MAX_LAYOUTS:
            self._layouts.clear()  # hosts come and go: what is still sent is made again
        self._layouts.update(new.layouts)
        return claims

    def _write_metrics(self, cur: Any, batches: Sequence[Batch], rolled_ms: int) -> NewIds:
        """Raw rows: COPied when their minute is not rolled up yet (the live fleet), staged and
        merged into the rolled buckets when it is (``rolled_ms``: the 1-minute watermark)."""
        samples: list[tuple[str, int, tuple[str, ...], tuple[float, ...]]] = []
        for b in batches:
            for s in b.samples:
                pairs = list(metric_values(s))
                metrics, values = tuple(zip(*pairs, strict=True)) if pairs else ((), ())
                samples.append((b.host.hostname, s.ts_ms, metrics, values))
        if not any(metrics for _, _, metrics, _ in samples):
            return NewIds()
        # A host sends the same metrics sample after sample: their series array is made once.
        unknown = {(h, m) for h, _, m, _ in samples if (h, m) not in self._layouts}
        new_series = self._new_series(cur, {(h, metric) for h, m in unknown for metric in m})
        ids = {**self._series_ids, **new_series} if unknown else self._series_ids
        new = NewIds(new_series, {(h, m): series_array(h, m, ids) for h, m in unknown})
        layouts = {**self._layouts, **new.layouts} if unknown else self._layouts

        def row(
            host: str, ts_ms: int, metrics: tuple[str, ...], values: tuple[float, ...]
        ) -> bytes:
            return raw_row(host, ts_ms, layouts[(host, metrics)], values)

        late = [row(*sample) for sample in samples if sample[1] < rolled_ms]
        if len(late) < len(samples):
            live = (row(*sample) for sample in samples if sample[1] >= rolled_ms)
            # Rows stored before come back: staged, skipped.
            late += copied(cur, sql.COPY_RAW, live, BINARY) or []
        if late:
            cur.execute(sql.CREATE_STAGING)
            copy_lines(cur, sql.COPY_STAGED_RAW, late, BINARY)
            cur.execute(sql.INSERT_RAW_AND_MERGE)
            (inserted,) = cur.fetchone()
            if inserted < len(late):  # some were stored before: what they add, if anything
                cur.execute(sql.APPEND_RAW_AND_MERGE)
        return new

    def _new_series(self, cur: Any, keys: set[tuple[str, str]]) -> dict[tuple[str, str], int]:
        missing = sorted(keys - self._series_ids.keys())
        if not missing:
            return {}
        hosts, metrics = [h for h, _ in missing], [m for _, m in missing]
        cur.execute(sql.ENSURE_SERIES, (hosts, metrics, [is_counter(m) for m in metrics]))
        cur.execute(sql.SELECT_SERIES, (hosts, metrics))
        return {(host, metric): series_id for host, metric, series_id in cur.fetchall()}

    def _write_processes(self, cur: Any, batches: Sequence[Batch]) -> None:
        if not any(s.processes for b in batches for s in b.samples):
            return
        lines = (
            processes_line(host, copy_timestamp(s.ts_ms), s.processes)
            for b in batches
            for host in [copy_text(b.host.hostname)]
            for s in b.samples
            if s.processes
        )  # fmt: skip
        if (stored_before := copied(cur, sql.COPY_PROCESSES, lines)) is not None:
            cur.execute(sql.CREATE_STAGING)
            copy_lines(cur, sql.COPY_STAGED_PROCESSES, stored_before)
            cur.execute(sql.INSERT_PROCESSES)

    def ensure_partitions(self, days: set[date]) -> None:
        """Day partitions of every tier for ``days``, in a short transaction of their own; no
        round trip when this process made or met them all before."""
        self._forget_if_another_database()
        wanted = [
            (table, day, partition_name(table, day))
            for day in sorted(days)
            for table in sql.PARTITIONED_TABLES
        ]
        if all(name in self._partitions for _, _, name in wanted):
            return
        with self.connector.transaction() as cur:
            self._forget_if_another_database()  # again: the transaction may have reconnected
            for table, day, name in wanted:
                if name in self._partitions:
                    continue
                # Concurrent writers creating the same partition would collide; the lock
                # (held to the end of the transaction) makes the second one a no-op.
                cur.execute(sql.LOCK_KEYS, ([name],))
                cur.execute(
                    sql.CREATE_PARTITION.format(
                        partition=name,
                        table=table,
                        start=day.isoformat(),
                        end=(day + timedelta(days=1)).isoformat(),
                    )
                )
        self._partitions.update(name for _, _, name in wanted)

    # -- rolled tiers -----------------------------------------------------------------------

    def watermarks(self) -> dict[str, datetime]:
        with self.connector.transaction() as cur:
            cur.execute(sql.TIER_WATERMARKS)
            return dict(cur.fetchall())

    def roll_up(self, tier: Tier, source: Tier, start: datetime, end: datetime) -> datetime:
        # Partitions first, in their own transaction: creating one while holding the rollup
        # lock alone would wait on writers that wait on that lock. The next day's too, so that
        # the first writes after midnight find theirs made and lock no table while they wait.
        self.ensure_partitions(days_of_span(start, end + timedelta(days=1)))
        with self.connector.transaction() as cur:
            cur.execute(sql.LOCK_ROLLUP_ALONE)
            cur.execute(sql.TIER_WATERMARK, (tier.name,))
            row = cur.fetchone()
            if row is None or row[0] != start:
                return row[0] if row else start  # another rollup moved it meanwhile
            cur.execute(
                sql.roll_up(tier.table, source.table),
                {"width": tier.resolution_s, "start": start, "end": end},
            )
            cur.execute(sql.SET_TIER_WATERMARK, (end, tier.name))
        return end

    def roll_again(self, tiers: Sequence[Tier]) -> int:
        rolled = [(source, tier) for source, tier in pairwise(tiers) if tier.rolled]
        with self.connector.transaction() as cur:
            cur.execute(sql.any_unsure([tier.table for _, tier in rolled]))
            unsure = [pair for pair, found in zip(rolled, cur.fetchone(), strict=True) if found]
            if not unsure:
                return 0
            cur.execute(sql.LOCK_ROLLUP_ALONE)
            again = 0
            for source, tier in unsure:  # finest first: each from the tier rolled again before
                cur.execute(sql.roll_again(tier.table, source.table), {"width": tier.resolution_s})
                again += cur.rowcount
        return again

    # -- retention --------------------------------------------------------------------------

    def partitions(self) -> dict[str, list[str]]:
        with self.connector.transaction() as cur:
            cur.execute(sql.LIST_PARTITIONS, (list(sql.PARTITIONED_TABLES),))
            found: dict[str, list[str]] = {}
            for table, partition in cur.fetchall():
                found.setdefault(table, []).append(partition)
        return found

    def drop_partition(self, partition: str) -> None:
        with self.connector.transaction() as cur:
            cur.execute(sql.DROP_PARTITION.format(partition=partition))
        self._partitions.discard(partition)


# The tiers' tables and resolutions; retention, which settings may change, plays no part in a read.
TIERS = default_tiers()


def series_statement(choice: TierChoice) -> str:
    """The read of a tier choice (its tier and the ones below, see ``read_chain``); at the
    tier's own resolution its buckets are the points."""
    tier = choice.tier
    tables = tuple(t.table for t in read_chain(TIERS, tier))
    return sql.series_from_tiers(tables, as_stored=choice.step_s == tier.resolution_s)


def series_parameters(
    host: str,
    series_ids: Sequence[int],
    choice: TierChoice,
    watermarks: Mapping[str, datetime],
    span: tuple[datetime, datetime],
) -> dict[str, object]:
    """Every parameter ``series_statement`` takes, for a host's series over ``span``."""
    params: dict[str, object] = {"host": host, "step": choice.step_s, "ids": list(series_ids)}
    return params | series_edges(choice, watermarks, *span)


def series_edges(
    choice: TierChoice, watermarks: Mapping[str, datetime], start: datetime, end: datetime
) -> dict[str, datetime]:
    """Where each tier of the read stops and the next begins: at its watermark, never before
    the last edge (a tier rolled ahead of its source after an upgrade), within the range."""
    chain = read_chain(TIERS, choice.tier)
    edges = {"edge_0": start}
    last = start
    for i, tier in enumerate(chain[:-1], start=1):
        last = max(last, min(end, watermarks[tier.name]))
        edges[f"edge_{i}"] = last
    edges[f"edge_{len(chain)}"] = end
    return edges


class PgMetricReader:
    def __init__(self, connector: PgConnector) -> None:
        self.connector = connector

    def hosts(self, completeness_window_s: int, only: str | None = None) -> list[HostRow]:
        with self.connector.reading() as cur:
            asked = {"window_s": completeness_window_s, "host": only}
            cur.execute(sql.LIST_HOSTS if only is None else sql.ONE_HOST, asked)
            return [
                HostRow(host, agent_id, EncodedJson(facts), *rest)
                for host, agent_id, facts, *rest in cur.fetchall()
            ]

    def host_known(self, host: str) -> bool:
        """Whether the host has stored a batch: found by its own row, not by listing them all."""
        with self.connector.reading() as cur:
            cur.execute(sql.HOST_KNOWN, (host,))
            return bool(cur.fetchone()[0])

    def newest_stored_ms(self) -> int | None:
        with self.connector.reading() as cur:
            cur.execute(sql.NEWEST_STORED)
            row = cur.fetchone()
        return None if row is None or row[0] is None else int(row[0])

    def metrics(self, host: str) -> list[str]:
        with self.connector.reading() as cur:
            cur.execute(sql.HOST_METRICS, (host,))
            return [row[0] for row in cur.fetchall()]

    def series(
        self,
        host: str,
        metrics: Sequence[str],
        choice: TierChoice,
        start: datetime,
        end: datetime,
    ) -> dict[str, EncodedPoints]:
        with self.connector.reading() as cur:
            cur.execute(sql.SERIES_IDS, (host, list(metrics)))
            names = dict(cur.fetchall())
            if not names:
                return {}
            # Read first and passed as values, so that the planner prunes partitions. A rollup
            # committing meanwhile adds rolled buckets before a watermark read here; the answer
            # reads them from the tier below instead, which keeps them.
            cur.execute(sql.TIER_WATERMARKS)
            params = series_parameters(
                host, list(names), choice, dict(cur.fetchall()), (start, end)
            )
            cur.execute(series_statement(choice), params)
            return {names[series_id]: EncodedPoints(points) for series_id, points in cur}

    def process_history(
        self, host: str, pid: int, start: datetime, end: datetime
    ) -> list[ProcessPoint]:
        with self.connector.reading() as cur:
            cur.execute(sql.PROCESS_HISTORY, (host, start, end, f"[{pid},"))
            return process_points(cur, pid)

    def latest_processes(self, host: str) -> tuple[int, list[ProcessRow]] | None:
        with self.connector.reading() as cur:
            cur.execute(sql.LATEST_PROCESSES, (host,))
            by_time = processes_by_time(cur)
        return next(iter(by_time.items()), None)

    def processes_between(
        self, host: str, start: datetime, end: datetime
    ) -> dict[int, list[ProcessRow]]:
        with self.connector.reading() as cur:
            cur.execute(sql.PROCESSES_BETWEEN, (host, start, end))
            return processes_by_time(cur)
