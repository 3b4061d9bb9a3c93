"""Every SQL statement of alerts, in one place. Times travel as Unix milliseconds.

The f-strings only splice this module's own constants (time conversions); every value is a
query parameter.
"""

from __future__ import annotations

from hostpulse.adapters.postgres.metrics_sql import MS, epoch_ms

TS = MS.format(column="%s")


LOCK_HOST = "SELECT pg_advisory_xact_lock(hashtext('alerts:' || %s))"

RULES = "SELECT spec FROM alert_rules ORDER BY name"
NOTIFIERS = "SELECT spec FROM alert_notifiers ORDER BY name"
RULE_SOURCES = "SELECT name, source, spec, updated_at FROM alert_rules ORDER BY name"
UPSERT_RULE = """
INSERT INTO alert_rules (name, spec, source) VALUES (%s, %s, %s)
ON CONFLICT (name) DO UPDATE SET spec = EXCLUDED.spec, source = EXCLUDED.source,
    updated_at = now()
"""
DELETE_RULE = "DELETE FROM alert_rules WHERE name = %s"
UPSERT_NOTIFIER = """
INSERT INTO alert_notifiers (name, spec) VALUES (%s, %s)
ON CONFLICT (name) DO UPDATE SET spec = EXCLUDED.spec, updated_at = now()
"""
DELETE_FILE_RULES_EXCEPT = "DELETE FROM alert_rules WHERE source = 'file' AND NOT name = ANY(%s)"
DELETE_NOTIFIERS_EXCEPT = "DELETE FROM alert_notifiers WHERE NOT name = ANY(%s)"

WATCHED = f"SELECT rule, {epoch_ms('last_breach_at')} FROM alert_state WHERE host = %s"
ADD_POINT = f"""
INSERT INTO alert_points (rule, host, ts, value, breach) VALUES (%s, %s, {TS}, %s, %s)
ON CONFLICT (rule, host, ts) DO UPDATE SET value = EXCLUDED.value, breach = EXCLUDED.breach
"""
POINTS = f"""
SELECT {epoch_ms("ts")}, value, breach FROM alert_points
WHERE rule = %s AND host = %s AND ts >= {TS} ORDER BY ts
"""
PRUNE = f"DELETE FROM alert_points WHERE rule = %s AND host = %s AND ts < {TS}"
SET_STATE = f"""
INSERT INTO alert_state (rule, host, state, pending_since, last_breach_at, last_value)
VALUES (%s, %s, %s, {TS}, {TS}, %s)
ON CONFLICT (rule, host) DO UPDATE SET state = EXCLUDED.state,
    pending_since = EXCLUDED.pending_since,
    last_breach_at = coalesce(EXCLUDED.last_breach_at, alert_state.last_breach_at),
    last_value = EXCLUDED.last_value, updated_at = now()
"""
FORGET_STATE = "DELETE FROM alert_state WHERE rule = %s AND host = %s"
FORGET_POINTS = "DELETE FROM alert_points WHERE rule = %s AND host = %s"

EPISODE_COLUMNS = f"""id, {epoch_ms("started_at")}, {epoch_ms("fired_at")},
    {epoch_ms("resolved_at")}, {epoch_ms("last_notified_at")}, reminders"""
LATEST_EPISODE = f"""
SELECT {EPISODE_COLUMNS} FROM alert_episodes WHERE rule = %s AND host = %s AND fingerprint = ''
ORDER BY fired_at DESC LIMIT 1
"""
OPEN_EPISODES = f"""
SELECT rule, {EPISODE_COLUMNS} FROM alert_episodes
WHERE host = %s AND resolved_at IS NULL AND fingerprint = ''
"""
OPEN_EPISODE_HOSTS = """
SELECT DISTINCT host FROM alert_episodes WHERE resolved_at IS NULL AND fingerprint = ''
"""

