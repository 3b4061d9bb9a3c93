"""The SQL of the PromQL reads: the series catalogue by metric patterns and hosts, and points
from a tier and those below it."""

from __future__ import annotations

from functools import cache

from hostpulse.adapters.postgres.metrics_sql import RAW_TABLE

# Every series that may match: hosts are filtered here when a matcher names one, metrics by
# the LIKE patterns of a name (NULL: every metric), the span by the host's samples.
CATALOGUE = """
SELECT s.id, s.host, s.metric, coalesce(h.facts->'labels', '{}')::text
FROM series s JOIN hosts h ON h.host = s.host
WHERE (%(patterns)s::text[] IS NULL OR s.metric LIKE ANY(%(patterns)s))
  AND (%(hosts)s::text[] IS NULL OR s.host = ANY(%(hosts)s))
  AND h.last_seen >= %(start)s AND h.first_seen <= %(end)s
"""

# A point as numbers in a flat JSON array, written by PostgreSQL (see SERIES_POINTS in
# metrics_sql): the raw tier as [time, value, ...]; a chain of tiers as [bucket start, its
# width, the time of its last sample, last, min, max, sum, count, first, its time, the sum of
# the values a counter fell from, ...] (null where a bucket does not know them), a raw sample
# being a bucket of one and no width.
# A raw row holds every series of its host at one time: each wanted series' value is picked by
# its position in the row (what unnesting every row's array into rows cost the fleet's read
# several times over), series by series: each is an index range of its host's rows, already in
# time order, so nothing is sorted, and no row's whole array travels further than the pick.
WANTED = "unnest(%(hosts)s::text[], %(ids)s::integer[]) AS m(host, series_id)"
PICKED = "r.vals[array_position(r.series_ids, m.series_id)]"
EPOCH_MS = "(date_part('epoch', r.ts) * 1000)::bigint"  # a double: extract() computes a numeric
RAW_POINTS = f"""
SELECT m.series_id, p.points
FROM {WANTED}
CROSS JOIN LATERAL (
    SELECT '[' || string_agg(x.ms || ',' || x.v, ',' ORDER BY x.ts) || ']' AS points
    FROM (
        SELECT r.ts, {EPOCH_MS} AS ms, {PICKED} AS v
        FROM samples_raw r
        WHERE r.host = m.host AND r.ts >= %(start)s AND r.ts < %(end)s
    ) x
    WHERE x.v IS NOT NULL
) p
WHERE p.points IS NOT NULL
"""
TIER_BUCKETS = """
    SELECT series_id, (extract(epoch FROM bucket) * 1000)::bigint AS start_ms, {width},
           (extract(epoch FROM last_ts) * 1000)::bigint AS t, last, min, max,
           sum::double precision AS total, count, first,
           (extract(epoch FROM first_ts) * 1000)::bigint, reset_sum::double precision
    FROM {table}
    WHERE series_id = ANY(%(ids)s) AND bucket >= %({start})s AND bucket < %({end})s"""
RAW_BUCKETS = f"""
    SELECT m.series_id, {EPOCH_MS}, 0, {EPOCH_MS}, {PICKED}, {PICKED}, {PICKED}, {PICKED}, 1,
           {PICKED}, {EPOCH_MS}, 0
    FROM {WANTED} JOIN samples_raw r ON r.host = m.host
    WHERE r.ts >= %({{start}})s AND r.ts < %({{end}})s AND {PICKED} IS NOT NULL"""


@cache
def chain_points(tables: tuple[tuple[str, int], ...]) -> str:
    """Points of a tier chain, coarsest first, as (table, width in ms): the i-th table from
    ``edge_i`` to ``edge_{i+1}``. The tables are hostpulse.core.tiers' own, never user input."""
    parts = [
        (RAW_BUCKETS if table == RAW_TABLE else TIER_BUCKETS).format(
            table=table, width=int(width), start=f"edge_{i}", end=f"edge_{i + 1}"
        )
        for i, (table, width) in enumerate(tables)
    ]
    rows = "\n    UNION ALL".join(parts)
    return f"""
SELECT series_id, '[' || string_agg(
    concat_ws(',', start_ms, width, t, last, min, max, total, count, coalesce(first::text, 'null'),
              coalesce(first_t::text, 'null'), coalesce(fell::text, 'null')),
    ',' ORDER BY start_ms) || ']'
FROM ({rows})
    AS p(series_id, start_ms, width, t, last, min, max, total, count, first, first_t, fell)
GROUP BY series_id
"""
