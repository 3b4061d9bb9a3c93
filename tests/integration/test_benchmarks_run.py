"""Every benchmark runs to the end: each at a tiny size (HOSTPULSE_BENCH_SMOKE=1, the same code
at a few hosts and one round), writing its result file with the keys of the figures that
docs/benchmarks.md quotes. The figures themselves are not judged here: they belong to `make bench`.
The runs share one local cloud of their own (HOSTPULSE_BENCH_CLOUD), started once.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from hostpulse.localcloud.settings import PROJECT_ROOT
from tests.support import CloudUnderTest

pytestmark = pytest.mark.slow

MAKEFILE = (PROJECT_ROOT / "Makefile").read_text()
# What `make bench` runs, in its order (the cost model reads the others' results), then the
# fleet-scale run of `make bench-fleet` at three hosts for half a minute.
BENCH_RUNS = [m.split() for m in re.findall(r"-m (bench\.\w+)\n", MAKEFILE)]
FLEET_RUN = ["bench.fleet_scale", "--hosts", "3", "--minutes", "0.5", "--drain-minutes", "1"]
# A run's result file and the committed one whose keys it must have.
RESULT_NAMES = {
    "bench.fleet_scale": ("fleet_scale_lambda_3", "fleet_scale_processes_1000"),
    "bench.promql": ("promql_3", "promql_1000"),
}


@pytest.fixture(scope="module")
def results_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("bench-results")


@pytest.fixture(scope="module")
def bench_cloud() -> Iterator[CloudUnderTest]:
    cloud = CloudUnderTest.fresh("bench-smoke")
    cloud.up()
    try:
        yield cloud
    finally:
        cloud.down()


def test_every_benchmark_is_run_by_make_bench_or_bench_fleet() -> None:
    modules = {
        f"bench.{p.stem}"
        for p in (PROJECT_ROOT / "bench").glob("*.py")
        if "def main(" in p.read_text()
    }
    assert modules == {run[0] for run in [*BENCH_RUNS, FLEET_RUN]}
    assert "-m bench.fleet_scale" in MAKEFILE


@pytest.mark.parametrize("run", [*BENCH_RUNS, FLEET_RUN], ids=lambda run: run[0])
def test_a_benchmark_runs_to_the_end_at_a_tiny_size(
    run: list[str], results_dir: Path, bench_cloud: CloudUnderTest
) -> None:
    env = {
        **bench_cloud.env,
        "HOSTPULSE_BENCH_SMOKE": "1",
        "HOSTPULSE_BENCH_RESULTS": str(results_dir),
        "HOSTPULSE_BENCH_CLOUD": str(bench_cloud.state_dir),
    }
    done = subprocess.run(
        [sys.executable, "-m", *run],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=540,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-8000:]
    written, committed = RESULT_NAMES.get(run[0], (run[0].removeprefix("bench."),) * 2)
    result = json.loads((results_dir / f"{written}.json").read_text())
    quoted = json.loads((PROJECT_ROOT / "bench" / "results" / f"{committed}.json").read_text())
    assert set(quoted) <= set(result), f"missing: {sorted(set(quoted) - set(result))}"
