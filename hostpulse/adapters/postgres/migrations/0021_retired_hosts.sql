-- A host can be retired: it leaves the fleet page and raises no HostSilent, and keeps its
-- history until the tiers' retention takes it. A sample newer than its retirement brings it
-- back (the writer clears these); a host down longer than a setting is retired by the
-- retention schedule.
ALTER TABLE hosts ADD COLUMN retired_at timestamptz, ADD COLUMN retired_by text;
CREATE INDEX hosts_retired ON hosts (retired_at) WHERE retired_at IS NOT NULL;
