"""Queries no real dashboard sends, as an attacker would: nested or chained far past any real
query. They are refused as bad queries; none crashes the process (the parser is native code
that overflows its stack) or fails with a recursion error (a 500)."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hostpulse.core.tiers import default_tiers
from hostpulse.services.promql.model import PromQLError
from hostpulse.services.promql.parse import MAX_DEPTH, PARSER_BOUND
from hostpulse.services.promql.service import PromQLService
from tests.promql_memory import MemorySeriesSource

AT_MS = 1_700_000_000_000
SHAPES: dict[str, Callable[[int], str]] = {
    "chain": lambda n: "+".join(["1"] * n),
    "brackets": lambda n: "(" * n + "up" + ")" * n,
    "calls": lambda n: "abs(" * n + "up" + ")" * n,
    "aggregations": lambda n: "sum(" * n + "up" + ")" * n,
    "or": lambda n: " or ".join(["up"] * n),
    "comparisons": lambda n: "up" + " > bool up" * n,
    "subqueries": lambda n: "max_over_time(" * n + "up" + "[1m:10s])" * n,
}


def outcome(query: str) -> str:
    promql = PromQLService(MemorySeriesSource({}), default_tiers())
    try:
        promql.instant(query, AT_MS)
    except PromQLError as error:
        return f"refused: {error}"
    return "answered"


@settings(max_examples=60, deadline=None)
@given(shape=st.sampled_from(sorted(SHAPES)), size=st.integers(1, 40_000))
def test_any_depth_or_length_is_answered_or_refused(shape: str, size: int) -> None:
    result = outcome(SHAPES[shape](size))
    if size <= MAX_DEPTH // 4:
        assert result == "answered"


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_what_would_kill_the_parser_is_refused_before_it_and_in_another_process(
    shape: str,
) -> None:
    """Run where a crash would show as a dead child, not a dead test run."""
    code = (
        "from tests.unit.promql.test_query_bounds import SHAPES, outcome\n"
        f"print(outcome(SHAPES[{shape!r}]({10 * PARSER_BOUND})))"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120, check=False)  # fmt: skip
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout.startswith("refused: ")