ADD_EPISODE = f"""
INSERT INTO alert_episodes (rule, host, fingerprint, rule_group, started_at, fired_at, fired_value,
    severity, labels, annotations)
VALUES (%s, %s, %s, %s, {TS}, {TS}, %s, %s, %s, %s)
ON CONFLICT (rule, host, fingerprint, started_at) DO NOTHING
RETURNING id
"""
RESOLVE_EPISODE = f"""
UPDATE alert_episodes SET resolved_at = {TS}, resolved_value = %s
WHERE id = %s AND resolved_at IS NULL
"""
ADD_EVENT = f"""
INSERT INTO alert_events (rule, host, fingerprint, state, ts, value, severity, summary)
VALUES (%s, %s, %s, %s, {TS}, %s, %s, %s)
ON CONFLICT (rule, host, fingerprint, state, ts) DO NOTHING
"""
ADD_NOTIFICATION = f"""
INSERT INTO alert_notifications (episode_id, kind, sequence, target, payload, next_attempt_at)
VALUES (%s, %s, %s, %s, %s, {TS})
ON CONFLICT (episode_id, kind, sequence, target) DO NOTHING
"""
MARK_NOTIFIED = f"""
UPDATE alert_episodes SET last_notified_at = {TS},
    reminders = reminders + CASE WHEN %s = 'reminder' THEN 1 ELSE 0 END
WHERE id = %s
"""

# Retired hosts are not watched: no HostSilent for a host taken out of the fleet.
LAST_SEEN = f"""
SELECT host, {epoch_ms("last_seen")}, coalesce(facts -> 'labels', '{{}}'::jsonb) FROM hosts
WHERE retired_at IS NULL
"""
# Claimed with a lease (next_attempt_at moves past the send): two deliverers running at once
# never send the same notification twice, and one that dies leaves it to the next.
CLAIM_DUE = f"""
UPDATE alert_notifications SET next_attempt_at = {TS}
WHERE id IN (
    SELECT id FROM alert_notifications
    WHERE delivered_at IS NULL AND next_attempt_at <= {TS}
    ORDER BY next_attempt_at LIMIT %s
    FOR UPDATE SKIP LOCKED
)
RETURNING id, target, payload, attempts, kind
"""
DELIVERED = (
    f"UPDATE alert_notifications SET delivered_at = {TS}, attempts = attempts + 1 WHERE id = %s"
)
FAILED = f"""
UPDATE alert_notifications SET attempts = attempts + 1, last_error = %s,
    next_attempt_at = coalesce({TS}, 'infinity')
WHERE id = %s
"""

ACTIVE = f"""
SELECT e.rule, e.host, e.severity, {epoch_ms("e.started_at")}, {epoch_ms("e.fired_at")},
       e.fired_value, e.labels, e.annotations, e.rule_group
FROM alert_episodes e WHERE e.resolved_at IS NULL ORDER BY e.fired_at DESC
"""
PENDING = f"""
SELECT rule, host, {epoch_ms("pending_since")}, last_value FROM alert_state
WHERE state = 'pending' ORDER BY pending_since
"""
HISTORY = f"""
SELECT rule, host, state, {epoch_ms("ts")}, value, severity, summary, fingerprint
FROM alert_events
WHERE ts >= {TS} AND ts < {TS} AND (%s::text IS NULL OR host = %s)
  AND (%s::text IS NULL OR rule = %s)
  AND (cardinality(%s::text[]) = 0 OR state = ANY(%s::text[]))
ORDER BY ts DESC LIMIT %s
"""

# -- silences ----------------------------------------------------------------------------------

SILENCE_COLUMNS = f"""id, matchers, {epoch_ms("starts_at")}, {epoch_ms("ends_at")}, comment,
       created_by, {epoch_ms("created_at")}, {epoch_ms("expired_at")}, expired_by"""
