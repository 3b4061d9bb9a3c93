"""PromQL expressions drawn by hypothesis over the oracle fleet's metrics: selectors with
matchers and offsets, functions, aggregations, operators with matching, subqueries."""

from __future__ import annotations

from dataclasses import dataclass

from hypothesis import strategies as st


@dataclass(frozen=True)
class Vocabulary:
    """The names, matchers and groupings expressions are drawn from."""

    gauges: tuple[str, ...]
    counters: tuple[str, ...]
    matchers: tuple[str, ...]
    groupings: tuple[str, ...]


FLEET = Vocabulary(
    gauges=("queue_depth", "temperature_celsius", "hostpulse_load1",
            'hostpulse_cpu_percent{mode="user"}'),
    counters=("http_requests_total",),
    matchers=("", '{host=~"web-.*"}', '{env="prod"}', '{host!="db-1"}', '{role!~"w.*"}'),
    groupings=("", " by (host)", " by (env)", " without (host)", " by (env, role)",
               " without (code)"),
)  # fmt: skip
RANGES = ("30s", "1m", "2m", "5m", "10m", "17m")
OFFSETS = ("", " offset 1m", " offset 7m", " offset 30s")
PLAIN = ("abs", "ceil", "floor", "sqrt", "sgn", "round", "ln", "exp")
OVER_TIME = ("avg_over_time", "min_over_time", "max_over_time", "sum_over_time",
             "count_over_time", "last_over_time", "stddev_over_time", "stdvar_over_time",
             "present_over_time", "changes", "resets", "delta", "idelta", "deriv")  # fmt: skip
COUNTER_FUNCTIONS = ("rate", "irate", "increase")
AGGREGATIONS = ("sum", "avg", "min", "max", "count", "stddev", "stdvar", "group")
ARITHMETIC = ("+", "-", "*", "/", "%")
COMPARISON = ("==", "!=", ">", "<", ">=", "<=")
NUMBERS = st.sampled_from(["0", "1", "2", "0.5", "10", "-3", "100"])


def with_matcher(name: str, matcher: str) -> str:
    if not matcher:
        return name
    if name.endswith("}"):
        return name[:-1] + ", " + matcher[1:]
    return name + matcher


@st.composite
def selector(draw: st.DrawFn, words: Vocabulary, counters: bool = False) -> str:
    name = draw(st.sampled_from(words.counters if counters else words.gauges + words.counters))
    return with_matcher(name, draw(st.sampled_from(words.matchers)))


@st.composite
def ranged(draw: st.DrawFn, words: Vocabulary, counters: bool = False) -> str:
    window, offset = draw(st.sampled_from(RANGES)), draw(st.sampled_from(OFFSETS))
    return f"{draw(selector(words, counters))}[{window}]{offset}"


@st.composite
def leaf(draw: st.DrawFn, words: Vocabulary) -> str:
    kind = draw(st.integers(0, 3))
    if kind == 0:
        return draw(selector(words)) + draw(st.sampled_from(OFFSETS))
    if kind == 1:
        return f"{draw(st.sampled_from(OVER_TIME))}({draw(ranged(words))})"
    if kind == 2:
        return f"{draw(st.sampled_from(COUNTER_FUNCTIONS))}({draw(ranged(words, counters=True))})"
    q = draw(st.sampled_from(["0", "0.25", "0.5", "0.9", "1"]))
    return f"quantile_over_time({q}, {draw(ranged(words))})"


def vector(words: Vocabulary, depth: int = 2) -> st.SearchStrategy[str]:
    if depth == 0:
        return leaf(words)
    inner = vector(words, depth - 1)
    groupings = st.sampled_from(words.groupings)
    return st.one_of(
        leaf(words),
        st.builds(lambda f, v: f"{f}({v})", st.sampled_from(PLAIN), inner),
        st.builds(
            lambda a, g, v: f"{a}{g} ({v})",
            st.sampled_from(AGGREGATIONS),
            groupings,
            inner,
        ),
        st.builds(lambda k, v: f"topk({k}, {v})", st.sampled_from(["1", "2"]), leaf(words)),
        st.builds(
            lambda q, v: f"quantile({q}, {v})", st.sampled_from(["0.1", "0.5", "0.99"]), inner
        ),
        st.builds(lambda v, op, n: f"{v} {op} {n}", inner, st.sampled_from(ARITHMETIC), NUMBERS),
        st.builds(lambda n, op, v: f"{n} {op} {v}", NUMBERS, st.sampled_from(ARITHMETIC), inner),
        st.builds(
            lambda v, op, b, n: f"{v} {op}{b} {n}",
            inner,
            st.sampled_from(COMPARISON),
            st.sampled_from(["", " bool"]),
            NUMBERS,
        ),
        st.builds(
            lambda a, op, m, b: f"{a} {op} {m} {b}",
            inner,
            st.sampled_from(["and", "or", "unless"]),
            st.sampled_from(["", "on(host)", "ignoring(code)"]),
            inner,
        ),
        st.builds(
            lambda a, op, b: f"sum by (host) ({a}) {op} on(host) sum by (host) ({b})",
            inner,
            st.sampled_from(ARITHMETIC + COMPARISON),
            inner,
        ),
        st.builds(
            lambda f, v, r, s: f"{f}(({v})[{r}:{s}])",
            st.sampled_from(["max_over_time", "avg_over_time", "count_over_time"]),
            inner,
            st.sampled_from(["5m", "10m"]),
            st.sampled_from(["", "1m", "45s"]),
        ),
        st.builds(lambda v: f"timestamp({v})", selector(words)),
        st.builds(lambda v: f"absent({v})", selector(words)),
    )


def expression(words: Vocabulary = FLEET) -> st.SearchStrategy[str]:
    return st.one_of(
        vector(words),
        st.builds(lambda v: f"scalar({v})", vector(words, 1)),
        st.builds(lambda a, op, b: f"{a} {op} {b}", NUMBERS, st.sampled_from(ARITHMETIC), NUMBERS),
    )
