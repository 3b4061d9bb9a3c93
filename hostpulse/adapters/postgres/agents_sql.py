"""SQL of the agents table (see migrations 0001, 0004 and 0006)."""

ADD_AGENT = "INSERT INTO agents (name, token_hash, hosts, fleet) VALUES (%s, %s, %s, %s)"
LIST_AGENTS = "SELECT name, created_at, revoked_at, hosts, fleet FROM agents ORDER BY name"
REVOKE_AGENT = "UPDATE agents SET revoked_at = now() WHERE name = %s AND revoked_at IS NULL"
BIND_AGENT = "UPDATE agents SET hosts = %s WHERE name = %s AND revoked_at IS NULL"
GRANT_FOR_HASH = (
    "SELECT name, hosts, fleet FROM agents WHERE token_hash = %s AND revoked_at IS NULL"
)
