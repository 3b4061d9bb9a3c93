"""SQL of the agents table (see migrations 0001, 0004, 0006, 0016 and 0023)."""

ADD_AGENT = "INSERT INTO agents (name, token_hash, hosts, fleet) VALUES (%s, %s, %s, %s)"
# Adding is rare: one at a time, so that two names that collide cannot both pass the check.
LOCK_AGENTS = "LOCK TABLE agents IN SHARE ROW EXCLUSIVE MODE"
# Agents whose name begins with the new one and a dot, or that it begins with (revoked too: a
# name is never reused).
PREFIX_RELATIVES = (
    "SELECT name, fleet FROM agents"
    " WHERE starts_with(%(name)s, name || '.') OR starts_with(name, %(name)s || '.')"
)
LIST_AGENTS = (
    "SELECT name, created_at, revoked_at, hosts, fleet, host_label FROM agents ORDER BY name"
)
REVOKE_AGENT = "UPDATE agents SET revoked_at = now() WHERE name = %s AND revoked_at IS NULL"
BIND_AGENT = "UPDATE agents SET hosts = %s WHERE name = %s AND revoked_at IS NULL"
SET_HOST_LABEL = "UPDATE agents SET host_label = %s WHERE name = %s AND revoked_at IS NULL"
GRANT_FOR_HASH = """
SELECT a.name, a.hosts, a.fleet, a.host_label,
       CASE WHEN a.fleet THEN ARRAY(
           SELECT b.name FROM agents b WHERE starts_with(b.name, a.name || '.')
       ) ELSE '{}' END
FROM agents a WHERE a.token_hash = %s AND a.revoked_at IS NULL
"""
# Moved by a trigger with every change to the agents (migration 0023).
DIRECTORY_VERSION = "SELECT version FROM agent_directory"