ADD_SILENCE = f"""
INSERT INTO alert_silences (matchers, starts_at, ends_at, comment, created_by, created_at)
VALUES (%s, {TS}, {TS}, %s, %s, {TS})
RETURNING {SILENCE_COLUMNS}
"""
LIVE_SILENCES = f"""
SELECT {SILENCE_COLUMNS} FROM alert_silences
WHERE expired_at IS NULL AND ends_at > {TS} ORDER BY id
"""
# Live ones, and those that stopped since: the silences page and its history.
SILENCES_SINCE = f"""
SELECT {SILENCE_COLUMNS} FROM alert_silences
WHERE expired_at IS NULL OR expired_at >= {TS} ORDER BY id DESC LIMIT %s
"""
EXPIRE_SILENCE = f"""
UPDATE alert_silences SET expired_at = LEAST({TS}, ends_at), expired_by = %s
WHERE id = %s AND expired_at IS NULL
RETURNING {SILENCE_COLUMNS}
"""
SILENCE = f"SELECT {SILENCE_COLUMNS} FROM alert_silences WHERE id = %s"
END_SILENCES = f"""
UPDATE alert_silences SET expired_at = ends_at, expired_by = 'its end'
WHERE expired_at IS NULL AND ends_at <= {TS}
RETURNING {SILENCE_COLUMNS}
"""
SUPPRESSED = f"""
UPDATE alert_notifications SET delivered_at = {TS}, suppressed_by = %s,
    last_error = 'silenced by silence ' || %s
WHERE id = %s
"""
# Whether the alert of this delivery was told to its target before, not silenced: then its
# resolution is told too, silenced or not, so that the target does not keep it open for ever.
TOLD_BEFORE = """
SELECT EXISTS (
    SELECT FROM alert_notifications d JOIN alert_notifications o
      ON o.episode_id = d.episode_id AND o.target = d.target
    WHERE d.id = %s AND o.kind <> 'resolved' AND o.delivered_at IS NOT NULL
      AND o.suppressed_by IS NULL
)
"""

# -- Prometheus rule groups --------------------------------------------------------------------

GROUP_NAMES = "SELECT name FROM alert_rule_groups ORDER BY position, name"
GROUP_COLUMNS = f"name, spec, notify, {epoch_ms('evaluated_at')}, state"
# A run holds its group's row; another run at once passes the group by.
LOCK_GROUP = f"SELECT {GROUP_COLUMNS} FROM alert_rule_groups WHERE name = %s FOR UPDATE SKIP LOCKED"
GROUPS = f"SELECT {GROUP_COLUMNS} FROM alert_rule_groups ORDER BY position, name"
SAVE_GROUP = f"""
UPDATE alert_rule_groups SET evaluated_at = {TS}, state = %s WHERE name = %s
"""
UPSERT_GROUP = """
INSERT INTO alert_rule_groups (name, position, spec, notify) VALUES (%s, %s, %s, %s)
ON CONFLICT (name) DO UPDATE SET position = EXCLUDED.position, spec = EXCLUDED.spec,
    notify = EXCLUDED.notify, updated_at = now()
"""
# Groups taken out of the file stay, without rules, until their alerts are resolved.
EMPTY_GROUPS_EXCEPT = """
UPDATE alert_rule_groups SET spec = jsonb_set(spec, '{rules}', '[]'), updated_at = now()
WHERE NOT name = ANY(%s)
RETURNING name
"""
DROP_GROUP = "DELETE FROM alert_rule_groups WHERE name = %s"
GROUP_OPEN_ALERTS = f"""
SELECT fingerprint, {EPISODE_COLUMNS}, labels, annotations FROM alert_episodes
WHERE rule_group = %s AND resolved_at IS NULL AND rule_group <> ''
"""
# The groups' pending alerts, as the state of each group keeps them.
GROUP_PENDING = """
SELECT a -> 'labels' ->> 'alertname', coalesce(a -> 'labels' ->> 'host', ''),
       (a ->> 'active_at_ms')::bigint, (a ->> 'value')::float8, a -> 'labels',
       a -> 'annotations', g.name
FROM alert_rule_groups g
CROSS JOIN LATERAL jsonb_each(g.state -> 'rules') AS r(key, rule)
CROSS JOIN LATERAL jsonb_array_elements(coalesce(r.rule -> 'alerts', '[]')) AS a
WHERE a ->> 'state' = 'pending'
ORDER BY 3
"""
