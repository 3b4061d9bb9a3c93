-- Silences: label matchers for a while, with who made them and why. A notification of an
-- alert a silence matches when it is due is not sent: it is marked delivered, suppressed_by
-- the silence. expired_at: when a silence stopped, at its end (the alerts schedule records
-- it) or earlier, by an operator.
CREATE TABLE alert_silences (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    matchers    jsonb NOT NULL,
    starts_at   timestamptz NOT NULL,
    ends_at     timestamptz NOT NULL,
    comment     text NOT NULL,
    created_by  text NOT NULL,
    created_at  timestamptz NOT NULL,
    expired_at  timestamptz,
    expired_by  text,
    CHECK (ends_at > starts_at)
);
CREATE INDEX alert_silences_live ON alert_silences (ends_at) WHERE expired_at IS NULL;
CREATE INDEX alert_silences_expired ON alert_silences (expired_at) WHERE expired_at IS NOT NULL;

ALTER TABLE alert_notifications ADD COLUMN suppressed_by bigint;
