"""The templates of Prometheus' rules, for what rules write in them: ``{{ $labels.name }}``,
``{{ $value }}`` (Go's own printing of a float), ``{{ $externalLabels.name }}``, and text
around them. Anything else in an action is refused by name, never run."""

from __future__ import annotations

import math
import re

ACTION = re.compile(r"{{-?\s*(.*?)\s*-?}}", re.DOTALL)
LABEL = re.compile(r"^\$(labels|externalLabels)\.([a-zA-Z_][a-zA-Z0-9_]*)$")


class TemplateError(ValueError):
    pass


def go_float(value: float) -> str:
    """A float as Go's ``%v`` prints it: the shortest digits that read back the same, with an
    exponent below 1e-4 or from 1e6 on (``1e+06``, ``1.5e-05``)."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if value == 0:
        return "-0" if math.copysign(1, value) < 0 else "0"
    digits, exponent = _shortest(value)
    if exponent < -4 or exponent >= 6:
        mantissa = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
        sign = "-" if value < 0 else ""
        return f"{sign}{mantissa}e{'-' if exponent < 0 else '+'}{abs(exponent):02d}"
    text = f"{abs(value):.{max(0, len(digits) - 1 - exponent)}f}"
    return ("-" if value < 0 else "") + text


def _shortest(value: float) -> tuple[str, int]:
    """The shortest significant digits of ``value`` and its decimal exponent."""
    mantissa, _, exponent = f"{abs(value):.17e}".partition("e")
    for precision in range(1, 18):
        candidate = f"{abs(value):.{precision - 1}e}"
        if float(candidate) == abs(value):
            mantissa, _, exponent = candidate.partition("e")
            break
    return mantissa.replace(".", "").rstrip("0") or "0", int(exponent)


def expand(
    text: str, labels: dict[str, str], value: float, external: dict[str, str] | None = None
) -> str:
    """The template with its actions filled in; a label that is not there is empty, as Go's
    missing map key prints in Prometheus' templates."""
    sources = {"labels": labels, "externalLabels": external or {}}

    def action(found: re.Match[str]) -> str:
        inside = found[1]
        if inside == "$value":
            return go_float(value)
        label = LABEL.match(inside)
        if label is not None:
            return sources[label[1]].get(label[2], "")
        raise TemplateError(f"{{{{ {inside} }}}}: hostpulse's rule templates take $labels.NAME, "
                            "$value and $externalLabels.NAME")  # fmt: skip

    return ACTION.sub(action, text)


def check(text: str) -> str:
    """The template, if every action in it is one hostpulse fills in."""
    expand(text, {}, 0.0)
    return text
