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
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.schemas import APIOperation
from schemathesis.specs.openapi.checks import response_schema_conformance

from tests.openapi import SCHEMA
from tests.support import CloudUnderTest

pytestmark = [pytest.mark.localcloud, pytest.mark.slow]
CHECKS = [not_a_server_error, response_schema_conformance]
Operation = APIOperation[Any, Any, Any, Any]


# One test per operation and transport, with pytest's own ids: a parallel run finds tests by id,
# and schemathesis' own parametrization gives every operation the function's. An operation the
# description cannot make is an error here, at collection.
OPERATIONS: list[Operation] = [result.ok() for result in SCHEMA.get_all_operations()]  # type: ignore[union-attr]
ON_EACH = pytest.mark.parametrize("operation", OPERATIONS, ids=lambda operation: operation.label)
SLOW_OK = [HealthCheck.too_slow, HealthCheck.function_scoped_fixture]


def fuzz(operation: Operation, base_url: str, examples: int, timeout: float) -> None:
    session = requests.Session()

    @given(case=operation.as_strategy())
    @settings(max_examples=examples, deadline=None, suppress_health_check=SLOW_OK)
    def each(case: schemathesis.Case[Any]) -> None:
        case.call_and_validate(base_url=base_url, session=session, checks=CHECKS, timeout=timeout)

    each()


@ON_EACH
def test_no_route_answers_500_under_uvicorn(
    operation: Operation, local_cloud: CloudUnderTest
) -> None:
    fuzz(operation, local_cloud.endpoints["local_api_url"], examples=40, timeout=30)


@ON_EACH
def test_no_route_answers_500_through_api_gateway(
    operation: Operation, local_cloud: CloudUnderTest
) -> None:
    fuzz(operation, local_cloud.endpoints["api_url"], examples=10, timeout=60)
