"""SQL of the agent configuration history (see migration 0013)."""

APPEND = """
INSERT INTO agent_config_changes (scope, settings, changed_by) VALUES (%s, %s, %s)
RETURNING version, changed_at
"""
# The newest change of every scope: a handful of rows, read whole by ingest's cache.
CURRENT = """
SELECT DISTINCT ON (scope) version, scope, settings, changed_by, changed_at
FROM agent_config_changes ORDER BY scope, version DESC
"""
HISTORY = """
SELECT version, scope, settings, changed_by, changed_at FROM agent_config_changes
WHERE %(scope)s::text IS NULL OR scope = %(scope)s
ORDER BY version DESC LIMIT %(limit)s
"""

ISSUE = """
INSERT INTO agent_commands (host, kind, issued_by) VALUES (%s, %s, %s)
RETURNING id, issued_at
"""
NEWEST_PENDING = """
SELECT host, max(id) FROM agent_commands WHERE acked_at IS NULL GROUP BY host
"""
COMMAND_COLUMNS = "id, host, kind, issued_by, issued_at, acked_at, result"
PENDING = f"""
SELECT {COMMAND_COLUMNS} FROM agent_commands WHERE host = %s AND acked_at IS NULL ORDER BY id
"""
ACK = """
UPDATE agent_commands SET acked_at = now(), result = %s
WHERE id = %s AND host = %s AND acked_at IS NULL
"""
RECENT = f"""
SELECT {COMMAND_COLUMNS} FROM agent_commands
WHERE %(host)s::text IS NULL OR host = %(host)s
ORDER BY id DESC LIMIT %(limit)s
"""
