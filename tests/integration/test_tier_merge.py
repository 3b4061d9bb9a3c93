"""The 1-minute and 1-hour tiers are merged with each write's new raw rows. Whatever order,
grouping, redelivery and lateness batches arrive with, the tiers equal an independent
recomputation from the raw rows; and the same samples delivered another way leave the same
bits (sums are exact)."""

from __future__ import annotations

import time
import uuid
from itertools import pairwise
from typing import Any

import psycopg2
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hostpulse.adapters.postgres.connector import PgConnector
from hostpulse.adapters.postgres.metrics import PgMetricStore
from hostpulse.contract import Batch
from hostpulse.synthetic_host import SyntheticHost
from tests.support import CloudUnderTest
from tests.tier_checks import assert_tier_matches, independent_rollup, snapshot

pytestmark = pytest.mark.localcloud

HOUR_MS = 3_600_000
SPAN_S = 2 * 3600  # two whole hours, ending two hours ago: late samples land in closed buckets
Plan = tuple[list[list[int]], list[list[int]]]

EXACT = """SELECT s.metric, t.bucket, t.min, t.max, t.sum::text, t.count, t.last, t.last_ts
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
    return [[s * 1000 for s in b] for b in batches], groups


def made_for(hostname: str, offsets: list[list[int]]) -> list[Batch]:
    base = (int(time.time() * 1000) // HOUR_MS - 4) * HOUR_MS
    host = SyntheticHost(hostname, cores=2, processes=1)
    return [host.batch(sorted(base + o for o in batch)) for batch in offsets]


def renamed(batch: Batch, hostname: str) -> Batch:
    facts = batch.host.model_copy(update={"hostname": hostname})
    return batch.model_copy(update={"host": facts, "agent_id": hostname})


def exact_tiers(url: str, host: str) -> dict[str, list[tuple[Any, ...]]]:
    with psycopg2.connect(url) as conn, conn.cursor() as cur:
        tiers = {}
        for table in ("samples_1m", "samples_1h"):
            cur.execute(EXACT.format(table=table), (host,))
            tiers[table] = cur.fetchall()
    return tiers


def assert_tiers_are_raw_rolled_up(url: str, host: str) -> list[tuple[Any, ...]]:
    stored = snapshot(url, [host])
    assert len({row[:3] for row in stored["raw"]}) == len(stored["raw"])
    assert_tier_matches(stored["1m"], independent_rollup(stored["raw"], 60_000))
    assert_tier_matches(stored["1h"], independent_rollup(stored["raw"], HOUR_MS))
    return stored["raw"]


def delivered(url: str, plan: Plan, hostname: str) -> tuple[PgMetricStore, list[Batch]]:
    """A new host's batches, written as the plan delivers them."""
    store = PgMetricStore(PgConnector(url))
    offsets, groups = plan
    made = made_for(hostname, offsets)
    for group in groups:
        store.write_batches([made[i] for i in group])
    return store, made


@settings(max_examples=25, deadline=None)
@given(plan=deliveries(overlapping=True))
def test_the_tiers_are_what_raw_adds_up_to_whatever_the_delivery(
    local_cloud: CloudUnderTest, plan: Plan
) -> None:
    url = local_cloud.endpoints["database_url"]
    hostname = f"merge-{uuid.uuid4().hex[:10]}"

    _, made = delivered(url, plan, hostname)

    raw = assert_tiers_are_raw_rolled_up(url, hostname)
    # Every time sent is there, once (a time two batches carry: the first to arrive).
    assert {ts for _, metric, ts, _ in raw if metric == "cpu.percent"} == {
        s.ts_ms for b in made for s in b.samples
    }


@settings(max_examples=25, deadline=None)
@given(plan=deliveries(overlapping=False))
def test_the_same_samples_delivered_another_way_leave_the_same_bits(
    local_cloud: CloudUnderTest, plan: Plan
) -> None:
    url = local_cloud.endpoints["database_url"]
    shuffled = f"merge-{uuid.uuid4().hex[:10]}"
    in_order = f"{shuffled}-b"

    store, made = delivered(url, plan, shuffled)
    for batch in sorted(made, key=lambda b: b.samples[0].ts_ms):  # once each, oldest first
        store.write_batches([renamed(batch, in_order)])

    assert_tiers_are_raw_rolled_up(url, shuffled)
    assert exact_tiers(url, shuffled) == exact_tiers(url, in_order)
