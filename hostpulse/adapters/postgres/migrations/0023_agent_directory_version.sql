-- A number that moves with every change to the agents (registered, revoked, bound to other
-- hosts, relabelled), in the change's own transaction. Ingest keeps the grants it looked up for
-- as long as this number stays put, and reads it at most every HOSTPULSE_AGENT_CACHE_SECONDS:
-- a revocation still applies within that time, and a fleet's tokens are no longer looked up
-- again one by one every time their cache entries age out.
CREATE TABLE agent_directory (version bigint NOT NULL);
INSERT INTO agent_directory (version) VALUES (0);

CREATE FUNCTION agent_directory_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE agent_directory SET version = version + 1;
    RETURN NULL;
END
$$;

CREATE TRIGGER agents_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON agents
    FOR EACH STATEMENT EXECUTE FUNCTION agent_directory_changed();
