"""Lambda events for tests: JSON fixtures plus small builders."""

from __future__ import annotations

import copy
import json
import uuid
from functools import cache
from pathlib import Path
from typing import Any

EVENTS = Path(__file__).parent / "fixtures" / "events"


@cache
def _fixture(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((EVENTS / name).read_text())
    return data


def sqs_event(*bodies: str) -> tuple[dict[str, Any], list[str]]:
    """An SQS trigger event with one record per body, and the records' message ids."""
    records = []
    for body in bodies:
        record = copy.deepcopy(_fixture("sqs_record.json"))
        record["messageId"] = str(uuid.uuid4())
        record["body"] = body
        records.append(record)
    return {"Records": records}, [r["messageId"] for r in records]
