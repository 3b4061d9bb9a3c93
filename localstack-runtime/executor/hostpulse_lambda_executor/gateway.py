"""API Gateway on LocalStack as on AWS: request bodies reach the function as they were sent, and
an API's routes answer only once they are all deployed.

LocalStack's gateway inflates every ``Content-Encoding: gzip`` request body before routing it
(its ``ContentDecoder`` handler). AWS's REST API Gateway (without payload compression, as
hostpulse deploys it) passes the compressed body to the Lambda proxy integration untouched, and
the function inflates it within its own limits. Inflating in the gateway made malformed gzip a
500 instead of ingest's 400, replaced ingest's 8 MiB inflated allowance by the gateway's own
limits, and inflated a gzip bomb in full before anything could refuse it.

While ``hostpulse up`` deploys the stack onto a LocalStack that has just started, LocalStack
answers a route of an API not deployed yet with a 404, or a 200 from a half-made one: a sender
that only looks at the status (Prometheus' remote write) drops its batch as refused, or as
stored. On AWS an API not deployed yet is no address at all, and the sender retries. Here every
request to an API answers 503 with Retry-After until the supervisor has marked the stack
deployed (the file ``HOSTPULSE_STACK_DEPLOYED_FILE`` names).
"""

from __future__ import annotations

import os
from typing import Any

from localstack.aws.handlers.codec import ContentDecoder
from localstack.runtime import hooks

EXECUTE_API_PATH = "/_aws/execute-api/"
EXECUTE_API_HOST = ".execute-api."
DEPLOYED_FILE = os.environ.get("HOSTPULSE_STACK_DEPLOYED_FILE", "")
NOT_DEPLOYED = {"message": "the stack is being deployed; retry shortly"}
_deployed: list[bool] = []  # once deployed, deployed for this process' life


def is_execute_api(request: Any) -> bool:
    return bool(
        request.path.startswith(EXECUTE_API_PATH) or EXECUTE_API_HOST in (request.host or "")
    )


def stack_deployed() -> bool:
    if _deployed or not DEPLOYED_FILE:
        return True
    if os.path.exists(DEPLOYED_FILE):
        _deployed.append(True)
        return True
    return False


@hooks.on_infra_start()
def pass_api_gateway_bodies_through() -> None:
    decode = ContentDecoder.__call__
    if getattr(decode, "hostpulse", False):
        return

    def decode_unless_for_a_function(
        self: ContentDecoder, chain: Any, context: Any, response: Any
    ) -> None:
        if is_execute_api(context.request):
            if not stack_deployed():
                chain.respond(503, NOT_DEPLOYED, {"Retry-After": "2"})
            return None
        return decode(self, chain, context, response)

    decode_unless_for_a_function.hostpulse = True  # type: ignore[attr-defined]
    ContentDecoder.__call__ = decode_unless_for_a_function  # type: ignore[method-assign]


# AWS: "*/*" among an API's binary media types covers every content type, whatever the client's
# Accept header, so a Lambda proxy response marked isBase64Encoded goes out decoded. LocalStack
# skips a "*/*" entry, and returned such bodies still in base64 (an OTLP exporter then read
# "e30=" where the function had answered "{}").
ANY_MEDIA_TYPE = "*/*"


@hooks.on_infra_start()
def any_media_type_is_binary() -> None:
    from localstack.services.apigateway.next_gen.execute_api.integrations import aws

    matches = aws.mime_type_matches_binary_media_types
    if getattr(matches, "hostpulse", False):
        return

    def matches_or_any(mime_type: str | None, binary_media_types: list[str]) -> bool:
        return ANY_MEDIA_TYPE in (binary_media_types or []) or matches(
            mime_type=mime_type, binary_media_types=binary_media_types
        )

    matches_or_any.hostpulse = True  # type: ignore[attr-defined]
    aws.mime_type_matches_binary_media_types = matches_or_any
