"""gzip through API Gateway on the local cloud behaves as on AWS: the function inflates it."""

from __future__ import annotations

import gzip
import time
from collections.abc import Callable

import pytest

from hostpulse.simulation.host import SyntheticHost
from tests.support import CloudUnderTest, post

pytestmark = pytest.mark.localcloud
NewAgent = Callable[[str], tuple[str, str]]
GZIP = {"Content-Encoding": "gzip"}


def test_malformed_gzip_is_ingests_own_400(
    local_cloud: CloudUnderTest, new_agent: NewAgent
) -> None:
    _, token = new_agent("gzip-bad")
    truncated = gzip.compress(b'{"agent_id": "x"}')[:-6]

    for body in (b"definitely not gzip", truncated):
        response = post(local_cloud.endpoints["ingest_url"], body, token, **GZIP)
        assert response.status_code == 400, response.text
        assert response.json()["error"] == "bad_gzip"


def test_a_gzip_bomb_is_refused_after_at_most_the_allowance(
    local_cloud: CloudUnderTest, new_agent: NewAgent
) -> None:
    _, token = new_agent("gzip-bomb")
    bomb = gzip.compress(b"\0" * (512 * 1024 * 1024), compresslevel=9)  # 512 MiB in ~0.5 MiB
    assert len(bomb) < 1024 * 1024

    response = post(local_cloud.endpoints["ingest_url"], bomb, token, **GZIP)

    assert response.status_code == 413, response.text
    assert "decompressed body exceeds" in response.json()["message"]


def test_a_batch_inflating_past_one_mib_is_accepted(
    local_cloud: CloudUnderTest, new_agent: NewAgent
) -> None:
    name, token = new_agent("gzip-big")
    host = SyntheticHost(name, cores=64, processes=20)
    now = int(time.time() * 1000)
    batch = host.batch([now - 1000 * i for i in range(300)][::-1])
    raw = batch.model_dump_json().encode()
    assert 1024 * 1024 < len(raw) < 8 * 1024 * 1024

    response = post(local_cloud.endpoints["ingest_url"], gzip.compress(raw), token, **GZIP)

    assert response.status_code == 202, response.text
