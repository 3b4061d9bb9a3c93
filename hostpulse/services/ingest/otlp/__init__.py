"""OpenTelemetry metrics (OTLP) onto wire contract v1."""
