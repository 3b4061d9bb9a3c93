-- Each agent token writes only the hosts bound to it: names or globs ('web-*').
ALTER TABLE agents ADD COLUMN hosts text[] NOT NULL DEFAULT '{}';
-- Agents added before binding existed keep what they did: their own name and the hosts they
-- have written so far.
UPDATE agents a SET hosts = ARRAY(
    SELECT DISTINCT h FROM (
        SELECT a.name AS h
        UNION SELECT host FROM hosts WHERE hosts.agent_id = a.name
    ) AS written ORDER BY h
);
