-- Alerts: rules and targets, per rule and host the points around breaches, the firings
-- (episodes), every transition, and the notifications waiting to be delivered.

CREATE TABLE alert_rules (
    name        text PRIMARY KEY,
    spec        jsonb NOT NULL,
    source      text NOT NULL CHECK (source IN ('file', 'api')),
    updated_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE alert_notifiers (
    name        text PRIMARY KEY,
    spec        jsonb NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now()
);

-- One row per rule and host that breached lately: the lock that makes concurrent evaluations
-- of the same pair take turns, and what tells a healthy pair (no row) from one to watch.
CREATE TABLE alert_state (
    rule            text NOT NULL,
    host            text NOT NULL,
    state           text NOT NULL CHECK (state IN ('inactive', 'pending', 'firing')),
    pending_since   timestamptz,
    last_breach_at  timestamptz,
    last_value      double precision,
    updated_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (rule, host)
);

-- Points keyed by the sample's own time: late, reordered and repeated batches land on the
-- same rows, and the state is recomputed from them. Kept only around breaches.
CREATE TABLE alert_points (
    rule    text NOT NULL,
    host    text NOT NULL,
    ts      timestamptz NOT NULL,
    value   double precision NOT NULL,
    breach  boolean NOT NULL,
    PRIMARY KEY (rule, host, ts)
);

CREATE TABLE alert_episodes (
    id                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    rule              text NOT NULL,
    host              text NOT NULL,
    started_at        timestamptz NOT NULL,
    fired_at          timestamptz NOT NULL,
    resolved_at       timestamptz,
    fired_value       double precision,
    resolved_value    double precision,
    severity          text NOT NULL,
    labels            jsonb NOT NULL DEFAULT '{}',
    annotations       jsonb NOT NULL DEFAULT '{}',
    last_notified_at  timestamptz,
    reminders         integer NOT NULL DEFAULT 0,
    UNIQUE (rule, host, started_at)
);
CREATE INDEX alert_episodes_open ON alert_episodes (rule, host) WHERE resolved_at IS NULL;
CREATE INDEX alert_episodes_latest ON alert_episodes (rule, host, fired_at DESC);

-- Every transition with its value: the history the API serves.
CREATE TABLE alert_events (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    rule         text NOT NULL,
    host         text NOT NULL,
    state        text NOT NULL CHECK (state IN ('pending', 'firing', 'resolved')),
    ts           timestamptz NOT NULL,
    value        double precision,
    severity     text NOT NULL,
    summary      text NOT NULL,
    recorded_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (rule, host, state, ts)
);
CREATE INDEX alert_events_recent ON alert_events (ts DESC);

-- Written in the evaluation's transaction, sent after it commits, retried with backoff.
CREATE TABLE alert_notifications (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    episode_id       bigint NOT NULL REFERENCES alert_episodes (id) ON DELETE CASCADE,
    kind             text NOT NULL CHECK (kind IN ('firing', 'resolved', 'reminder')),
    sequence         integer NOT NULL DEFAULT 0,
    target           text NOT NULL,
    payload          jsonb NOT NULL,
    attempts         integer NOT NULL DEFAULT 0,
    next_attempt_at  timestamptz NOT NULL DEFAULT now(),
    delivered_at     timestamptz,
    last_error       text,
    UNIQUE (episode_id, kind, sequence, target)
);
CREATE INDEX alert_notifications_due ON alert_notifications (next_attempt_at)
    WHERE delivered_at IS NULL;
