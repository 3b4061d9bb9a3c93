"""Answers that go out as built (plain numbers, strings, lists, dicts), straight to JSON.

A view's series answer holds thousands of points; the standard library's encoder spent as long
writing them as PostgreSQL spent reading them, orjson a fraction of that (docs/benchmarks.md).
Series points and host facts come from the store already written as JSON and go out as they
are.
"""

from __future__ import annotations

from typing import Any

import orjson
from fastapi.responses import JSONResponse

from hostpulse.services.query.rows import EncodedJson


def _encoded_as_written(value: object) -> orjson.Fragment:
    if isinstance(value, EncodedJson):
        return orjson.Fragment(value.json)
    raise TypeError(f"{type(value).__name__} is not part of an answer")


class AnswerJSONResponse(JSONResponse):
    def render(self, content: Any) -> bytes:
        return orjson.dumps(content, default=_encoded_as_written, option=orjson.OPT_NON_STR_KEYS)
