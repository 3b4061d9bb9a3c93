"""Writes COPY new raw rows; every bucketed tier is rolled up from the one below once closed,
and rows arriving after their bucket was rolled are merged into it.
Whatever order, grouping, redelivery and lateness batches arrive with, and wherever the
rollups fall between them, every tier equals an independent recomputation from the raw rows;
and the same samples delivered another way leave the same bits (sums are exact). A series read
from any tier, at the tier's resolution or coarser, is the raw rows grouped into its steps."""

from __future__ import annotations

import json
import math
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from itertools import pairwise
from typing import Any

import psycopg2
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hostpulse.adapters.postgres.connector import PgConnector
from hostpulse.adapters.postgres.metrics import PgMetricReader, PgMetricStore
from hostpulse.adapters.postgres.migrate import migrate
from hostpulse.core.contract import Batch, Sample
from hostpulse.core.prometheus_names import is_counter
from hostpulse.core.tiers import TierChoice
from hostpulse.simulation.host import SyntheticHost
from tests.support import CloudUnderTest, replace_database
from tests.tier_checks import (
    BUCKETED,
    RAW,
    TIERS,
    assert_tiers_add_up,
    roll_up_until,
    rows,
    sent_raw,
    snapshot,
    unsure_buckets,
)

pytestmark = pytest.mark.localcloud

