-- Prometheus rule groups, as loaded from a rule file in Prometheus' format. Each is evaluated
-- by the alerts schedule at every step of its interval since evaluated_at; between runs,
-- state holds its alerting rules' active alerts and every rule's health (JSON, written by
-- hostpulse.services.alerts.rule_groups). notify: the targets its alerts are sent to (none:
-- every Alertmanager notifier, else the log).
CREATE TABLE alert_rule_groups (
    name          text PRIMARY KEY,
    position      integer NOT NULL,
    spec          jsonb NOT NULL,
    notify        jsonb NOT NULL DEFAULT '[]',
    evaluated_at  timestamptz,
    state         jsonb NOT NULL DEFAULT '{}',
    updated_at    timestamptz NOT NULL DEFAULT now()
);

-- An alert of a Prometheus rule is one label set, not one host: its episodes and events carry
-- the label set's fingerprint and its group. hostpulse's own rules keep '' in both.
ALTER TABLE alert_episodes ADD COLUMN fingerprint text NOT NULL DEFAULT '',
    ADD COLUMN rule_group text NOT NULL DEFAULT '';
ALTER TABLE alert_episodes DROP CONSTRAINT alert_episodes_rule_host_started_at_key;
ALTER TABLE alert_episodes ADD CONSTRAINT alert_episodes_once
    UNIQUE (rule, host, fingerprint, started_at);
CREATE INDEX alert_episodes_group_open ON alert_episodes (rule_group)
    WHERE resolved_at IS NULL AND rule_group <> '';

ALTER TABLE alert_events ADD COLUMN fingerprint text NOT NULL DEFAULT '';
ALTER TABLE alert_events DROP CONSTRAINT alert_events_rule_host_state_ts_key;
ALTER TABLE alert_events ADD CONSTRAINT alert_events_once
    UNIQUE (rule, host, fingerprint, state, ts);
