"""PromQL over hostpulse's tiers: what Grafana and other Prometheus clients ask, answered as
Prometheus 2.42 answers it on the same samples."""
