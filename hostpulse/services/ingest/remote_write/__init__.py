"""Prometheus remote-write 1.0 at POST /api/v1/write."""
