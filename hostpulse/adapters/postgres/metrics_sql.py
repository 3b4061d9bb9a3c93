"""Every SQL statement of the metric store, in one place.

Timestamps travel as Unix milliseconds and become ``timestamptz`` with exact interval
arithmetic; buckets use ``date_bin`` from a fixed UTC origin, so no session time zone matters.
"""

from __future__ import annotations

from functools import cache

from hostpulse.core.tiers import ROLLED_TIERS, Tier, default_tiers

ORIGIN = "timestamptz '2000-01-01 00:00:00+00'"
MS = "(timestamptz 'epoch' + {column} * interval '1 millisecond')"


def epoch_ms(column: str) -> str:
    """A timestamptz column as Unix milliseconds: no datetime is built per row."""
    return f"(extract(epoch FROM {column}) * 1000)::bigint"


# Tables partitioned by day on their time column; retention drops their partitions.
PARTITIONED_TABLES = (
    "batches",
    "batch_hours",
    *(tier.table for tier in default_tiers()),
    "processes_raw",
)

CREATE_PARTITION = """
CREATE TABLE IF NOT EXISTS {partition} PARTITION OF {table}
FOR VALUES FROM ('{start}') TO ('{end}')
"""

LIST_PARTITIONS = """
SELECT parent.relname, child.relname
FROM pg_inherits
JOIN pg_class parent ON parent.oid = pg_inherits.inhparent
JOIN pg_class child ON child.oid = pg_inherits.inhrelid
WHERE parent.relname = ANY(%s)
"""

DROP_PARTITION = "DROP TABLE IF EXISTS {partition}"

# Batches of one host are written one at a time, and the same lock keyed by agent makes the
# check for an already used sequence number and the insert one step. One statement takes every
# key, in the order given (a function scan yields the array in order): writers pass them
# sorted, so none waits on another in a cycle.
LOCK_KEYS = "SELECT pg_advisory_xact_lock(hashtextextended(k, 0)) FROM unnest(%s::text[]) AS k"

# One batch per (agent, seq): the primary key must hold the partition key (first_ts), so a
# sequence number reused with other timestamps is found here, across every partition.
KNOWN_BATCHES = f"""
SELECT b.agent_id, b.seq, {epoch_ms("b.first_ts")}
FROM batches b
JOIN unnest(%s::text[], %s::bigint[]) AS k(agent_id, seq)
  ON b.agent_id = k.agent_id AND b.seq = k.seq
"""

# The batches, and the hourly counts completeness is read from: only the rows actually
# inserted are counted, so a batch delivered again counts once.
INSERT_BATCHES = """
WITH inserted AS (
    INSERT INTO batches (agent_id, seq, host, first_ts, last_ts, sample_count)
    SELECT agent_id, seq, host, {first}, {last}, n
    FROM unnest(%s::text[], %s::bigint[], %s::text[], %s::bigint[], %s::bigint[], %s::integer[])
         AS b(agent_id, seq, host, first_ms, last_ms, n)
    ON CONFLICT DO NOTHING
    RETURNING host, agent_id, seq, first_ts
)
INSERT INTO batch_hours AS c (host, agent_id, hour, batches, min_seq, max_seq)
SELECT host, agent_id, date_trunc('hour', first_ts, 'UTC'), count(*), min(seq), max(seq)
FROM inserted
GROUP BY 1, 2, 3
ORDER BY 1, 2, 3
ON CONFLICT (host, agent_id, hour) DO UPDATE SET
    batches = c.batches + EXCLUDED.batches,
    min_seq = LEAST(c.min_seq, EXCLUDED.min_seq),
    max_seq = GREATEST(c.max_seq, EXCLUDED.max_seq)
""".format(first=MS.format(column="first_ms"), last=MS.format(column="last_ms"))

