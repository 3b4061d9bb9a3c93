"""Rule templates: Go's printing of a float, labels filled in, and anything else refused."""

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


@pytest.mark.parametrize(
    "action",
    [
        "{{ .Labels.host }}",
        "{{ $value | humanize }}",
        '{{ printf "%.2f" $value }}',
        '{{ template "x" }}',
    ],
)
def test_an_action_hostpulse_does_not_fill_is_refused_by_name(action: str) -> None:
    with pytest.raises(TemplateError, match=r"\$labels.NAME"):
        expand(action, {}, 1.0)
