"""`hostpulse agents config`, `command` and `commands`: the central agent configuration, by
scope, with its history; commands to one host's agent, and what it answered."""

from __future__ import annotations

import argparse
import getpass
import json
import socket

from hostpulse.services.agents.config import AgentConfigError, ConfigChange, Scope
from hostpulse.services.agents.control import KINDS, issue
from hostpulse.wiring.by_url import agent_commands, agent_configs

SCOPE_HELP = "'all', 'label:KEY=VALUE' (the hosts with that label) or 'host:HOSTNAME'"


def add_parser(actions: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    config = actions.add_parser(
        "config", help="the settings agents run, set centrally for all, a group or one host"
    )
    steps = config.add_subparsers(dest="step", required=True)
    set_ = steps.add_parser("set", help="set settings of a scope (checked as the agent checks)")
    set_.add_argument("scope", help=SCOPE_HELP)
    set_.add_argument(
        "settings",
        nargs="+",
        metavar="KEY=VALUE",
        help="interval_s, send_every_s, top_n, groups (cpu,load,…), labels (k=v,…), log_level",
    )
    unset = steps.add_parser("unset", help="remove settings of a scope (all of them if none)")
    unset.add_argument("scope", help=SCOPE_HELP)
    unset.add_argument("keys", nargs="*", metavar="KEY")
    show = steps.add_parser("show", help="what is set, or what one host should run")
    show.add_argument("--host", help="the settings and version this host should run")
    show.add_argument(
        "--label", action="append", default=[], metavar="KEY=VALUE", help="the host's labels"
    )
    history = steps.add_parser("history", help="who changed what, newest first")
    history.add_argument("scope", nargs="?", help=SCOPE_HELP)
    history.add_argument("--limit", type=int, default=50)


def add_command_parsers(actions: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    command = actions.add_parser(
        "command", help="have one host's agent collect now, pause, resume or send diagnostics"
    )
    command.add_argument("host")
    command.add_argument("kind", choices=[kind.replace("_", "-") for kind in KINDS])
    commands = actions.add_parser("commands", help="commands issued, newest first, with answers")
    commands.add_argument("--host")
    commands.add_argument("--limit", type=int, default=20)


def run_command(args: argparse.Namespace, database_url: str) -> int:
    store = agent_commands(database_url)
    if args.action == "command":
        try:
            issued = issue(store, args.host, args.kind.replace("-", "_"), who())
        except ValueError as error:
            print(f"hostpulse: error: {error}")
            return 1
        print(
            f"hostpulse: command {issued.id} ({issued.kind}) waits for {issued.host}'s agent;"
            " it runs at the agent's next batch"
        )
        return 0
    for command in store.recent(args.host, args.limit):
        state = (
            f"done {command.acked_at:%H:%M:%S} {json.dumps(command.result)}"
            if command.acked_at
            else "waiting"
        )
        print(
            f"{command.id:<6} {command.issued_at:%Y-%m-%d %H:%M:%S %Z}  {command.host:24}"
            f" {command.kind:12} {command.issued_by:28} {state}"
        )
    return 0


def who() -> str:
    return f"{getpass.getuser()}@{socket.gethostname()} (cli)"


def line(change: ConfigChange) -> str:
    settings = "removed" if change.settings is None else json.dumps(change.settings)
    return (
        f"v{change.version:<6} {change.changed_at:%Y-%m-%d %H:%M:%S %Z}  {change.changed_by:28}"
        f" {change.scope!s:24} {settings}"
    )


def run(args: argparse.Namespace, database_url: str) -> int:
    configs = agent_configs(database_url)
    try:
        if args.step == "set":
            pairs = [item.partition("=") for item in args.settings]
            if any(not sep for _, sep, _ in pairs):
                raise AgentConfigError("settings are KEY=VALUE")
            change = configs.set(Scope.parse(args.scope), {k: v for k, _, v in pairs}, who())
            print(f"hostpulse: {change.scope} is at version {change.version}: {line(change)}")
        elif args.step == "unset":
            change = configs.unset(Scope.parse(args.scope), args.keys, who())
            print(f"hostpulse: {change.scope} is at version {change.version}: {line(change)}")
        elif args.step == "show" and args.host:
            labels = dict(item.partition("=")[::2] for item in args.label)
            desired = configs.desired(args.host, labels)
            print(json.dumps({"config_version": desired.version, "settings": desired.settings}))
        elif args.step == "show":
            for change in configs.current():
                print(line(change))
        else:
            scope = Scope.parse(args.scope) if args.scope else None
            for change in configs.history(scope, args.limit):
                print(line(change))
    except AgentConfigError as error:
        print(f"hostpulse: error: {error}")
        return 1
    return 0