# One row per host (a statement may not update a row twice): its newest batch's agent and
# facts, its samples' span.
UPSERT_HOSTS = """
INSERT INTO hosts AS h (host, agent_id, facts, first_seen, last_seen, last_received)
SELECT host, agent_id, facts::jsonb, {first}, {last}, now()
FROM unnest(%s::text[], %s::text[], %s::text[], %s::bigint[], %s::bigint[])
     AS b(host, agent_id, facts, first_ms, last_ms)
ON CONFLICT (host) DO UPDATE SET
    agent_id = EXCLUDED.agent_id,
    facts = EXCLUDED.facts,
    first_seen = LEAST(h.first_seen, EXCLUDED.first_seen),
    last_seen = GREATEST(h.last_seen, EXCLUDED.last_seen),
    last_received = now(),
    -- A retired host that sends a sample newer than its retirement is back.
    retired_at = CASE WHEN EXCLUDED.last_seen > h.retired_at THEN NULL ELSE h.retired_at END,
    retired_by = CASE WHEN EXCLUDED.last_seen > h.retired_at THEN NULL ELSE h.retired_by END
""".format(first=MS.format(column="first_ms"), last=MS.format(column="last_ms"))

ENSURE_SERIES = """
INSERT INTO series (host, metric, counter)
SELECT host, metric, counter FROM unnest(%s::text[], %s::text[], %s::boolean[])
    AS m(host, metric, counter)
ON CONFLICT (host, metric) DO NOTHING
"""

# New rows are COPied straight into their tables. Rows that need more than that (a sample
# after its minute was rolled up, or one stored before under another batch) are staged with
# the same COPY input, then moved set-based.
CREATE_STAGING = """
CREATE TEMP TABLE IF NOT EXISTS staging_raw (
    host text, ts timestamptz, series_ids integer[], vals double precision[]
) ON COMMIT DELETE ROWS;
CREATE TEMP TABLE IF NOT EXISTS staging_processes (
    host text, ts timestamptz, processes json
) ON COMMIT DELETE ROWS
"""

# A processes row is a sample: its host, its time, and its processes as one JSON array
# (``process_documents``; the ``process_rows`` view shows them a row each).
PROCESS_COLUMNS = "host, ts, processes"
# A raw row is a sample: its host, its time, and its values with their series, as two arrays
# in the same order.
RAW_COLUMNS = "host, ts, series_ids, vals"
COPY_RAW = f"COPY samples_raw ({RAW_COLUMNS}) FROM STDIN WITH (FORMAT binary)"
COPY_STAGED_RAW = f"COPY staging_raw ({RAW_COLUMNS}) FROM STDIN WITH (FORMAT binary)"
COPY_PROCESSES = f"COPY processes_raw ({PROCESS_COLUMNS}) FROM STDIN"
COPY_STAGED_PROCESSES = f"COPY staging_processes ({PROCESS_COLUMNS}) FROM STDIN"
# A COPY straight into a table fails whole on a row already there; it runs in a savepoint, and
# its rows take the staged path instead.
COPY_SAVEPOINT = "SAVEPOINT direct_copy"
COPY_UNDONE = "ROLLBACK TO SAVEPOINT direct_copy"

SELECT_SERIES = """
SELECT s.host, s.metric, s.id
FROM series s JOIN unnest(%s::text[], %s::text[]) AS m(host, metric)
  ON s.host = m.host AND s.metric = m.metric
"""

# Raw values as one-sample buckets, so that one COMBINE makes a bucket from raw values or from
# the buckets of a finer tier. {values}: rows of (series_id, ts, value): the raw_values view
# (the raw tier's samples unnested, see the migration that made them rows), or VALUES_OF.
# A value's sum is its shortest exact decimal (float8 as text, which the connector makes
# shortest-exact with extra_float_digits) as numeric: one decimal per double, and a 1-minute
# rollup faster than float8's own cast to numeric, which rounds to 15 digits through snprintf
# (measured in the aggregate benchmark, docs/benchmarks.md).
EXACT = "{column}::text::numeric"
RAW_AS_BUCKETS = f"""(
    SELECT series_id, ts AS bucket, value AS min, value AS max,
           {EXACT.format(column="value")} AS sum, 1 AS count, value AS last, ts AS last_ts
    FROM {{values}}
) AS raw"""
# The values of rows shaped like the raw tier's, as raw_values has them. {rows}: such rows.
VALUES_OF = """(
    SELECT v.series_id, r.ts, v.value
    FROM {rows} r CROSS JOIN LATERAL unnest(r.series_ids, r.vals) AS v(series_id, value)
) AS raw_values"""
RAW_TABLE = next(tier.table for tier in default_tiers() if tier.name == "raw")
RAW_VALUES = "raw_values"


