"""Alerts: rules with Prometheus-style semantics, evaluated on the samples' own timestamps."""
