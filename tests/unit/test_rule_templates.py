"""Rule templates: Go's printing of a float, labels filled in, Prometheus' humanize functions and
printf, and anything else refused by name."""

from __future__ import annotations

import pytest

from hostpulse.services.alerts.rule_templates import TemplateError, expand, go_float


@pytest.mark.parametrize(
    ("value", "printed"),
    [  # as Go's fmt prints a float64 with %v
        (95.0, "95"), (0.5, "0.5"), (1e6, "1e+06"), (123456.0, "123456"),
        (1234567.0, "1.234567e+06"), (0.0001, "0.0001"), (0.00001, "1e-05"), (-2.5, "-2.5"),
        (1 / 3, "0.3333333333333333"), (-2.1e10, "-2.1e+10"), (float("inf"), "+Inf"),
        (float("nan"), "NaN"), (0.0, "0"),
    ],
)  # fmt: skip
def test_a_value_prints_as_go_prints_it(value: float, printed: str) -> None:
    assert go_float(value) == printed


def test_labels_and_value_are_filled_in_and_a_missing_label_is_empty() -> None:
    text = "{{ $labels.host }} at {{$value}} ({{- $labels.missing -}}) {{ $externalLabels.dc }}"

    assert expand(text, {"host": "web-1"}, 97.5, {"dc": "eu"}) == "web-1 at 97.5 () eu"


# What promtool test rules printed for the same values (Prometheus 2.42).
@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (0.000123, ["123u", "0.000123", "123us", "0.0123%", "0.00"]),
        (1234567.0, ["1.235M", "1.177Mi", "14d 6h 56m 7s", "1.235e+08%", "1234567.00"]),
        (0.0, ["0", "0", "0s", "0%", "0.00"]),
        (-5.0, ["-5", "-5", "-5s", "-500%", "-5.00"]),
        (3661.0, ["3.661k", "3.575ki", "1h 1m 1s", "3.661e+05%", "3661.00"]),
    ],
)
def test_the_humanize_functions_print_as_prometheus_does(value: float, expected: list[str]) -> None:
    templates = ["{{ $value | humanize }}", "{{ humanize1024 $value }}",
                 "{{ $value | humanizeDuration }}", "{{ humanizePercentage $value }}",
                 '{{ printf "%.2f" $value }}']  # fmt: skip

    assert [expand(t, {}, value) for t in templates] == expected


@pytest.mark.parametrize(
    "action",
    [
        "{{ .Labels.host }}",
        "{{ $value | humanizeTimestamp }}",
        "{{ range $labels }}",
        '{{ template "x" }}',
    ],
)
def test_an_action_hostpulse_does_not_fill_is_refused_by_name(action: str) -> None:
    with pytest.raises(TemplateError, match=r"\$labels.NAME"):
        expand(action, {}, 1.0)