# A bucket's min, max, sum, count and last by time, from the rows or buckets it covers.
COMBINE = """min(min) AS min, max(max) AS max, sum(sum) AS sum, sum(count) AS count,
       (array_agg(last ORDER BY last_ts DESC))[1] AS last, max(last_ts) AS last_ts"""
TIER_COLUMNS = "series_id, bucket, min, max, sum, count, last, last_ts, first, first_ts, reset_sum"
COUNTER_COLUMNS = "c.first, c.first_ts, c.reset_sum"

# What a counter's bucket keeps besides (migration 0018): its first value with its time, and
# the sum of the values it fell from at its resets (Prometheus' rate adds them to last -
# first), with how many samples that covers. Only counters (series.counter): ordering values
# by time is what costs, and only a counter's rate needs it.
IN_ORDER = "WINDOW w AS (PARTITION BY series_id, covering ORDER BY {time})"


def counters_of_values(values: str, width: str) -> str:
    """A counter's buckets of ``width`` (an interval expression) from its raw values.
    ``values``: rows of (series_id, ts, value), aliased."""
    return f"""(
    SELECT series_id, covering AS bucket, min(head) AS first, min(ts) AS first_ts,
           coalesce(sum({EXACT.format(column="before")}) FILTER (WHERE value < before), 0)
               AS reset_sum, count(*) AS count
    FROM (
        SELECT series_id, ts, value, covering, first_value(value) OVER w AS head,
               lag(value) OVER w AS before
        FROM (
            SELECT v.series_id, v.ts, v.value, date_bin({width}, v.ts, {ORIGIN}) AS covering
            FROM {values} WHERE v.series_id IN (SELECT id FROM series WHERE counter)
        ) AS v
        {IN_ORDER.format(time="ts")}
    ) AS in_order
    GROUP BY series_id, covering
) AS c"""


def counters_of_buckets(buckets: str, width: str) -> str:
    """The same from a finer tier's buckets (``buckets``: rows of TIER_COLUMNS, aliased). A
    counter also fell wherever a bucket's first value is below the last of the one before; its
    resets are unsure (NULL) while any bucket's are. Its count falls short of the bucket's
    where a finer bucket's first value is not known."""
    return f"""(
    SELECT series_id, covering AS bucket, min(head) AS first, min(first_ts) AS first_ts,
           CASE WHEN count(reset_sum) = count(*) THEN sum(reset_sum)
               + coalesce(sum({EXACT.format(column="before")}) FILTER (WHERE first < before), 0)
           END AS reset_sum, sum(count) AS count
    FROM (
        SELECT series_id, first, first_ts, reset_sum, count, covering,
               first_value(first) OVER w AS head, lag(last) OVER w AS before
        FROM (
            SELECT *, date_bin({width}, b.bucket, {ORIGIN}) AS covering
            FROM {buckets} WHERE b.first_ts IS NOT NULL
        ) AS b
        {IN_ORDER.format(time="bucket")}
    ) AS in_order
    GROUP BY series_id, covering
) AS c"""


