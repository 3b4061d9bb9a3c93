"""`hostpulse alerts`: load a rule file, hostpulse's or Prometheus' (checked, mistakes named with
their line), list rules; silence alerts for a while, list the silences, end one."""

from __future__ import annotations

import argparse
import getpass
import json
import re
import time
from datetime import UTC, datetime
from pathlib import Path

from hostpulse.cli.agents import database_url
from hostpulse.localcloud.settings import LocalCloudSettings
from hostpulse.services.alerts.group_listing import rules_listing
from hostpulse.services.alerts.ports import RuleStore
from hostpulse.services.alerts.prometheus_rules import is_prometheus_format, load_prometheus_rules
from hostpulse.services.alerts.promql_form import with_promql
from hostpulse.services.alerts.rule_groups import replace_rule_groups
from hostpulse.services.alerts.rules import RuleFileError, load_rule_set
from hostpulse.services.alerts.service import AlertService, replace_rule_file
from hostpulse.services.alerts.silences import NewSilence, SilenceRequest
from hostpulse.wiring.by_url import rule_group_store, rule_store


def add_parser(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    alerts = commands.add_parser("alerts", help="load and list alert rules")
    actions = alerts.add_subparsers(dest="action", required=True)
    load = actions.add_parser(
        "load",
        help="replace the file rules with this file's (hostpulse's format), or the rule groups"
        " with this file's (Prometheus' format)",
    )
    load.add_argument("file", type=Path)
    load.add_argument(
        "--notify",
        action="append",
        default=[],
        metavar="NOTIFIER",
        help="Prometheus' format: where its alerts go (default: every alertmanager notifier,"
        " else the log)",
    )
    check = actions.add_parser("check", help="check a rule file without loading it")
    check.add_argument("file", type=Path)
    actions.add_parser("list", help="every rule, from the file or the API")
    silence = actions.add_parser("silence", help="hold alerts' notifications back for a while")
    silence.add_argument(
        "--match",
        action="append",
        required=True,
        metavar="LABEL=VALUE",
        help="host=web-1, alertname=~Host.*, severity!=info; all must match",
    )
    silence.add_argument("--for", dest="duration", required=True, help="e.g. 2h")
    silence.add_argument("--comment", required=True, help="why, for whoever sees it")
    actions.add_parser("silences", help="the silences not ended, and those of the last week")
    unsilence = actions.add_parser("unsilence", help="end a silence now")
    unsilence.add_argument("id", type=int)


MATCHER = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)(=~|!~|!=|=)(.*)$")


def matcher(text: str) -> dict[str, str]:
    found = MATCHER.match(text)
    if found is None:
        raise ValueError(f"{text!r} is not LABEL=VALUE (or !=, =~, !~)")
    return {"name": found[1], "op": found[2], "value": found[3]}


def run(args: argparse.Namespace, settings: LocalCloudSettings) -> int:
    if args.action in ("silence", "silences", "unsilence"):
        return run_silences(args, rule_store(database_url(settings)), int(time.time() * 1000))
    if args.action in ("load", "check"):
        try:
            text = args.file.read_text()
            if is_prometheus_format(text):
                return prometheus_file(args, text, settings)
            rule_set = load_rule_set(text, str(args.file))
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
        print(json.dumps(with_promql(row)))
    for group in rules_listing(rule_group_store(database_url(settings)).stored_groups())["groups"]:
        for rule in group["rules"]:
            print(json.dumps({"group": group["name"], **rule}))
    return 0


def run_silences(args: argparse.Namespace, store: RuleStore, now_ms: int) -> int:
    author = f"{getpass.getuser()} (cli)"
    if args.action == "silences":
        for found in store.silences_since(now_ms - 7 * 86_400_000, 1000):
            print(json.dumps(found.answer(now_ms)))
        return 0
    if args.action == "unsilence":
        ended = store.expire_silence(args.id, author, now_ms)
        if ended is None:
            print(f"hostpulse: error: no silence {args.id} that has not ended")
            return 1
        AlertService(store, {}).silences_ended([ended], now_ms)
        print(f"hostpulse: silence {args.id} ended")
        return 0
    try:
        request = SilenceRequest.model_validate({
            "matchers": [matcher(text) for text in args.match],
            "duration": args.duration,
            "comment": args.comment,
        })  # fmt: skip
        starts_ms, ends_ms = request.span_ms(now_ms)
    except ValueError as error:  # pydantic's ValidationError is one
        print(f"hostpulse: error: {error}")
        return 1
    new = NewSilence(tuple(request.matchers), starts_ms, ends_ms, request.comment, author)
    added = store.add_silence(new, now_ms)
    until = datetime.fromtimestamp(added.ends_ms / 1000, UTC).isoformat(timespec="seconds")
    print(f"hostpulse: silence {added.id} until {until}")
    return 0


def prometheus_file(args: argparse.Namespace, text: str, settings: LocalCloudSettings) -> int:
    """A rule file in Prometheus' format: checked as promtool checks one; loaded, its groups
    replace the loaded groups."""
    rules = load_prometheus_rules(text, str(args.file))
    counts = (f"{len(rules.groups)} groups, {len(rules.alerting)} alerting and "
              f"{len(rules.recording)} recording rules")  # fmt: skip
    if args.action == "check":
        print(f"hostpulse: {args.file}: {counts}, all valid")
        return 0
    url = database_url(settings)
    notify = tuple(args.notify)
    known = {n.name for n in rule_store(url).rule_set().notifiers} | {"log"}
    unknown = sorted(set(notify) - known)
    if unknown:
        print(f"hostpulse: error: unknown notifiers {unknown}; known: {sorted(known)}")
        return 1
    removed = replace_rule_groups(rule_group_store(url), rules, notify, int(time.time() * 1000))
    gone = f"; groups taken out: {', '.join(removed)}" if removed else ""
    print(f"hostpulse: loaded {counts} from {args.file}{gone}")
    return 0
