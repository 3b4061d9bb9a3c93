-- A fleet token (one Secret for every node of a Kubernetes DaemonSet) writes as the agents
-- "<name>.<member>", each with its own sequence numbers; see hostpulse/agents.py.
ALTER TABLE agents ADD COLUMN fleet boolean NOT NULL DEFAULT false;