# A falling counter adds the value it fell from to its increase (Prometheus' rate).
FELL = (
    f"CASE WHEN {{later}}.first < {{earlier}}.last THEN {EXACT.format(column='{earlier}.last')} "
    "ELSE 0 END"
)
# Two buckets of the same time merge: the raw rows a write actually inserts are folded into
# the buckets of every tier already rolled past them, and nothing else is read. A row
# delivered again (a retry, a redelivery, a replay) inserts nothing and so merges nothing; a
# late row merges into the bucket it belongs to. Sums are numeric, so the same rows give the
# same bits in any order and grouping. Costs per new row. A counter's resets stay known where
# the late rows all come after the bucket's or all before them; rows in between make them
# unsure, and the next rollup rolls that bucket again (RE_ROLL).
MERGE = f"""
    min = LEAST(t.min, EXCLUDED.min), max = GREATEST(t.max, EXCLUDED.max),
    sum = t.sum + EXCLUDED.sum, count = t.count + EXCLUDED.count,
    last = CASE WHEN EXCLUDED.last_ts > t.last_ts THEN EXCLUDED.last ELSE t.last END,
    last_ts = GREATEST(t.last_ts, EXCLUDED.last_ts),
    first = CASE WHEN EXCLUDED.first_ts < t.first_ts THEN EXCLUDED.first ELSE t.first END,
    first_ts = CASE WHEN EXCLUDED.first_ts < t.first_ts THEN EXCLUDED.first_ts ELSE t.first_ts END,
    reset_sum = t.reset_sum + EXCLUDED.reset_sum + CASE
        WHEN EXCLUDED.first_ts > t.last_ts THEN {FELL.format(later="EXCLUDED", earlier="t")}
        WHEN EXCLUDED.last_ts < t.first_ts THEN {FELL.format(later="t", earlier="EXCLUDED")}
    END
"""

# Writers hold the rollup lock shared, a rollup holds it alone: a write sees each rolled tier's
# watermark as it stays until it commits, so a late row is merged into a rolled bucket, or
# rolled up with its bucket, never both and never neither. A row at or after the 1-minute
# tier's watermark is after every tier's (each is rolled from the one below and never past it),
# so it is COPied into raw with nothing to merge. Two 32-bit keys: a key space of its
# own, apart from the per-host locks' 64-bit keys.
ROLLUP_LOCK = (0x6870, 1)
LOCK_ROLLUP_SHARED = f"SELECT pg_advisory_xact_lock_shared{ROLLUP_LOCK}"
LOCK_ROLLUP_ALONE = f"SET LOCAL lock_timeout = '10s'; SELECT pg_advisory_xact_lock{ROLLUP_LOCK}"


def _late_merge(tier: Tier) -> str:
    rolled = f"(SELECT rolled_through FROM tier_watermarks WHERE tier = '{tier.name}')"
    width = f"interval '{tier.resolution_s} seconds'"
    late = f"(SELECT * FROM {VALUES_OF.format(rows='inserted')} WHERE ts < {rolled}) AS v"
    return f"""late_{tier.name} AS (
    INSERT INTO {tier.table} AS t ({TIER_COLUMNS})
    SELECT g.*, {COUNTER_COLUMNS}
    FROM (
        SELECT series_id, date_bin({width}, bucket, {ORIGIN}) AS bucket, {COMBINE}
        FROM minutes WHERE bucket < {rolled} GROUP BY 1, 2
    ) AS g
    LEFT JOIN {counters_of_values(late, width)} USING (series_id, bucket)
    ON CONFLICT (series_id, bucket) DO UPDATE SET {MERGE}
)"""


def _and_merge(written: str) -> str:
    """``written``: CTEs ending in ``inserted``, the raw values a statement adds, shaped as
    raw rows; then their merge into the rolled tiers, and how many rows they were."""
    late = ",\n".join(_late_merge(tier) for tier in ROLLED_TIERS)
    inserted = RAW_AS_BUCKETS.format(values=VALUES_OF.format(rows="inserted"))
    return f"""
WITH {written}, minutes AS (
    SELECT series_id, date_bin('1 minute', bucket, {ORIGIN}) AS bucket, {COMBINE}
    FROM {inserted} GROUP BY 1, 2
), {late}
SELECT count(*) FROM inserted
"""


