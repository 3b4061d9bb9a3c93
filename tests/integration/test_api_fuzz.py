"""No route answers 500, whatever it is sent: schemathesis against our own OpenAPI description,
on the query API under uvicorn and on the api function behind API Gateway.

Writes go unauthenticated (the admin routes answer 401), so fuzzing never changes the rules
the other tests rely on.
"""

from __future__ import annotations

from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from tests.openapi import SCHEMA
from tests.support import CloudUnderTest

pytestmark = [pytest.mark.localcloud, pytest.mark.slow]
CHECKS = [not_a_server_error, response_schema_conformance]


@pytest.fixture(scope="module")
def session() -> requests.Session:
    return requests.Session()


@SCHEMA.parametrize()
@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
def test_no_route_answers_500_under_uvicorn(
    case: schemathesis.Case[Any], local_cloud: CloudUnderTest, session: requests.Session
) -> None:
    case.call_and_validate(
        base_url=local_cloud.endpoints["local_api_url"], session=session, checks=CHECKS, timeout=30
    )


@SCHEMA.parametrize()
@settings(
    max_examples=10,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
def test_no_route_answers_500_through_api_gateway(
    case: schemathesis.Case[Any], local_cloud: CloudUnderTest, session: requests.Session
) -> None:
    case.call_and_validate(
        base_url=local_cloud.endpoints["api_url"], session=session, checks=CHECKS, timeout=60
    )
