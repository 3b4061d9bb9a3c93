-- Host names are case-insensitive (DNS): every door now keeps a host in one spelling, lower
-- case (hostpulse.contract.canonical_host), and every query looks it up so. Rows kept before
-- take that spelling here. A host written under two spellings (NODE-2 through /v1/ingest,
-- node-2 through OTLP) becomes one: its series fold into the lower-case one's, their buckets
-- merged (min, max, sum, count, last) in every rolled tier; a raw row of both spellings at the
-- same time keeps the lower-case row's values and gains the series only the other had. Where
-- both spellings hold a row of the same key elsewhere (a process list, an alert's state, point,
-- episode or event at the same time), the lower-case one's is kept.

CREATE TEMP TABLE series_twins ON COMMIT DROP AS
SELECT s.id AS old_id, t.id AS new_id
FROM series s JOIN series t ON t.host = lower(s.host) AND t.metric = s.metric
WHERE s.host <> lower(s.host);

DO $$
DECLARE
    tier text;
BEGIN
    FOREACH tier IN ARRAY ARRAY['samples_1m', 'samples_5m', 'samples_30m', 'samples_1h', 'samples_6h']
    LOOP
        EXECUTE format($sql$
            INSERT INTO %1$I AS t (series_id, bucket, min, max, sum, count, last, last_ts)
            SELECT w.new_id, s.bucket, s.min, s.max, s.sum, s.count, s.last, s.last_ts
            FROM %1$I s JOIN series_twins w ON w.old_id = s.series_id
            ON CONFLICT (series_id, bucket) DO UPDATE SET
                min = LEAST(t.min, EXCLUDED.min), max = GREATEST(t.max, EXCLUDED.max),
                sum = t.sum + EXCLUDED.sum, count = t.count + EXCLUDED.count,
                last = CASE WHEN EXCLUDED.last_ts > t.last_ts THEN EXCLUDED.last ELSE t.last END,
                last_ts = GREATEST(t.last_ts, EXCLUDED.last_ts)
        $sql$, tier);
        EXECUTE format(
            'DELETE FROM %1$I s USING series_twins w WHERE s.series_id = w.old_id', tier
        );
    END LOOP;
END
$$;

-- Raw rows of the other spelling name the folded series by their twins' ids.
UPDATE samples_raw r SET series_ids = ARRAY(
    SELECT COALESCE(w.new_id, x.id)
    FROM unnest(r.series_ids) WITH ORDINALITY AS x(id, n)
    LEFT JOIN series_twins w ON w.old_id = x.id
    ORDER BY x.n
)
WHERE r.host <> lower(r.host);

WITH moving AS (
    SELECT lower(r.host) AS host, r.ts, v.series_id, v.value
    FROM samples_raw r CROSS JOIN LATERAL unnest(r.series_ids, r.vals) AS v(series_id, value)
    WHERE r.host <> lower(r.host)
), missing AS (
    SELECT m.host, m.ts, array_agg(m.series_id ORDER BY m.series_id) AS series_ids,
           array_agg(m.value ORDER BY m.series_id) AS vals
    FROM moving m JOIN samples_raw t ON t.host = m.host AND t.ts = m.ts
    WHERE m.series_id <> ALL (t.series_ids)
    GROUP BY m.host, m.ts
)
UPDATE samples_raw t SET series_ids = t.series_ids || m.series_ids, vals = t.vals || m.vals
FROM missing m
WHERE t.host = m.host AND t.ts = m.ts;

DELETE FROM samples_raw r
WHERE r.host <> lower(r.host)
  AND EXISTS (SELECT 1 FROM samples_raw t WHERE t.host = lower(r.host) AND t.ts = r.ts);
UPDATE samples_raw SET host = lower(host) WHERE host <> lower(host);

DELETE FROM series s USING series_twins w WHERE s.id = w.old_id;
UPDATE series SET host = lower(host) WHERE host <> lower(host);

DELETE FROM processes_raw p
WHERE p.host <> lower(p.host)
  AND EXISTS (SELECT 1 FROM processes_raw t WHERE t.host = lower(p.host) AND t.ts = p.ts);
UPDATE processes_raw SET host = lower(host) WHERE host <> lower(host);

-- One host row: seen from the first of both spellings to the last.
UPDATE hosts t SET
    first_seen = LEAST(t.first_seen, o.first_seen),
    last_seen = GREATEST(t.last_seen, o.last_seen),
    last_received = GREATEST(t.last_received, o.last_received)
FROM hosts o
WHERE o.host <> lower(o.host) AND t.host = lower(o.host);
DELETE FROM hosts o
WHERE o.host <> lower(o.host) AND EXISTS (SELECT 1 FROM hosts t WHERE t.host = lower(o.host));
UPDATE hosts SET host = lower(host) WHERE host <> lower(host);

UPDATE batches SET host = lower(host) WHERE host <> lower(host);
UPDATE agent_commands SET host = lower(host) WHERE host <> lower(host);

DELETE FROM alert_state a
WHERE a.host <> lower(a.host)
  AND EXISTS (SELECT 1 FROM alert_state t WHERE t.rule = a.rule AND t.host = lower(a.host));
UPDATE alert_state SET host = lower(host) WHERE host <> lower(host);

DELETE FROM alert_points a
WHERE a.host <> lower(a.host)
  AND EXISTS (
      SELECT 1 FROM alert_points t WHERE t.rule = a.rule AND t.host = lower(a.host) AND t.ts = a.ts
  );
UPDATE alert_points SET host = lower(host) WHERE host <> lower(host);

DELETE FROM alert_episodes a
WHERE a.host <> lower(a.host)
  AND EXISTS (
      SELECT 1 FROM alert_episodes t
      WHERE t.rule = a.rule AND t.host = lower(a.host) AND t.started_at = a.started_at
  );
UPDATE alert_episodes SET host = lower(host) WHERE host <> lower(host);

DELETE FROM alert_events a
WHERE a.host <> lower(a.host)
  AND EXISTS (
      SELECT 1 FROM alert_events t
      WHERE t.rule = a.rule AND t.host = lower(a.host) AND t.state = a.state AND t.ts = a.ts
  );
UPDATE alert_events SET host = lower(host) WHERE host <> lower(host);

-- A host's own scope of the central agent configuration: 'host:NAME'.
UPDATE agent_config_changes SET scope = 'host:' || lower(substr(scope, 6))
WHERE scope LIKE 'host:%' AND scope <> 'host:' || lower(substr(scope, 6));

-- Hosts a dashboard user left out of the fleet page.
UPDATE dashboard_settings SET settings = jsonb_set(settings, '{hidden_hosts}', (
    SELECT coalesce(jsonb_agg(DISTINCT lower(h)), '[]'::jsonb)
    FROM jsonb_array_elements_text(settings -> 'hidden_hosts') AS h
))
WHERE jsonb_typeof(settings -> 'hidden_hosts') = 'array';