INSERT_RAW_AND_MERGE = _and_merge(f"""inserted AS (
    INSERT INTO samples_raw ({RAW_COLUMNS})
    SELECT {RAW_COLUMNS} FROM staging_raw
    ON CONFLICT (host, ts) DO NOTHING
    RETURNING {RAW_COLUMNS}
)""")
# Staged rows whose host and time were stored already: a redelivery (nothing to add), or
# another part of the same sample (an OTLP sender that split its request): the series the
# stored row lacks are appended to it and merged, the ones it has are kept as they are.
APPEND_RAW_AND_MERGE = _and_merge("""incoming AS (
    SELECT DISTINCT ON (s.host, s.ts, v.series_id) s.host, s.ts, v.series_id, v.value
    FROM staging_raw s CROSS JOIN LATERAL unnest(s.series_ids, s.vals) AS v(series_id, value)
), missing AS (
    SELECT i.host, i.ts, array_agg(i.series_id ORDER BY i.series_id) AS series_ids,
           array_agg(i.value ORDER BY i.series_id) AS vals
    FROM incoming i JOIN samples_raw r ON r.host = i.host AND r.ts = i.ts
    WHERE i.series_id <> ALL (r.series_ids)
    GROUP BY i.host, i.ts
), inserted AS (
    UPDATE samples_raw r SET series_ids = r.series_ids || m.series_ids, vals = r.vals || m.vals
    FROM missing m
    WHERE r.host = m.host AND r.ts = m.ts
    RETURNING m.host, m.ts, m.series_ids, m.vals
)""")

TIER_WATERMARKS = "SELECT tier, rolled_through FROM tier_watermarks"
TIER_WATERMARK = "SELECT rolled_through FROM tier_watermarks WHERE tier = %s"
SET_TIER_WATERMARK = "UPDATE tier_watermarks SET rolled_through = %s WHERE tier = %s"

# A closed span of a rolled tier, from the tier below it. Its buckets are new: only the first
# bucket after the upgrade that made a tier rolled held rows (merged by writes), and the
# rollup, having every row of the span, replaces them. Cleared first, then inserted: an insert
# that looked for a conflict at every bucket took a good share of the 1-minute rollup.
# {table} and {source} come from hostpulse.core.tiers, never from user input.
WIDTH = "%(width)s * interval '1 second'"
BUCKET = f"date_bin({WIDTH}, {{column}}, {ORIGIN})"
CLEAR_SPAN = "DELETE FROM {table} WHERE bucket >= %(start)s AND bucket < %(end)s"
IN_SPAN = "{column} >= %(start)s AND {column} < %(end)s"
COUNTER_ONLY = ("first", "first_ts", "reset_sum")


def known(count: str, assign: bool = False) -> str:
    """A counter's columns where they cover every sample of the bucket (``count`` of them)."""
    return ", ".join(
        f"{column + ' = ' if assign else ''}CASE WHEN c.count = {count} THEN c.{column} END"
        for column in COUNTER_ONLY
    )


