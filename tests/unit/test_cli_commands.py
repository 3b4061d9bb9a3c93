"""The ``hostpulse`` command runs what each subcommand names, and every subcommand runs
something."""

from __future__ import annotations

import argparse

import pytest

from hostpulse.cli.main import CLOUD_COMMANDS, COMMANDS, main, parser


def subcommands() -> set[str]:
    (action,) = [a for a in parser()._actions if isinstance(a, argparse._SubParsersAction)]
    return set(action.choices)


def test_every_subcommand_has_what_it_runs_and_nothing_else_is_listed() -> None:
    assert subcommands() == set(COMMANDS) | set(CLOUD_COMMANDS)
    assert not set(COMMANDS) & set(CLOUD_COMMANDS)


def test_the_schema_command_prints_the_wire_contract(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["schema"]) == 0
    assert '"$id": "https://hostpulse.dev/schemas/wire-contract-v1.json"' in capsys.readouterr().out
