"""SQL of the users and sessions tables (see migration 0011)."""

ADD_USER = """
INSERT INTO users (name, role, password_hash) VALUES (%s, %s, %s)
ON CONFLICT (name) DO NOTHING
"""
USER = "SELECT name, role, password_hash FROM users WHERE name = %s"
USERS = "SELECT name, role, password_hash FROM users ORDER BY name"
UPDATE_USER = """
UPDATE users SET password_hash = coalesce(%s, password_hash), role = coalesce(%s, role),
    updated_at = now()
WHERE name = %s
"""
REMOVE_USER = "DELETE FROM users WHERE name = %s"  # its sessions go with it (ON DELETE CASCADE)

# Expired sessions are dropped whenever one is made: the table holds only live ones.
ADD_SESSION = """
WITH expired AS (DELETE FROM sessions WHERE expires_at <= now())
INSERT INTO sessions (token_hash, user_name, csrf, expires_at) VALUES (%s, %s, %s, %s)
"""
SESSION = """
SELECT u.name, u.role, s.csrf, s.expires_at
FROM sessions s JOIN users u ON u.name = s.user_name
WHERE s.token_hash = %s AND s.expires_at > %s
"""
END_SESSION = "DELETE FROM sessions WHERE token_hash = %s"
END_SESSIONS_OF = "DELETE FROM sessions WHERE user_name = %s"

DASHBOARD_SETTINGS = "SELECT settings FROM dashboard_settings WHERE user_name = %s"
# Through the users table: a user removed meanwhile saves nothing (0 rows), not a key error.
SAVE_DASHBOARD_SETTINGS = """
INSERT INTO dashboard_settings (user_name, settings)
SELECT name, %s FROM users WHERE name = %s
ON CONFLICT (user_name) DO UPDATE SET settings = EXCLUDED.settings, updated_at = now()
"""
