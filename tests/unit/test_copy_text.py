"""COPY's text format for untrusted text: the fast path that skips clean text escapes exactly
what translating every character would."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from hostpulse.adapters.postgres.metrics import COPY_ESCAPES, copy_text


@given(st.text(alphabet=st.sampled_from("ab\\\t\n\r\x00é ✓N"), max_size=30) | st.text())
def test_text_is_escaped_as_a_full_translation_would(value: str) -> None:
    escaped = copy_text(value)

    assert escaped == value.translate(COPY_ESCAPES)
    assert not any(c in escaped for c in "\t\n\r\x00")
