"""Float arithmetic as Go does it: where Python raises (a division by zero, a logarithm of 0,
an overflowing power), Go and so Prometheus answer an infinity or NaN."""

from __future__ import annotations

import math
from collections.abc import Callable

import orjson

NAN = math.nan
INF = math.inf


def div(a: float, b: float) -> float:
    if b != 0:
        return a / b
    if a == 0 or math.isnan(a):
        return NAN
    return math.copysign(INF, a) * math.copysign(1.0, b)


def mod(a: float, b: float) -> float:
    try:
        return math.fmod(a, b)
    except ValueError:
        return NAN


def power(a: float, b: float) -> float:
    try:
        answer = math.pow(a, b)
    except OverflowError:
        return INF if a > 0 or (float(b).is_integer() and int(b) % 2 == 0) else -INF
    except ValueError:
        if a == 0:  # 0 to a negative power
            odd = float(b).is_integer() and int(b) % 2 == 1
            return math.copysign(INF, a) if odd else INF
        return NAN
    return answer


def safe(function: Callable[[float], float]) -> Callable[[float], float]:
    """A one-argument function with Go's answers at its domain's edges."""

    def go(value: float) -> float:
        try:
            return function(value)
        except OverflowError:
            return INF
        except ValueError:
            if function in (math.log, math.log2, math.log10) and value == 0:
                return -INF
            if function is math.atanh and abs(value) == 1:
                return math.copysign(INF, value)
            return NAN

    return go


def kahan_add(increment: float, total: float, compensation: float) -> tuple[float, float]:
    """One step of Neumaier's compensated sum, as Prometheus' kahanSumInc."""
    new = total + increment
    if math.isinf(new):
        return new, compensation
    if abs(total) >= abs(increment):
        compensation += (total - new) + increment
    else:
        compensation += (increment - new) + total
    return new, compensation


def format_value(value: float) -> str:
    """A sample's value as Prometheus' API writes it: the shortest digits that read back as the
    same double, with an exponent below 1e-6 and from 1e21 on (as Go's 'e' format writes it,
    which is Python's repr), in full digits between."""
    text = repr(value)
    if "e" not in text and "n" not in text:  # most values: no exponent, finite
        return text[:-2] if text.endswith(".0") else text
    magnitude = abs(value)
    if magnitude != 0 and math.isfinite(value) and (magnitude < 1e-6 or magnitude >= 1e21):
        return text
    return format_fixed(value)


def format_values(values: list[float]) -> list[str]:
    """``format_value`` of each, a series at a time, written in C: orjson writes the same
    shortest digits, in full down to 1e-6 as Prometheus does; only a series holding a value it
    writes with an exponent, or null (an infinity, NaN), goes one value at a time."""
    written = orjson.dumps(values)
    if b"e" in written or b"n" in written:
        return [format_value(v) for v in values]
    if len(written) == 2:  # []
        return []
    return (written[1:-1].decode() + ",").replace(".0,", ",").split(",")[:-1]


def format_fixed(value: float) -> str:
    """A float as Go's strconv.FormatFloat(v, 'f', -1, 64): the shortest digits that read back
    as the same double, never an exponent (count_values' labels)."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    text = repr(value)
    if "e" not in text:
        return text[:-2] if text.endswith(".0") else text
    digits, exponent = text.split("e")
    sign = "-" if digits.startswith("-") else ""
    digits = digits.lstrip("-")
    whole, _, fraction = digits.partition(".")
    mantissa = whole + fraction
    point = len(whole) + int(exponent)
    if point <= 0:
        return f"{sign}0.{'0' * -point}{mantissa}".rstrip("0").rstrip(".")
    if point >= len(mantissa):
        return f"{sign}{mantissa}{'0' * (point - len(mantissa))}"
    return f"{sign}{mantissa[:point]}.{mantissa[point:]}"