HOUR_MS = 3_600_000
SIX_HOURS_MS = 6 * HOUR_MS
SPAN_S = 2 * 3600  # two whole hours of a six-hour bucket that closed at least a day ago
# Batches as sample offsets in ms; the SQS batches that deliver them; after each delivery,
# a rollup as if at that many seconds past the span's start, or none.
Plan = tuple[list[list[int]], list[list[int]], list[int | None]]
SPAN_START_MS = (int(time.time() * 1000) // SIX_HOURS_MS - 5) * SIX_HOURS_MS

ORIGIN_MS = int(datetime(2000, 1, 1, tzinfo=UTC).timestamp() * 1000)  # where steps start

EXACT = """SELECT s.metric, t.bucket, t.min, t.max, t.sum::text, t.count, t.last, t.last_ts,
       t.first, t.first_ts, t.reset_sum::text
FROM {table} t JOIN series s ON s.id = t.series_id WHERE s.host = %s ORDER BY 1, 2"""


@st.composite
def deliveries(draw: st.DrawFn, overlapping: bool) -> Plan:
    """Batches as sample offsets in ms (overlapping across batches or not), and the SQS
    batches that deliver them: in any order, some twice, in any grouping."""
    seconds = st.integers(min_value=0, max_value=SPAN_S - 1)
    if overlapping:
        batches = draw(st.lists(st.lists(seconds, min_size=1, max_size=6, unique=True),
                                min_size=1, max_size=8))  # fmt: skip
    else:
        every = draw(st.lists(seconds, min_size=1, max_size=30, unique=True))
        cuts = sorted(draw(st.sets(st.integers(1, max(1, len(every) - 1)), max_size=6)))
        bounds = [0, *[c for c in cuts if c < len(every)], len(every)]
        batches = [every[a:b] for a, b in pairwise(bounds) if b > a]
    order = draw(st.permutations(range(len(batches))))
    sent = [*order, *draw(st.lists(st.sampled_from(range(len(batches))), max_size=4))]
    cuts = sorted(draw(st.sets(st.integers(1, len(sent)), max_size=4)) | {len(sent)})
    groups = [sent[a:b] for a, b in pairwise([0, *cuts]) if b > a]
    rollup_at = st.one_of(st.none(), st.integers(min_value=0, max_value=SPAN_S + 7 * 3600))
    rollups = draw(st.lists(rollup_at, min_size=len(groups), max_size=len(groups)))
    return [[s * 1000 for s in b] for b in batches], groups, rollups


def made_for(hostname: str, offsets: list[list[int]]) -> list[Batch]:
    """A host's batches, with a counter that resets often beside the agent's own series."""
    host = SyntheticHost(hostname, cores=2, processes=1)
    made = [host.batch(sorted(SPAN_START_MS + o for o in batch)) for batch in offsets]
    return [with_counter(batch) for batch in made]


def with_counter(batch: Batch) -> Batch:
    def counted(sample: Sample) -> Sample:
        requests = float(sample.ts_ms // 1000 * 37 % 101)  # falls at most samples
        return sample.model_copy(update={"custom": {**sample.custom, "requests_total": requests}})

    samples = [counted(s) for s in batch.samples]
    return batch.model_copy(update={"samples": samples})


def at(offset_s: int) -> datetime:
    return datetime.fromtimestamp(SPAN_START_MS / 1000 + offset_s, tz=UTC)


@pytest.fixture(scope="module")
def tier_database(local_cloud: CloudUnderTest) -> str:
    """A database of its own: each example winds the rolled tiers' watermarks back to the
    start of its span, which in a shared one would unroll other tests' buckets."""
    server = local_cloud.endpoints["database_url"].rsplit("/", 1)[0]
    url = f"{server}/tier_merge"
    replace_database(url)
    migrate(url)
    return url


@pytest.fixture(scope="module")
def reader(tier_database: str) -> PgMetricReader:
    return PgMetricReader(PgConnector(tier_database))


@pytest.fixture(scope="module")
def store(tier_database: str) -> Iterator[PgMetricStore]:
    """One store for every example, as a function keeps one: a store per example left its
    connections to failing examples' tracebacks, and a failing run ended in "too many clients"
    instead of its first failure."""
    connector = PgConnector(tier_database)
    yield PgMetricStore(connector)
    connector.close()


def wound_back(url: str) -> None:
    with psycopg2.connect(url) as conn, conn.cursor() as cur:
        cur.execute("UPDATE tier_watermarks SET rolled_through = %s", (at(0),))


def renamed(batch: Batch, hostname: str) -> Batch:
    facts = batch.host.model_copy(update={"hostname": hostname})
    return batch.model_copy(update={"host": facts, "agent_id": hostname})


def exact_tiers(url: str, host: str) -> dict[str, list[tuple[Any, ...]]]:
    with psycopg2.connect(url) as conn, conn.cursor() as cur:
        tiers = {}
        for table in (tier.table for tier in BUCKETED.values()):
            cur.execute(EXACT.format(table=table), (host,))
            tiers[table] = cur.fetchall()
    return tiers


def assert_tiers_are_raw_rolled_up(url: str, host: str) -> list[tuple[Any, ...]]:
    stored = snapshot(url, [host], rolled_at=at(SPAN_S + 7 * 3600))
    assert len({row[:3] for row in stored["raw"]}) == len(stored["raw"])
    assert_tiers_add_up(stored)
    return stored["raw"]


def delivered(
    store: PgMetricStore,
    plan: Plan,
    hostname: str,
    shaped: Callable[[Batch], Batch] = lambda b: b,
) -> list[Batch]:
    """A new host's batches (each ``shaped``), written as the plan delivers them, with its
    rollups between."""
    url = store.connector.url
    offsets, groups, rollups = plan
    made = [shaped(batch) for batch in made_for(hostname, offsets)]
    wound_back(url)
    for group, rollup in zip(groups, rollups, strict=True):
        store.write_batches([made[i] for i in group])
        if rollup is not None:
            roll_up_until(url, at(rollup))
    return made


@settings(max_examples=25, deadline=None)
@given(plan=deliveries(overlapping=True))
def test_the_tiers_are_what_raw_adds_up_to_whatever_the_delivery(
    tier_database: str, store: PgMetricStore, plan: Plan
) -> None:
    url = tier_database
    hostname = f"merge-{uuid.uuid4().hex[:10]}"

    made = delivered(store, plan, hostname)

    raw = assert_tiers_are_raw_rolled_up(url, hostname)
    # Every time sent is there, once (a time two batches carry: the first to arrive).
    assert {ts for _, metric, ts, _ in raw if metric == "cpu.percent"} == {
        s.ts_ms for b in made for s in b.samples
    }


def test_a_rollup_replaces_what_its_span_held(tier_database: str, store: PgMetricStore) -> None:
    """A span's buckets are the rollup's alone: one a write merged before its tier was rolled
    (as the upgrade that made the tiers rolled left) is replaced, not added to."""
    url = tier_database
    hostname = f"merge-{uuid.uuid4().hex[:10]}"
    wound_back(url)
    store.write_batches(made_for(hostname, [[0, 5_000], [65_000]]))
    with psycopg2.connect(url) as conn, conn.cursor() as cur:
        cur.execute(
            "INSERT INTO samples_1m (series_id, bucket, min, max, sum, count, last, last_ts) "
            "SELECT id, %s, -1, -1, -1, 1, -1, %s FROM series WHERE host = %s",
            (at(0), at(0), hostname),
        )

    assert_tiers_are_raw_rolled_up(url, hostname)


COMING_AND_GOING = ["a", "b", "c"]


@settings(max_examples=20, deadline=None)
@given(
    plan=deliveries(overlapping=False),
    present=st.lists(st.sets(st.sampled_from(COMING_AND_GOING)), min_size=1, max_size=12),
)
def test_series_that_come_and_go_within_a_bucket_keep_their_own_last(
    tier_database: str, store: PgMetricStore, plan: Plan, present: list[set[str]]
) -> None:
    """A host's last sample in a minute need not carry every series it sent in that minute (a
    disk unmounted, a custom series sent now and then): each bucket's last is still its own
    series' last value."""
    url = tier_database
    hostname = f"merge-{uuid.uuid4().hex[:10]}"

    def shaped(batch: Batch) -> Batch:
        samples = []
        for sample in batch.samples:
            names = present[(sample.ts_ms // 1000) % len(present)]
            custom = {name: float(sample.ts_ms % 997 + i) for i, name in enumerate(sorted(names))}
            samples.append(sample.model_copy(update={"custom": custom}))
        return batch.model_copy(update={"samples": samples})

    made = delivered(store, plan, hostname, shaped)

    raw = assert_tiers_are_raw_rolled_up(url, hostname)
    assert {(metric, ts) for _, metric, ts, _ in raw if metric.startswith("custom.")} == {
        (f"custom.{name}", s.ts_ms) for b in made for s in b.samples for name in s.custom
    }


@settings(max_examples=15, deadline=None)
@given(plan=deliveries(overlapping=False), newest_first=st.booleans())
def test_a_counter_stays_known_when_late_samples_come_all_after_or_all_before(
    tier_database: str, store: PgMetricStore, plan: Plan, newest_first: bool
) -> None:
    """Batches in time order (or newest first), rolled up between: every late sample merged
    into a rolled bucket comes after (before) all of its samples, so every bucket's counter
    resets stay known as merged, with no rollup to roll them again."""
    url = tier_database
    hostname = f"merge-{uuid.uuid4().hex[:10]}"
    offsets, _, rollups = plan
    times = iter(sorted(t for batch in offsets for t in batch))  # the batches' sizes, in turn
    ordered = sorted(([next(times) for _ in batch] for batch in offsets), reverse=newest_first)
    in_turn = [[i] for i in range(len(ordered))]
    delivered(store, (ordered, in_turn, (rollups * len(ordered))[: len(ordered)]), hostname)

    assert unsure_buckets(url, [hostname]) == 0
    assert_tiers_add_up(snapshot(url, [hostname], rolled_at=at(SPAN_S + 7 * 3600)))


def late_between(store: PgMetricStore) -> str:
    """A new host's minute of two samples, every tier rolled past it, then a late sample that
    falls between the two; the host."""
    url = store.connector.url
    hostname = f"merge-{uuid.uuid4().hex[:10]}"
    wound_back(url)
    made = made_for(hostname, [[0, 40_000], [20_000]])
    store.write_batches([made[0]])
    roll_up_until(url, at(SPAN_S + 7 * 3600))
    store.write_batches([made[1]])
    return hostname


def test_a_late_sample_between_a_buckets_samples_is_rolled_again_at_the_next_rollup(
    tier_database: str, store: PgMetricStore
) -> None:
    url = tier_database
    hostname = late_between(store)
    with psycopg2.connect(url) as conn, conn.cursor() as cur:
        counters = {metric for _, metric, *_ in rows(cur, RAW, [hostname]) if is_counter(metric)}
    assert len(counters) == 3  # the agent's two and requests_total
    assert unsure_buckets(url, [hostname]) == len(counters) * len(BUCKETED)

    # Rolled again with no new span to roll: every tier's watermark is already past.
    stored = snapshot(url, [hostname], rolled_at=at(SPAN_S + 7 * 3600))

    assert unsure_buckets(url, [hostname]) == 0
    assert_tiers_add_up(stored)


def test_a_bucket_whose_samples_raw_no_longer_holds_is_forgotten_not_guessed(
    tier_database: str, store: PgMetricStore
) -> None:
    url = tier_database
    hostname = late_between(store)
    with psycopg2.connect(url) as conn, conn.cursor() as cur:  # as retention would drop it
        cur.execute("DELETE FROM samples_raw WHERE host = %s AND ts = %s", (hostname, at(0)))

    roll_up_until(url, at(SPAN_S + 7 * 3600))

    assert unsure_buckets(url, [hostname]) == 0
    with psycopg2.connect(url) as conn, conn.cursor() as cur:
        cur.execute(
            "SELECT DISTINCT t.first_ts IS NULL, t.count FROM samples_1m t "
            "JOIN series s ON s.id = t.series_id WHERE s.host = %s AND s.counter",
            (hostname,),
        )
        assert cur.fetchall() == [(True, 3)]  # every counter's minute: 3 samples, first unknown


@settings(max_examples=25, deadline=None)
@given(plan=deliveries(overlapping=False))
def test_the_same_samples_delivered_another_way_leave_the_same_bits(
    tier_database: str, store: PgMetricStore, plan: Plan
) -> None:
    url = tier_database
    shuffled = f"merge-{uuid.uuid4().hex[:10]}"
    in_order = f"{shuffled}-b"

    made = delivered(store, plan, shuffled)
    for batch in sorted(made, key=lambda b: b.samples[0].ts_ms):  # once each, oldest first
        store.write_batches([renamed(batch, in_order)])

    assert_tiers_are_raw_rolled_up(url, shuffled)
    assert exact_tiers(url, shuffled) == exact_tiers(url, in_order)


def grouped_from_raw(raw: list[tuple[Any, ...]], step_s: int) -> dict[str, list[list[Any]]]:
    """Each metric's raw values grouped into steps: [ts_ms, avg, min, max, count]."""
    step_ms = step_s * 1000
    steps: dict[str, dict[int, list[float]]] = defaultdict(lambda: defaultdict(list))
    for _, metric, ts, value in raw:
        steps[metric][ts - (ts - ORIGIN_MS) % step_ms].append(value)
    return {
        metric: [[t, math.fsum(v) / len(v), min(v), max(v), len(v)] for t, v in sorted(by.items())]
        for metric, by in steps.items()
    }


@settings(max_examples=15, deadline=None)
@given(plan=deliveries(overlapping=True), coarser=st.booleans())
def test_a_series_read_from_any_tier_is_raw_grouped_into_its_steps(
    tier_database: str, store: PgMetricStore, reader: PgMetricReader, plan: Plan, coarser: bool
) -> None:
    url = tier_database
    hostname = f"merge-{uuid.uuid4().hex[:10]}"
    delivered(store, plan, hostname)  # rolled wherever the plan's last rollup left the tiers
    with psycopg2.connect(url) as conn, conn.cursor() as cur:
        raw = rows(cur, RAW, [hostname])
    metrics = sorted({row[1] for row in raw})

    for tier in TIERS:
        # At the tier's resolution its buckets are the points as stored; coarser, regrouped.
        step = tier.resolution_s * (2 if coarser else 1)
        answer = reader.series(hostname, metrics, TierChoice(tier, step), at(0), at(12 * 3600))
        read = {metric: json.loads(points.json) for metric, points in answer.items()}
        expected = grouped_from_raw(raw, step)

        assert read.keys() == expected.keys(), tier.name
        for metric, points in expected.items():
            got = read[metric]
            assert [p[0] for p in got] == [p[0] for p in points], (tier.name, metric)
            assert [p[2:] for p in got] == [p[2:] for p in points], (tier.name, metric)
            # Averages from double-precision sums: equal to the last bits or so.
            assert all(
                math.isclose(g[1], p[1], rel_tol=1e-12) for g, p in zip(got, points, strict=True)
            ), (tier.name, metric)


def halves(batch: Batch, agent: str) -> tuple[Batch, Batch]:
    """The batch's samples in two parts with no metric in common, as an OTLP sender that splits
    a request sends them: each part a batch of its own agent id (as OTLP's requests have)."""
    devices: dict[str, Any] = {"disks": [], "disk_io": [], "net": []}
    rest: dict[str, Any] = {
        "cpu": None, "memory": None, "load": None, "uptime_s": None, "process_count": None,
        "processes": [], "agent": None, "custom": {},
    }  # fmt: skip
    first = [s.model_copy(update=devices) for s in batch.samples]
    second = [s.model_copy(update=rest) for s in batch.samples]
    return (
        batch.model_copy(update={"samples": first, "agent_id": f"{agent}.a"}),
        batch.model_copy(update={"samples": second, "agent_id": f"{agent}.b"}),
    )


@settings(max_examples=15, deadline=None)
@given(plan=deliveries(overlapping=False), second_first=st.booleans())
def test_a_sample_sent_in_two_parts_is_stored_whole(
    tier_database: str, store: PgMetricStore, plan: Plan, second_first: bool
) -> None:
    url = tier_database
    hostname = f"parts-{uuid.uuid4().hex[:10]}"
    offsets, groups, rollups = plan
    parts = [halves(b, hostname) for b in made_for(hostname, offsets)]
    wound_back(url)
    for group, rollup in zip(groups, rollups, strict=True):
        sent = [part for i in group for part in parts[i]]
        store.write_batches(sent[::-1] if second_first else sent)
        if rollup is not None:
            roll_up_until(url, at(rollup))

    raw = assert_tiers_are_raw_rolled_up(url, hostname)
    # Before, the second part of every sample was dropped: its host and time were stored.
    assert raw == sent_raw([part for pair in parts for part in pair])
