"""Answers go out as built: series points as the store wrote them, arrays in the columns' order."""

from __future__ import annotations

import json

import pytest

from api.answers_json import AnswerJSONResponse
from hostpulse.services.query.rows import EncodedJson, EncodedPoints


def test_points_are_arrays_in_the_order_of_the_columns() -> None:
    points = EncodedPoints.of([(1000, 2.5, 1.0, 4.0, 3)])
    answer = {"columns": ["ts_ms", "avg", "min", "max", "count"],
              "series": [{"metric": "cpu.percent", "points": points}]}  # fmt: skip

    body = json.loads(bytes(AnswerJSONResponse(answer).body))

    assert body["series"][0]["points"] == [[1000, 2.5, 1.0, 4.0, 3]]
    assert b'"points":[[1000, 2.5, 1.0, 4.0, 3]]' in bytes(AnswerJSONResponse(answer).body)
    assert AnswerJSONResponse({}).media_type == "application/json"


def test_facts_go_out_as_stored() -> None:
    stored = '{"os": "Linux", "cpu_count": 8, "labels": {"rack": "b\\u00e9"}}'  # jsonb as text

    body = bytes(AnswerJSONResponse({"hosts": [{"facts": EncodedJson(stored)}]}).body)

    assert body == b'{"hosts":[{"facts":' + stored.encode() + b"}]}"
    assert json.loads(body)["hosts"][0]["facts"]["labels"] == {"rack": "b\u00e9"}


def test_what_is_not_part_of_an_answer_is_refused_not_guessed() -> None:
    with pytest.raises(TypeError, match="not JSON serializable"):
        AnswerJSONResponse({"when": object()})
