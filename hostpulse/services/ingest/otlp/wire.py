"""OTLP/HTTP's encodings: a request in binary protobuf or in JSON, and the answers the
specification asks for in the request's own encoding (an ``ExportMetricsServiceResponse`` on
success, a ``google.rpc.Status`` on failure)."""

from __future__ import annotations

from dataclasses import dataclass

from google.protobuf import json_format
from google.protobuf.message import DecodeError, Message
from google.rpc.status_pb2 import Status
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
    ExportMetricsServiceResponse,
)

PROTOBUF = "application/x-protobuf"
JSON = "application/json"
PROTOBUF_TYPES = (PROTOBUF, "application/protobuf")

# google.rpc.Code of each refusal, as an OTLP/gRPC peer would name it.
GRPC_CODES = {400: 3, 401: 16, 403: 7, 413: 8, 415: 3, 422: 3, 429: 8, 503: 14}


class Undecodable(ValueError):
    pass


@dataclass(frozen=True)
class Encoding:
    json: bool

    @property
    def content_type(self) -> str:
        return JSON if self.json else PROTOBUF

    def encode(self, message: Message) -> bytes:
        if self.json:
            return json_format.MessageToJson(message, indent=None).encode()
        encoded: bytes = message.SerializeToString()
        return encoded

    def decode(self, body: bytes) -> ExportMetricsServiceRequest:
        request = ExportMetricsServiceRequest()
        try:
            if self.json:
                json_format.Parse(body, request, ignore_unknown_fields=True)
            else:
                request.ParseFromString(body)
        except (json_format.ParseError, DecodeError, UnicodeDecodeError, RecursionError) as error:
            kind = "JSON" if self.json else "protobuf"
            raise Undecodable(f"not an OTLP metrics request in {kind}: {error}") from None
        return request

    def success(self, rejected_points: int, message: str) -> bytes:
        answer = ExportMetricsServiceResponse()
        if rejected_points or message:
            answer.partial_success.rejected_data_points = rejected_points
            answer.partial_success.error_message = message
        return self.encode(answer)

    def failure(self, status: int, message: str) -> bytes:
        return self.encode(Status(code=GRPC_CODES.get(status, 2), message=message))


def encoding_of(content_type: str) -> Encoding | None:
    """Which encoding a Content-Type names; None for one OTLP/HTTP does not define."""
    media = content_type.split(";", 1)[0].strip().lower()
    if media in PROTOBUF_TYPES:
        return Encoding(json=False)
    if media == JSON:
        return Encoding(json=True)
    return None
