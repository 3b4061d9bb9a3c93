"""COPY's text format for untrusted text: the fast path that skips clean text escapes exactly
what translating every character would."""

from __future__ import annotations

import json
import re

from hypothesis import given
from hypothesis import strategies as st

from hostpulse.adapters.postgres.copy_rows import (
    BINARY,
    BINARY_HEADER,
    BINARY_TRAILER,
    COPY_ESCAPES,
    StreamedLines,
    copy_text,
    processes_line,
)
from hostpulse.adapters.postgres.process_documents import PROCESS_FIELDS
from hostpulse.core.contract import Process


@given(st.text(alphabet=st.sampled_from("ab\\\t\n\r\x00é ✓N"), max_size=30) | st.text())
def test_text_is_escaped_as_a_full_translation_would(value: str) -> None:
    escaped = copy_text(value)

    assert escaped == value.translate(COPY_ESCAPES)
    assert not any(c in escaped for c in "\t\n\r\x00")


@given(
    st.lists(st.text(max_size=40).map(lambda t: copy_text(t) + "\n"), max_size=60),
    st.integers(1, 200),
)
def test_streamed_lines_read_in_chunks_give_every_line_once_in_order(
    lines: list[str], size: int
) -> None:
    stream = StreamedLines(lines)
    chunks = []
    while chunk := stream.read(size):
        chunks.append(chunk)

    assert "".join(chunks) == "".join(lines)
    assert all(len(c) - size < 42 for c in chunks)  # at most one line past the chunk size
    assert stream.all() == lines


@given(st.lists(st.just("row\n"), min_size=1, max_size=30), st.integers(0, 30))
def test_lines_not_yet_read_still_come_back_for_staging(lines: list[str], reads: int) -> None:
    stream = StreamedLines(iter(lines))
    for _ in range(reads):
        stream.read(8)

    assert stream.all() == lines


def unescaped(column: str) -> str:
    """COPY's reading of a text column (the escapes ``copy_text`` makes)."""
    return re.sub(r"\\(.)", lambda m: {"t": "\t", "n": "\n", "r": "\r"}.get(m[1], m[1]), column)


TEXT = st.text(alphabet=st.sampled_from('ab\\\t\n\r\x00"é✓[],{}'), max_size=12) | st.text(
    max_size=12
)


def unchecked_process(pid: int, name: str, cmdline: str, user: str, status: str) -> Process:
    return Process.model_construct(
        pid=pid, name=name, cmdline=cmdline, user=user, cpu_percent=1.5, rss_bytes=10,
        threads=2, read_bytes_per_s=0.1, write_bytes_per_s=1e18, read_bytes_total=None,
        write_bytes_total=2**63 - 1, open_files=None, status=status,
    )  # fmt: skip


@given(st.lists(st.tuples(TEXT, TEXT, TEXT, TEXT), min_size=1, max_size=4))
def test_a_samples_processes_keep_their_fields_whatever_their_text(
    texts: list[tuple[str, str, str, str]],
) -> None:
    # Built without validation: the COPY text must hold even for text the contract refuses.
    processes = [unchecked_process(7 + i, *four) for i, four in enumerate(texts)]

    line = processes_line("web-1", "2026-01-01 00:00:00.000+00", processes)

    assert line.endswith("\n") and "\n" not in line[:-1] and "\r" not in line
    host, stamp, document = line[:-1].split("\t")
    assert (host, stamp) == ("web-1", "2026-01-01 00:00:00.000+00")
    stored = json.loads(unescaped(document))
    assert stored == [
        [7 + i, *(t.replace("\x00", "\ufffd") for t in (name, cmdline, user)), 1.5, 10, 2, 0.1,
         1e18, None, 2**63 - 1, None, status.replace("\x00", "\ufffd")]
        for i, (name, cmdline, user, status) in enumerate(texts)
    ]  # fmt: skip
    assert [dict(zip(PROCESS_FIELDS, fields, strict=True))["name"] for fields in stored] == [
        t[0].replace("\x00", "\ufffd") for t in texts
    ]


@given(st.lists(st.binary(min_size=1, max_size=40), max_size=60), st.integers(1, 200))
def test_binary_rows_are_read_within_their_header_and_trailer(rows: list[bytes], size: int) -> None:
    stream = StreamedLines(rows, BINARY)
    chunks = []
    while chunk := stream.read(size):
        chunks.append(chunk)

    assert b"".join(chunks) == BINARY_HEADER + b"".join(rows) + BINARY_TRAILER
    assert stream.all() == rows  # what comes back for staging: the rows alone
