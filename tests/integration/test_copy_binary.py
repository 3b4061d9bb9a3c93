"""Raw rows in COPY's binary format read back by PostgreSQL as what was packed: every double
bit for bit (negative zero, the smallest and largest the contract allows), the time to the
millisecond, the series in order, a row without values, a host name holding a NUL."""

from __future__ import annotations

import io
import math
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg2
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hostpulse.adapters.postgres.copy_rows import (
    BINARY_HEADER,
    BINARY_TRAILER,
    raw_row,
    series_array,
)
from hostpulse.core.contract import CUSTOM_VALUE_MAX
from tests.support import CloudUnderTest

pytestmark = pytest.mark.localcloud

TABLE = """CREATE TEMP TABLE copied (host text, ts timestamptz, series_ids integer[],
    vals double precision[])"""

values = st.floats(min_value=-CUSTOM_VALUE_MAX, max_value=CUSTOM_VALUE_MAX, allow_nan=False)
rows = st.lists(
    st.tuples(
        st.text(max_size=30),
        st.integers(min_value=1, max_value=4_102_444_800_000),  # to 2100
        st.lists(st.tuples(st.integers(1, 2**31 - 1), values), max_size=50),
    ),
    min_size=1,
    max_size=20,
)


@pytest.fixture(scope="module")
def cursor(local_cloud: CloudUnderTest) -> Iterator[Any]:
    conn = psycopg2.connect(local_cloud.endpoints["database_url"])
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(TABLE)
        yield cur
    conn.close()


@settings(max_examples=40, deadline=None)
@given(rows=rows)
def test_binary_rows_read_back_as_they_were_packed(
    cursor: Any, rows: list[tuple[str, int, list[tuple[int, float]]]]
) -> None:
    packed = []
    for host, ts_ms, pairs in rows:
        metrics = [f"m{i}" for i in range(len(pairs))]
        ids = {(host, m): series_id for m, (series_id, _) in zip(metrics, pairs, strict=True)}
        packed.append(raw_row(host, ts_ms, series_array(host, metrics, ids), [v for _, v in pairs]))
    cursor.execute("TRUNCATE copied")
    cursor.copy_expert(
        "COPY copied FROM STDIN WITH (FORMAT binary)",
        io.BytesIO(BINARY_HEADER + b"".join(packed) + BINARY_TRAILER),
    )
    cursor.execute("SELECT host, ts, series_ids, vals FROM copied")
    stored = cursor.fetchall()

    assert len(stored) == len(rows)
    for (host, ts_ms, pairs), (s_host, s_ts, s_ids, s_vals) in zip(rows, stored, strict=True):
        assert s_host == host.replace("\x00", "\ufffd")
        assert s_ts == datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=ts_ms)
        assert s_ids == [series_id for series_id, _ in pairs]
        assert [(v, math.copysign(1, v)) for v in s_vals] == [
            (v, math.copysign(1, v)) for _, v in pairs
        ]
