from __future__ import annotations

import gzip
import time

import pytest

from hostpulse.envelope import gzipped


def test_gzipped_data_is_the_same_bytes_whenever_it_is_made(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A retried archive write must put the very object it put before, a second later or not.
    first = gzipped(b'{"agent_id":"web-1"}\n')
    monkeypatch.setattr(time, "time", lambda: time.monotonic() + 2_000_000_000)
    assert gzipped(b'{"agent_id":"web-1"}\n') == first
    assert gzip.decompress(first) == b'{"agent_id":"web-1"}\n'
