-- Hosts, batches and the three PostgreSQL tiers. Every time-keyed table is partitioned by
-- day so retention drops whole partitions; partitions are created on demand by the writer.

CREATE TABLE hosts (
    host           text PRIMARY KEY,
    agent_id       text NOT NULL,
    facts          jsonb NOT NULL DEFAULT '{}',
    first_seen     timestamptz NOT NULL,
    last_seen      timestamptz NOT NULL,   -- newest sample timestamp
    last_received  timestamptz NOT NULL    -- when the newest batch arrived
);

-- One row per accepted batch: deduplicates redeliveries and gives completeness (seq gaps).
CREATE TABLE batches (
    agent_id      text NOT NULL,
    seq           bigint NOT NULL,
    host          text NOT NULL,
    first_ts      timestamptz NOT NULL,
    last_ts       timestamptz NOT NULL,
    sample_count  integer NOT NULL,
    received_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (agent_id, seq, first_ts)
) PARTITION BY RANGE (first_ts);

CREATE TABLE series (
    id      integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    host    text NOT NULL,
    metric  text NOT NULL,
    UNIQUE (host, metric)
);

CREATE TABLE samples_raw (
    series_id  integer NOT NULL,
    ts         timestamptz NOT NULL,
    value      double precision NOT NULL,
    PRIMARY KEY (series_id, ts)
) PARTITION BY RANGE (ts);

CREATE TABLE samples_1m (
    series_id  integer NOT NULL,
    bucket     timestamptz NOT NULL,
    min        double precision NOT NULL,
    max        double precision NOT NULL,
    sum        double precision NOT NULL,
    count      integer NOT NULL,
    last       double precision NOT NULL,
    last_ts    timestamptz NOT NULL,
    PRIMARY KEY (series_id, bucket)
) PARTITION BY RANGE (bucket);

CREATE TABLE samples_1h (LIKE samples_1m INCLUDING ALL) PARTITION BY RANGE (bucket);

CREATE TABLE processes_raw (
    host               text NOT NULL,
    ts                 timestamptz NOT NULL,
    pid                integer NOT NULL,
    name               text NOT NULL,
    cmdline            text NOT NULL,
    username           text NOT NULL,
    cpu_percent        double precision NOT NULL,
    rss_bytes          bigint NOT NULL,
    threads            integer NOT NULL,
    read_bytes_per_s   double precision NOT NULL,
    write_bytes_per_s  double precision NOT NULL,
    read_bytes_total   bigint,
    write_bytes_total  bigint,
    open_files         integer,
    status             text NOT NULL,
    PRIMARY KEY (host, ts, pid)
) PARTITION BY RANGE (ts);
