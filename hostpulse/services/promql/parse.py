"""PromQL text into the syntax tree of the ``promql-parser`` package (a maintained binding of
GreptimeDB's Rust parser, which follows Prometheus' grammar), with what hostpulse does not
evaluate refused by name."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import promql_parser

from hostpulse.services.promql.aggregations import AGGREGATIONS
from hostpulse.services.promql.calls import DATES, MATH
from hostpulse.services.promql.model import PromQLError
from hostpulse.services.promql.over_time import RANGE_FUNCTIONS
from hostpulse.services.promql.ports import Matcher, MatchOp

Node = Any  # the parser's node classes carry no type information
OTHER_FUNCTIONS = frozenset(
    {"clamp", "clamp_min", "clamp_max", "round", "scalar", "vector", "time", "timestamp",
     "absent", "absent_over_time", "label_replace", "label_join", "sort", "sort_desc", "pi"}
)  # fmt: skip
FUNCTIONS = OTHER_FUNCTIONS | MATH.keys() | DATES.keys() | RANGE_FUNCTIONS.keys()
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MATCH_OPS: dict[str, MatchOp] = {"Equal": "=", "NotEqual": "!=", "Re": "=~", "NotRe": "!~"}


# The parser is native code that recurses on nesting and on chains of operators, and
# overflows its stack (killing the process) far past any real query: text past this bound of
# bracket depth plus operators is refused before it reaches the parser.
PARSER_BOUND = 1500
# Evaluation recurses on the tree: a deeper one is refused by name rather than failing as a
# recursion error.
MAX_DEPTH = 150
OPERATOR_WORDS = re.compile(r"\b(?:and|or|unless|atan2)\b")


def parse(text: str) -> Node:
    if _parser_load(text) > PARSER_BOUND:
        raise PromQLError(
            f'invalid parameter "query": more than {PARSER_BOUND} nested brackets and operators'
        )
    try:
        tree = promql_parser.parse(text)
        check(tree)
    except PromQLError:
        raise
    except ValueError as error:
        raise PromQLError(f'invalid parameter "query": {error}') from None
    except BaseException as error:  # the parser's panics are BaseExceptions
        if type(error).__name__ != "PanicException":
            raise
        raise PromQLError(f'invalid parameter "query": cannot parse {text!r}') from None
    return tree


def milliseconds(duration: timedelta | None) -> int:
    return 0 if duration is None else duration // timedelta(milliseconds=1)


def at_of(node: Node, start_ms: int, end_ms: int) -> int | None:
    """The time an @ modifier fixes, in ms, or None."""
    at = node.at
    if at is None:
        return None
    kind = str(at.type)
    if kind.endswith("Start"):
        return start_ms
    if kind.endswith("End"):
        return end_ms
    return int((at.at - EPOCH) // timedelta(milliseconds=1))


def _parser_load(text: str) -> int:
    """The deepest bracket nesting plus every operator, outside quoted strings: a bound on
    how deep the parser recurses."""
    depth = deepest = operators = 0
    quote, escaped = "", False
    for char in text:
        if quote:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == quote:
                quote = ""
        elif char in "\"'`":
            quote = char
        elif char in "([{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in ")]}":
            depth -= 1
        elif char in "+-*/%^<>=!":
            operators += 1
    return deepest + operators + len(OPERATOR_WORDS.findall(text))


def check(tree: Node) -> None:
    """Walk the tree once: refuse what is not evaluated here, and read every @ modifier so
    that one the parser cannot represent fails now, as a bad query."""
    stack = [(tree, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise PromQLError(f'invalid parameter "query": nested deeper than {MAX_DEPTH} levels')
        kind = type(node).__name__
        if kind in ("SubqueryExpr", "VectorSelector") and node.at is not None:
            at_of(node, 0, 0)  # a time before 1970 cannot be read: refused now, not mid-query
        refusal = REFUSALS.get(kind)
        if refusal is not None and (reason := refusal(node)):
            raise PromQLError(f"{reason} is not supported by hostpulse")
        children = CHILDREN.get(kind, lambda _: [])(node)
        stack += [(child, depth + 1) for child in reversed(children)]  # the first one next


def _fill(node: Node) -> str | None:
    modifier = node.modifier
    if modifier is not None and (modifier.fill_values.lhs or modifier.fill_values.rhs):
        return "a fill modifier of a binary operator"
    return None


REFUSALS: dict[str, Callable[[Node], str | None]] = {
    "Call": lambda n: None if n.func.name in FUNCTIONS else f"function {n.func.name}()",
    "AggregateExpr": lambda n: None if str(n.op) in AGGREGATIONS else f"aggregation {n.op}()",
    "BinaryExpr": _fill,
    "VectorSelector": lambda n: (
        "'or' inside a selector's braces" if n.matchers.or_matchers else None
    ),
}
CHILDREN: dict[str, Callable[[Node], list[Node]]] = {
    "Call": lambda n: list(n.args),
    "AggregateExpr": lambda n: [n.expr] + ([n.param] if n.param is not None else []),
    "BinaryExpr": lambda n: [n.lhs, n.rhs],
    "ParenExpr": lambda n: [n.expr],
    "UnaryExpr": lambda n: [n.expr],
    "MatrixSelector": lambda n: [n.vector_selector],
    "SubqueryExpr": lambda n: [n.expr],
}


def matchers_of(node: Node) -> list[Matcher]:
    found = [
        Matcher(m.name, MATCH_OPS[str(m.op).rsplit(".", 1)[-1]], m.value)
        for m in node.matchers.matchers
    ]
    if node.name:
        found.insert(0, Matcher("__name__", "=", node.name))
    return found


def unwrap(node: Node) -> Node:
    while type(node).__name__ == "ParenExpr":
        node = node.expr
    return node
