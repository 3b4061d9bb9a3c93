"""How far back and forward a query reads: the span its selectors need over the query's
steps (offsets, @, ranges, lookback and subqueries included), which decides the tier."""

from __future__ import annotations

from hostpulse.services.promql.parse import CHILDREN, Node, at_of, milliseconds

Span = tuple[int, int]


def union(a: Span | None, b: Span | None) -> Span | None:
    if a is None:
        return b
    if b is None:
        return a
    return min(a[0], b[0]), max(a[1], b[1])


def shifted(node: Node, low: int, high: int, query: Span) -> Span:
    """The reference times of a selector or subquery evaluated from ``low`` to ``high``."""
    offset = milliseconds(node.offset)
    at = at_of(node, *query)
    if at is not None:
        return at - offset, at - offset
    return low - offset, high - offset


def read_span(node: Node, low: int, high: int, query: Span, lookback_ms: int) -> Span | None:
    kind = type(node).__name__
    if kind == "VectorSelector":
        first, last = shifted(node, low, high, query)
        return first - lookback_ms, last
    if kind == "MatrixSelector":
        first, last = shifted(node.vector_selector, low, high, query)
        return first - milliseconds(node.range), last
    if kind == "SubqueryExpr":
        first, last = shifted(node, low, high, query)
        return read_span(node.expr, first - milliseconds(node.range), last, query, lookback_ms)
    found: Span | None = None
    for child in CHILDREN.get(kind, lambda _: [])(node):
        found = union(found, read_span(child, low, high, query, lookback_ms))
    return found
