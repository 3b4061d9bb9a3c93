"""PostgreSQL: the metric tiers, agents, alerts, migrations; each with its SQL."""