SPAN_OF_SOURCE = f"(SELECT * FROM {{source}} WHERE {IN_SPAN.format(column='bucket')}) AS b"
SPAN_OF_RAW = f"(SELECT * FROM {RAW_VALUES} WHERE {IN_SPAN.format(column='ts')}) AS v"
ROLL_UP = f"""{CLEAR_SPAN};
INSERT INTO {{table}} ({TIER_COLUMNS})
SELECT g.*, {known("g.count")}
FROM (
    SELECT series_id, {BUCKET.format(column="bucket")} AS bucket, {COMBINE}
    FROM {{source}} WHERE {IN_SPAN.format(column="bucket")} GROUP BY 1, 2
) AS g
LEFT JOIN {counters_of_buckets(SPAN_OF_SOURCE, WIDTH)}
    USING (series_id, bucket)
"""
# The same from the raw tier, where COMBINE's last (an ordered aggregate) sorted every value of
# the span and took much of the time. The rest is a hash aggregate, with the time of each
# bucket's last value; the value is looked up in the last row of its host and bucket, which
# holds every series its host sent then, and, for a series that row lacks (a disk unmounted
# within the minute), in the row of that time. The same buckets, bit for bit, sooner.
LAST_ROWS = f"""(
    SELECT DISTINCT ON (host, {BUCKET.format(column="ts")}) host, ts, series_ids, vals
    FROM {RAW_TABLE}
    WHERE {IN_SPAN.format(column="ts")}
    ORDER BY host, {BUCKET.format(column="ts")}, ts DESC
)"""
ROLL_UP_RAW = f"""{CLEAR_SPAN};
INSERT INTO {{table}} ({TIER_COLUMNS})
SELECT g.series_id, g.bucket, g.min, g.max, g.sum, g.count,
       COALESCE(raw_values.value, (
           SELECT v.value FROM {RAW_VALUES} v
           WHERE v.host = (SELECT host FROM series WHERE id = g.series_id)
             AND v.ts = g.last_ts AND v.series_id = g.series_id
       )),
       g.last_ts, {COUNTER_COLUMNS}
FROM (
    SELECT series_id, {BUCKET.format(column="bucket")} AS bucket, min(min) AS min, max(max) AS max,
           sum(sum) AS sum, sum(count) AS count, max(last_ts) AS last_ts
    FROM {RAW_AS_BUCKETS.format(values=RAW_VALUES)}
    WHERE {IN_SPAN.format(column="bucket")}
    GROUP BY 1, 2
) g
LEFT JOIN {VALUES_OF.format(rows=LAST_ROWS)}
    ON raw_values.series_id = g.series_id AND raw_values.ts = g.last_ts
LEFT JOIN {counters_of_values(SPAN_OF_RAW, WIDTH)}
    ON c.series_id = g.series_id AND c.bucket = g.bucket
"""


def roll_up(table: str, source: str) -> str:
    """The statement rolling a span of ``source`` (a tier's table) into ``table``."""
    if source == RAW_TABLE:
        return ROLL_UP_RAW.format(table=table)
    return ROLL_UP.format(table=table, source=source)


# Buckets whose counter resets a late write left unsure, rolled again from the tier below,
# which holds every sample they cover while its retention lasts; where it no longer does
# (counts differ), the counter's columns are forgotten and a read falls back to last values.
UNSURE = "{table} WHERE reset_sum IS NULL AND first_ts IS NOT NULL"


def any_unsure(tables: list[str]) -> str:
    """Per table, whether it has unsure buckets: a look that takes no lock."""
    return "SELECT " + ", ".join(f"EXISTS (SELECT FROM {UNSURE.format(table=t)})" for t in tables)


UNSURE_SOURCE = {
    "raw": f"""(
    SELECT v.series_id, r.ts, v.value
    FROM unsure u JOIN series s ON s.id = u.series_id
    JOIN {RAW_TABLE} r ON r.host = s.host AND r.ts >= u.bucket AND r.ts < u.bucket + {WIDTH}
    CROSS JOIN LATERAL unnest(r.series_ids, r.vals) AS v(series_id, value)
    WHERE v.series_id = u.series_id
) AS v""",
    "tier": f"""(
    SELECT b.* FROM unsure u JOIN {{source}} b
    ON b.series_id = u.series_id AND b.bucket >= u.bucket AND b.bucket < u.bucket + {WIDTH}
) AS b""",
}
ROLL_AGAIN = f"""
WITH unsure AS (SELECT series_id, bucket, count FROM {{unsure}})
UPDATE {{table}} AS t SET {known("u.count", assign=True)}
FROM unsure AS u LEFT JOIN {{counters}} USING (series_id, bucket)
WHERE t.series_id = u.series_id AND t.bucket = u.bucket
"""


def roll_again(table: str, source: str) -> str:
    """The statement rolling ``table``'s unsure buckets again from ``source``."""
    if source == RAW_TABLE:
        counters = counters_of_values(UNSURE_SOURCE["raw"], WIDTH)
    else:
        counters = counters_of_buckets(UNSURE_SOURCE["tier"].format(source=source), WIDTH)
    unsure = UNSURE.format(table=table)
    return ROLL_AGAIN.format(unsure=unsure, table=table, counters=counters)


