-- Central agent configuration (hostpulse.agent_config): an append-only history of changes,
-- each a new version of one scope's settings ('all', 'label:KEY=VALUE' or 'host:NAME');
-- settings NULL when the scope's settings were removed.
CREATE TABLE agent_config_changes (
    version     bigserial PRIMARY KEY,
    scope       text NOT NULL,
    settings    jsonb,
    changed_by  text NOT NULL,
    changed_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX agent_config_changes_scope ON agent_config_changes (scope, version DESC);

-- Commands to one host's agent (hostpulse.agent_config): issued here, fetched by the agent's
-- sync, acknowledged by its next one with what it did.
CREATE TABLE agent_commands (
    id          bigserial PRIMARY KEY,
    host        text NOT NULL,
    kind        text NOT NULL CHECK (kind IN ('collect_now', 'pause', 'resume', 'diagnostics')),
    issued_by   text NOT NULL,
    issued_at   timestamptz NOT NULL DEFAULT now(),
    acked_at    timestamptz,
    result      jsonb
);
CREATE INDEX agent_commands_pending ON agent_commands (host, id) WHERE acked_at IS NULL;
