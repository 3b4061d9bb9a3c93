-- Each dashboard user's settings (hostpulse.dashboard_settings), validated before they are
-- stored; they go with the user.
CREATE TABLE dashboard_settings (
    user_name   text PRIMARY KEY REFERENCES users (name) ON DELETE CASCADE,
    settings    jsonb NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now()
);
