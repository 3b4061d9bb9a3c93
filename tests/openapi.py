"""The query API's own OpenAPI description, loaded once for the fuzzing and answer tests."""

from __future__ import annotations

import schemathesis

from api.app import create_app
from hostpulse.core.settings import ApiSettings

DESCRIPTION = create_app(
    ApiSettings(database_url="postgresql://unused", redis_url="redis://unused")
).openapi()
SCHEMA = schemathesis.openapi.from_dict(DESCRIPTION)
