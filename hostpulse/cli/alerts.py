"""`hostpulse alerts`: load a rule file (checked, mistakes named with their line), list rules."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from hostpulse.cli.agents import database_url
from hostpulse.localcloud.settings import LocalCloudSettings
from hostpulse.services.alerts.rules import RuleFileError, load_rule_set
from hostpulse.services.alerts.service import replace_rule_file
from hostpulse.wiring.by_url import rule_store


def add_parser(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    alerts = commands.add_parser("alerts", help="load and list alert rules")
    actions = alerts.add_subparsers(dest="action", required=True)
    load = actions.add_parser("load", help="replace the file rules with this file's")
    load.add_argument("file", type=Path)
    check = actions.add_parser("check", help="check a rule file without loading it")
    check.add_argument("file", type=Path)
    actions.add_parser("list", help="every rule, from the file or the API")


def run(args: argparse.Namespace, settings: LocalCloudSettings) -> int:
    if args.action in ("load", "check"):
        try:
            rule_set = load_rule_set(args.file.read_text(), str(args.file))
        except (OSError, RuleFileError) as error:
            print(f"hostpulse: error: {error}")
            return 1
        if args.action == "check":
            print(f"hostpulse: {args.file}: {len(rule_set.rules)} rules, all valid")
            return 0
        replace_rule_file(rule_store(database_url(settings)), rule_set, int(time.time() * 1000))
        print(f"hostpulse: loaded {len(rule_set.rules)} rules from {args.file}")
        return 0
    for row in rule_store(database_url(settings)).rules_with_source():
        print(json.dumps(row))
    return 0