INSERT_PROCESSES = f"""
INSERT INTO processes_raw ({PROCESS_COLUMNS})
SELECT {PROCESS_COLUMNS} FROM staging_processes
ON CONFLICT (host, ts) DO NOTHING
"""

# -- reads --------------------------------------------------------------------------------


# Facts go out as stored (text), times as milliseconds: a dict and three datetimes per host
# cost the host list as much again (docs/benchmarks.md, the fleet pages). Each host's
# completeness comes in the same statement, from the hourly batch counts (migration 0022;
# whole hours: the window's first one counts entire): per agent, the batches received
# against the span of its sequence numbers (a reinstalled agent numbers from 0 again), summed
# per host. One round trip: while a fleet sends, each one waits for a core.
def host_rows(host_filter: str = "") -> str:
    return f"""
SELECT h.host, h.agent_id, h.facts::text, {epoch_ms("h.first_seen")}, {epoch_ms("h.last_seen")},
    {epoch_ms("h.last_received")},
    -- unnumbered: the seed agent's and OTLP's batches (OTLP_AGENT_VERSION) are numbered by time
    h.facts->>'agent_version' = 'seed' OR starts_with(h.facts->>'agent_version', 'otlp'),
    {epoch_ms("h.retired_at")},
    coalesce(c.received, 0), coalesce(c.expected, 0)
FROM hosts h
LEFT JOIN (
    SELECT host, sum(received)::bigint AS received,
        sum(last_seq - first_seq + 1)::bigint AS expected
    FROM (
        SELECT host, sum(batches) AS received, min(min_seq) AS first_seq, max(max_seq) AS last_seq
        FROM batch_hours
        WHERE hour >= date_trunc('hour', now() - %(window_s)s * interval '1 second', 'UTC')
            {host_filter}
        GROUP BY host, agent_id
    ) spans
    GROUP BY host
) c ON c.host = h.host
"""


LIST_HOSTS = f"{host_rows()} ORDER BY h.host"
ONE_HOST = f"{host_rows('AND host = %(host)s')} WHERE h.host = %(host)s"

# Series are looked up first and the tiers read by their ids: with the ids as literals the
# planner walks each series' primary key range; joining on series instead let it scan every
# partition of the range (measured: a 7-day view from 2.5 s to tens of ms).
SERIES_IDS = "SELECT id, metric FROM series WHERE host = %s AND metric = ANY(%s)"

# A series read: one row per series with its points as a JSON array, each point in the answer's
# column order [ts_ms, avg, min, max, count], in time order. PostgreSQL writes the array: a
# view's ~7,000 points go out without becoming Python objects (psycopg2 spent longer building
# them than PostgreSQL spent reading them). Floats are written shortest-exact (the connection
# sets extra_float_digits), so they read back as the same doubles, and every value is finite
# (the contract's bounds). Concatenated rather than json_build_array: as valid, a little
# faster, and without spaces. Reads sum in double precision: the exact numeric sums keep the
# tiers identical whatever the order of writes, an average on a chart needs no more, and
# numeric arithmetic costs a view more than reading its rows. sum / count, not avg: avg over
# double precision also sums squares, which overflow long before the values do.
SERIES_POINTS = """
SELECT series_id,
       '[' || string_agg('[' || ts_ms || ',' || avg || ',' || lo || ',' || hi || ',' || n || ']',
                         ',' ORDER BY ts_ms) || ']'
FROM ({points}) p
GROUP BY series_id
"""
STEP = f"date_bin(%(step)s * interval '1 second', {{column}}, {ORIGIN})"
STEP_POINTS = """
    SELECT series_id, (date_part('epoch', step) * 1000)::bigint AS ts_ms, s / n AS avg, lo, hi, n
    FROM ({grouped}) g"""

TIER_ROWS = """
    SELECT series_id, bucket, min, max, sum, count FROM {table}
    WHERE series_id = ANY(%(ids)s) AND bucket >= %({start})s AND bucket < %({end})s"""
