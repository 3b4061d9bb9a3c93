"""The local cloud: LocalStack, PostgreSQL and Redis as host processes, supervised together."""
