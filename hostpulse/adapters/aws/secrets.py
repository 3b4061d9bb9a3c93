"""A deployment's credentials from AWS Secrets Manager: a secret whose value is a JSON object of
``HOSTPULSE_*`` names and values (see hostpulse.core.settings, which reads them through this)."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping

from hostpulse.adapters.aws.clients import aws_client


def read_secret_values(secret_id: str) -> Mapping[str, str]:
    """The secret's values. Read while the settings are built, before any settings exist, so
    the region and the endpoint come from the variables Lambda (or LocalStack) sets; a secret
    named by its ARN carries its own region."""
    parts = secret_id.split(":")
    region = parts[3] if secret_id.startswith("arn:") and len(parts) > 3 else None
    region = region or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
    client = aws_client(
        "secretsmanager", region or "us-east-1", os.environ.get("AWS_ENDPOINT_URL") or None
    )
    value = json.loads(client.get_secret_value(SecretId=secret_id)["SecretString"])
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise ValueError(f"the secret {secret_id} must hold a JSON object of strings")
    return value