# The raw tier's rows as one-sample buckets (its sum is read as a double: no numeric per row).
RAW_ROWS = f"""
    SELECT series_id, ts AS bucket, value AS min, value AS max, value AS sum, 1 AS count
    FROM {RAW_VALUES}
    WHERE host = %(host)s AND series_id = ANY(%(ids)s) AND ts >= %({{start}})s
      AND ts < %({{end}})s"""
# {rows}: rows of tiers, grouped into the answer's steps.
REGROUPED = STEP_POINTS.format(
    grouped=f"""
    SELECT series_id, {STEP.format(column="bucket")} AS step, min(min) AS lo, max(max) AS hi,
           sum(sum::double precision) AS s, sum(count) AS n
    FROM ({{rows}}) t
    GROUP BY 1, 2"""
)
# A tier's rows when the step is the tier's resolution: each bucket is a step already (buckets
# and steps share ORIGIN), so the rows are the points, without grouping them again. The same
# doubles as REGROUPED's (a one-row sum is that row).
AS_STORED = """
    SELECT series_id, (date_part('epoch', bucket) * 1000)::bigint AS ts_ms,
           sum::double precision / count AS avg, min AS lo, max AS hi, count AS n
    FROM {table}
    WHERE series_id = ANY(%(ids)s) AND bucket >= %({start})s AND bucket < %({end})s"""
UNION_ALL = "\n    UNION ALL"


@cache
def series_from_tiers(tables: tuple[str, ...], as_stored: bool) -> str:
    """A series read from a tier and the ones below it, coarsest first (``read_chain`` in
    hostpulse.core.tiers): the i-th table is read from ``edge_i`` to ``edge_{i+1}``, each a tier's
    watermark, given as values so that the planner prunes every tier's partitions. A 6-hour
    read takes its rolled buckets, then the few hourly ones rolled since, and so on down to the
    newest samples, not hours of minutes. ``as_stored``: the step is the first tier's
    resolution (never the raw tier's: its rows are grouped into steps). The tables are
    hostpulse.core.tiers' own, never user input."""
    rows = [
        (RAW_ROWS if table == RAW_TABLE else TIER_ROWS).format(
            table=table, start=f"edge_{i}", end=f"edge_{i + 1}"
        )
        for i, table in enumerate(tables)
    ]
    if not as_stored or tables[0] == RAW_TABLE:
        return SERIES_POINTS.format(points=REGROUPED.format(rows=UNION_ALL.join(rows)))
    points = AS_STORED.format(table=tables[0], start="edge_0", end="edge_1")
    if len(tables) > 1:
        points += UNION_ALL + REGROUPED.format(rows=UNION_ALL.join(rows[1:]))
    return SERIES_POINTS.format(points=points)


HOST_METRICS = "SELECT metric FROM series WHERE host = %s ORDER BY metric"
HOST_KNOWN = "SELECT EXISTS (SELECT 1 FROM hosts WHERE host = %s)"

# The newest sample aggregation stored, of any host (the pipeline's lag).
NEWEST_STORED = f"SELECT {epoch_ms('max(last_seen)')} FROM hosts"

# Stored samples' processes: each sample's time in ms and its processes' document
# (``process_documents``), as text: orjson reads it, not psycopg2's json.loads.
SAMPLE_PROCESSES = "SELECT extract(epoch FROM ts) * 1000, processes::text FROM processes_raw"
LATEST_PROCESSES = f"{SAMPLE_PROCESSES} WHERE host = %s ORDER BY ts DESC LIMIT 1"
# Every stored sample's processes in a span (the seed's recent snapshots, one process' history).
PROCESSES_BETWEEN = f"{SAMPLE_PROCESSES} WHERE host = %s AND ts >= %s AND ts < %s ORDER BY ts"
# One process' samples: those whose text holds "[pid," (where each of their processes begins;
# the rare other sample with that text, in a command line, is left out when read), so that a
# long span sends only the samples it needs.
PROCESS_HISTORY = f"""{SAMPLE_PROCESSES}
WHERE host = %s AND ts >= %s AND ts < %s AND strpos(processes::text, %s) > 0
ORDER BY ts
LIMIT 100000"""
