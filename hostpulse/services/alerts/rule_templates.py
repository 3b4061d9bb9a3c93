"""The templates of Prometheus' rules, for what rules write in them: ``{{ $labels.name }}``,
``{{ $value }}`` (Go's own printing of a float), ``{{ $externalLabels.name }}``, and text
around them. Anything else in an action is refused by name, never run."""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import Any

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


def go_g(value: float, precision: int = 4) -> str:
    """``%.4g`` as Go's fmt prints it (Prometheus' humanize functions)."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return f"{value:.{precision}g}"


SI = ("k", "M", "G", "T", "P", "E", "Z", "Y")
SMALL = ("m", "u", "n", "p", "f", "a", "z", "y")
BINARY = ("ki", "Mi", "Gi", "Ti", "Pi", "Ei", "Zi", "Yi")


def _scaled(value: float, prefixes: tuple[str, ...], base: float) -> str:
    prefix = ""
    for candidate in prefixes:
        if abs(value) < base:
            break
        prefix, value = candidate, value / base
    return f"{go_g(value)}{prefix}"


def _small(value: float, unit: str = "") -> str:
    prefix = ""
    for candidate in SMALL:
        if abs(value) >= 1:
            break
        prefix, value = candidate, value * 1000
    return f"{go_g(value)}{prefix}{unit}"


def humanize(value: float) -> str:
    if value == 0 or not math.isfinite(value):
        return go_g(value)
    return _scaled(value, SI, 1000) if abs(value) >= 1 else _small(value)


def humanize1024(value: float) -> str:
    if abs(value) <= 1 or not math.isfinite(value):
        return go_g(value)
    return _scaled(value, BINARY, 1024)


def humanize_duration(value: float) -> str:
    if value == 0 or not math.isfinite(value):
        return go_g(value) + ("s" if value == 0 else "")
    if abs(value) < 1:
        return _small(value, "s")
    sign, whole = ("-" if value < 0 else ""), int(abs(value))
    parts = [(whole // 86400, "d"), (whole // 3600 % 24, "h"), (whole // 60 % 60, "m")]
    while parts and parts[0][0] == 0:
        parts.pop(0)  # from the largest unit that is not zero
    if not parts:
        return f"{sign}{go_g(abs(value))}s"  # under a minute: four significant digits
    return sign + " ".join(f"{n}{unit}" for n, unit in [*parts, (whole % 60, "s")])


def humanize_percentage(value: float) -> str:
    return f"{go_g(value * 100)}%"


GO_VERB = re.compile(r"%([-+ #0]*)(\d*)(?:\.(\d+))?([vsdfgeFGEx%])")


def printf(pattern: str, *args: str | float) -> str:
    """Go's fmt.Sprintf for the verbs a rule's text uses (v, s, d, f, g, e, x and %%)."""
    queue = list(args)

    def verb(found: re.Match[str]) -> str:
        flags, width, precision, kind = found.groups()
        if kind == "%":
            return "%"
        if not queue:
            return f"%!{kind}(MISSING)"
        arg = queue.pop(0)
        if kind in "vs":
            text = go_float(arg) if isinstance(arg, float) else str(arg)
            return f"%{flags}{width}s" % text
        number = _number(arg)
        if kind in "dx":
            return f"%{flags}{width}{kind}" % int(number)
        spec = f".{precision}" if precision is not None else ("" if kind in "gG" else ".6")
        return f"%{flags}{width}{spec}{kind}" % number

    return GO_VERB.sub(verb, pattern)


def _number(arg: str | float) -> float:
    try:
        return float(arg)
    except ValueError:
        raise TemplateError(f"{arg!r} is not a number") from None


def to_upper(text: str | float) -> str:
    return str(text).upper()


def to_lower(text: str | float) -> str:
    return str(text).lower()


FUNCTIONS: dict[str, Callable[[Any], str]] = {
    "humanize": humanize,
    "humanize1024": humanize1024,
    "humanizeDuration": humanize_duration,
    "humanizePercentage": humanize_percentage,
    "toUpper": to_upper,
    "toLower": to_lower,
}
KNOWN = "$labels.NAME, $value, $externalLabels.NAME, " + ", ".join(["printf", *FUNCTIONS])
TOKEN = re.compile(r'"((?:[^"\\]|\\.)*)"|(\S+)')


def expand(
    text: str, labels: dict[str, str], value: float, external: dict[str, str] | None = None
) -> str:
    """The template with its actions filled in: ``$labels.NAME``, ``$value``,
    ``$externalLabels.NAME`` and quoted strings, given to Prometheus' humanize functions,
    ``printf``, ``toUpper`` or ``toLower`` by call or pipe. A label that is not there is
    empty, as a missing key prints in Prometheus' templates."""
    sources = {"labels": labels, "externalLabels": external or {}}

    def operand(token: tuple[str, str]) -> str | float:
        quoted, word = token
        if not word:
            return quoted.encode().decode("unicode_escape")
        if word == "$value":
            return value
        label = LABEL.match(word)
        if label is None:
            raise TemplateError(f"{word!r}: hostpulse's rule templates take {KNOWN}")
        return sources[label[1]].get(label[2], "")

    def command(words: list[tuple[str, str]], piped: list[str | float]) -> str | float:
        name = words[0][1]
        if name == "printf":
            args = [operand(w) for w in words[1:]] + piped
            return printf(str(args[0]), *args[1:]) if args else ""
        if name in FUNCTIONS:
            args = [operand(w) for w in words[1:]] + piped
            if len(args) != 1:
                raise TemplateError(f"{name} takes one value")
            function = FUNCTIONS[name]
            return function(_number(args[0]) if name.startswith("humanize") else args[0])
        if len(words) == 1 and not piped:
            return operand(words[0])
        raise TemplateError(f"{{{{ {name} }}}}: hostpulse's rule templates take {KNOWN}")

    def action(found: re.Match[str]) -> str:
        result: list[str | float] = []
        for part in found[1].split("|"):
            words = TOKEN.findall(part.strip())
            if not words:
                raise TemplateError("an empty command in a template")
            result = [command(words, result)]
        done = result[0]
        return go_float(done) if isinstance(done, float) else str(done)

    return ACTION.sub(action, text)


def check(text: str) -> str:
    """The template, if every action in it is closed and one hostpulse fills in: its
    functions and operands are checked by name, nothing is run."""
    outside = ACTION.sub("", text)
    if "{{" in outside or "}}" in outside:
        raise TemplateError(f"template {text[:60]!r}: an action is not closed")
    for found in ACTION.finditer(text):
        for part in found[1].split("|"):
            words = TOKEN.findall(part.strip())
            if not words:
                raise TemplateError(f"template {text[:60]!r}: an empty action")
            head = words[0][1]
            rest = words[1:] if head in FUNCTIONS or head == "printf" else words
            for _, word in rest:  # quoted text goes as it is
                if word and word != "$value" and not LABEL.match(word):
                    raise TemplateError(f"{{{{ {found[1]} }}}}: hostpulse's rule templates "
                                        f"take {KNOWN}")  # fmt: skip
    return text
