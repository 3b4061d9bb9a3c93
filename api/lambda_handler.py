"""The query API on Lambda behind API Gateway (REST, proxy integration)."""

from __future__ import annotations

from mangum import Mangum

from api.app import create_app

handler = Mangum(create_app(), lifespan="off")
