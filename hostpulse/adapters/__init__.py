"""Adapters: the only modules that import psycopg2, redis or boto3."""
