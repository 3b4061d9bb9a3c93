"""COPY's text format for untrusted text: the fast path that skips clean text escapes exactly
what translating every character would."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from hostpulse.adapters.postgres.copy_rows import COPY_ESCAPES, StreamedLines, copy_text


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
