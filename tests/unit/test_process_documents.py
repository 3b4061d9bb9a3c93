"""A sample's processes as the processes table keeps them, read back: busiest first, and one
process' points found by its pid alone, whatever text the others carry."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from hostpulse.adapters.postgres.process_documents import (
    PROCESS_FIELDS,
    process_points,
    processes_by_time,
    processes_document,
)
from hostpulse.simulation.host import SyntheticHost

SAMPLE = SyntheticHost("docs-1", processes=6).sample(1_700_000_000_000)


def test_a_samples_processes_read_back_as_sent_busiest_first() -> None:
    document = processes_document(SAMPLE.processes)

    [(ts, read)] = processes_by_time([(1_700_000_000_000.0, document)]).items()

    assert ts == 1_700_000_000_000
    busiest_first = sorted(SAMPLE.processes, key=lambda p: -p.cpu_percent)
    assert read == [{f: getattr(p, f) for f in PROCESS_FIELDS} for p in busiest_first]


def test_documents_written_by_postgresql_read_the_same() -> None:
    # Migration 0014 moved the rows kept before with json_agg(json_build_array(...)): spaces
    # after commas, a line break between processes.
    [p] = SAMPLE.processes[:1]
    fields = [
        f'"{v}"' if isinstance(v, str) else str(v) for v in map(p.__getattribute__, PROCESS_FIELDS)
    ]
    document = "[[" + ", ".join(fields).replace("None", "null") + "]]"

    assert processes_by_time([(5, document)]) == processes_by_time([(5, processes_document([p]))])


@given(st.integers(1, 5), st.sampled_from(["", "[{pid},", "x [{pid}, y"]))
def test_a_process_history_holds_that_pid_alone(pid: int, decoy: str) -> None:
    """The read asks PostgreSQL for samples whose text holds "[pid,"; another process' command
    line may hold it too, and is left out."""
    others = [
        p.model_copy(update={"pid": 100 + i, "cmdline": decoy.format(pid=pid)})
        for i, p in enumerate(SAMPLE.processes[1:])
    ]
    target = SAMPLE.processes[0].model_copy(update={"pid": pid})
    with_it = processes_document([*others, target])
    without_it = processes_document(others)

    points = process_points([(10, without_it), (20, with_it), (30, without_it)], pid)

    assert [point["ts_ms"] for point in points] == [20]
    assert points[0]["name"] == target.name
    assert points[0]["rss_bytes"] == target.rss_bytes


def test_an_empty_sample_reads_as_no_processes() -> None:
    assert processes_by_time([(1, "[]")]) == {1: []}
    assert process_points([(1, "[]")], 7) == []
