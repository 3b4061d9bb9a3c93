from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from hostpulse.core.contract import Batch, json_schema, metric_values
from hostpulse.localcloud.settings import PROJECT_ROOT
from hostpulse.simulation.host import SyntheticHost


def test_the_published_schema_is_the_models() -> None:
    published = json.loads((PROJECT_ROOT / "docs" / "wire-contract-v1.schema.json").read_text())

    assert published == json_schema(), "run `hostpulse schema --output docs/…` after a change"


def test_metric_names_cover_every_group() -> None:
    sample = SyntheticHost("web-1", cores=2).sample(1_700_000_000_000)

    names = dict(metric_values(sample))

    assert names["cpu.percent"] == sample.cpu.percent  # type: ignore[union-attr]
    assert {"cpu.core:0", "cpu.core:1", "mem.percent", "swap.percent", "load.1"} <= set(names)
    assert {"disk.percent:/", "diskio.read_bytes_per_s:vda", "net.rx_bytes_per_s:eth0"} <= set(
        names
    )
    assert {"uptime_s", "process_count", "agent.rss_bytes"} <= set(names)


@pytest.mark.parametrize(
    ("change", "where"),
    [
        ({"seq": -1}, "seq"),
        ({"agent_id": "bad name!"}, "agent_id"),
        ({"schema_version": 2}, "schema_version"),
        ({"samples": []}, "samples"),
    ],
)
def test_bad_batches_name_the_field(change: dict[str, object], where: str) -> None:
    data = json.loads(SyntheticHost("web-1").batch([1_700_000_000_000]).model_dump_json())
    data.update(change)

    with pytest.raises(ValidationError) as error:
        Batch.model_validate_json(json.dumps(data))

    assert error.value.errors()[0]["loc"][0] == where


def test_a_percent_over_100_and_a_string_number_are_refused() -> None:
    data = json.loads(SyntheticHost("web-1").batch([1_700_000_000_000]).model_dump_json())
    data["samples"][0]["cpu"]["percent"] = 100.5
    data["samples"][0]["memory"]["total_bytes"] = "17179869184"

    with pytest.raises(ValidationError) as error:
        Batch.model_validate_json(json.dumps(data))

    assert {e["loc"][-1] for e in error.value.errors()} == {"percent", "total_bytes"}


def test_a_host_is_kept_in_one_spelling_whatever_the_case_it_was_sent_in() -> None:
    sent = SyntheticHost("NODE-2").batch([1_800_000_000_000])
    as_json = json.loads(sent.model_dump_json())
    as_json["host"]["hostname"] = "NODE-2"

    # Before, /v1/ingest kept NODE-2 and OTLP node-2: two hosts for one machine.
    assert Batch.model_validate(as_json).host.hostname == "node-2"
