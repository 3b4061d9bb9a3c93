"""The query API under uvicorn compresses what is worth it for a client that asks: the fleet's
host list and the dashboard's scripts; small answers, and any answer to a client that does not
ask, go as they are."""

from __future__ import annotations

import gzip
import json
import time
from collections.abc import Callable

import pytest
import requests

from hostpulse.simulation.host import SyntheticHost
from tests.support import CloudUnderTest, eventually, post_batch

pytestmark = pytest.mark.localcloud

HOSTS = 40  # a host list of some kilobytes


def raw_get(url: str, encoding: str) -> tuple[requests.Response, bytes]:
    """The answer, and its body as sent (requests would decompress it on reading)."""
    response = requests.get(url, headers={"Accept-Encoding": encoding}, timeout=30, stream=True)
    return response, response.raw.read(decode_content=False)


def test_large_answers_are_gzipped_for_clients_that_ask(
    local_cloud: CloudUnderTest, new_agent: Callable[[str], tuple[str, str]]
) -> None:
    prefix = f"gz{time.time_ns() % 10**7}"
    now = int(time.time() * 1000)
    hosts = set()
    for i in range(HOSTS):
        host, token = new_agent(f"{prefix}-{i:02d}")
        hosts.add(host)
        batch = SyntheticHost(host).batch([now - 1000])
        assert post_batch(local_cloud, batch, token).status_code == 202
    api = local_cloud.endpoints["local_api_url"]
    hosts_url = f"{api}/api/v1/hosts"

    def ours_listed() -> bool:
        answer = requests.get(hosts_url, timeout=30).json()
        return {h["host"] for h in answer["hosts"]} >= hosts

    eventually(ours_listed, timeout=60, interval=1)

    zipped, zipped_body = raw_get(hosts_url, "gzip")
    plain, plain_body = raw_get(hosts_url, "identity")
    assert zipped.headers["Content-Encoding"] == "gzip"
    assert "Accept-Encoding" in zipped.headers["Vary"]
    assert "Content-Encoding" not in plain.headers
    listed = json.loads(gzip.decompress(zipped_body))
    assert {h["host"] for h in listed["hosts"]} >= hosts
    assert len(zipped_body) * 4 < len(plain_body)

    script, script_body = raw_get(f"{api}/js/host.js", "gzip")
    assert script.headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(script_body) == raw_get(f"{api}/js/host.js", "identity")[1]

    small, _ = raw_get(f"{api}/health", "gzip")
    assert small.status_code == 200 and "Content-Encoding" not in small.headers
