"""`hostpulse agents`: tokens for agents, shown once, stored as hashes."""

from __future__ import annotations

import argparse

from hostpulse.cli import agent_config
from hostpulse.localcloud.errors import LocalCloudError
from hostpulse.localcloud.settings import LocalCloudSettings
from hostpulse.localcloud.supervisor import LocalCloud, read_endpoints
from hostpulse.services.agents.ports import AgentRepository
from hostpulse.services.agents.tokens import (
    AgentExists,
    check_host_label,
    check_host_patterns,
    register_agent,
)
from hostpulse.wiring.by_url import agent_repository


def database_url(settings: LocalCloudSettings) -> str:
    return settings.database_url or running_endpoint(settings, "database_url", "database")


def running_endpoint(settings: LocalCloudSettings, name: str, what: str) -> str:
    """Where the running local cloud's ``name`` is (its endpoints file), or why there is none."""
    endpoints = read_endpoints(LocalCloud(settings).paths)
    if endpoints is None:
        variable = f"HOSTPULSE_{name.upper()}"
        raise LocalCloudError(
            f"no {what}: hostpulse is not running and {variable} is not set",
            f"start it with `hostpulse up --detach` or set {variable}",
        )
    return str(endpoints[name])


def seed_backend_url(settings: LocalCloudSettings, token: str) -> str:
    """Where the seed platform's agent sends: it appends /ingest/metrics itself."""
    endpoints = read_endpoints(LocalCloud(settings).paths)
    api = str(endpoints["api_url"]) if endpoints else "https://<your API Gateway URL>"
    return f"{api}/seed/{token}"


def set_host_label(repository: AgentRepository, name: str, label: str | None) -> int:
    try:
        checked = check_host_label(label) if label else None
    except ValueError as error:
        print(f"hostpulse: error: {error}")
        return 1
    if not repository.set_host_label(name, checked):
        print(f"hostpulse: error: no active agent named {name!r}")
        return 1
    named = f"its {checked!r} label" if checked else "its host label, else its instance"
    print(f"hostpulse: agent {name!r} writes each remote-written series to {named}")
    return 0


def add_parser(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    agents = commands.add_parser("agents", help="add, list and revoke agent tokens")
    actions = agents.add_subparsers(dest="action", required=True)
    add = actions.add_parser("add", help="create an agent and print its token once")
    add.add_argument("name")
    add.add_argument(
        "--host",
        action="append",
        metavar="PATTERN",
        help="a host the agent may write (a name or a glob such as 'web-*'); repeat for more."
        " Default: the host named like the agent",
    )
    add.add_argument(
        "--fleet",
        action="store_true",
        help="one token for many agents (a Kubernetes DaemonSet): each runs as NAME.<member>,"
        " for instance NAME.$NODE_NAME, with its own sequence numbers; needs --host",
    )
    add.add_argument(
        "--host-label",
        metavar="LABEL",
        help="remote write: the label that names a series' host (default: host, else instance"
        " without its port)",
    )
    add.add_argument(
        "--seed",
        action="store_true",
        help="also print a backend_url for the seed platform's agent, which sends no header:"
        " its token travels in the URL's path",
    )
    bind = actions.add_parser("bind", help="set the hosts an agent may write")
    bind.add_argument("name")
    bind.add_argument("patterns", nargs="+", metavar="PATTERN")
    label = actions.add_parser(
        "host-label", help="remote write: the label that names a series' host for this agent"
    )
    label.add_argument("name")
    label.add_argument(
        "label", nargs="?", help="a label name; none: host, else instance without its port"
    )
    actions.add_parser("list", help="every agent, active or revoked, with its hosts")
    revoke = actions.add_parser("revoke", help="refuse the agent's token from now on")
    revoke.add_argument("name")
    agent_config.add_parser(actions)
    agent_config.add_command_parsers(actions)


def add_agent(
    repository: AgentRepository, args: argparse.Namespace, settings: LocalCloudSettings
) -> int:
    try:
        label = check_host_label(args.host_label) if args.host_label else None
        token = register_agent(repository, args.name, args.host, fleet=args.fleet)
    except (AgentExists, ValueError) as error:
        print(f"hostpulse: error: {error}")
        return 1
    if label:
        repository.set_host_label(args.name, label)
    print(token)
    if args.seed:
        print(f"# seed agent backend_url: {seed_backend_url(settings, token)}")
    hosts = ", ".join(args.host or [args.name])
    who = (
        f"fleet {args.name!r} (agents {args.name}.<member>)"
        if args.fleet
        else f"agent {args.name!r}"
    )
    print(
        f"# {who} added, writing host(s) {hosts}; this token is shown once, keep it safe",
        flush=True,
    )
    return 0


def run(args: argparse.Namespace, settings: LocalCloudSettings) -> int:  # noqa: PLR0911 -- one answer per subcommand
    if args.action == "config":
        return agent_config.run(args, database_url(settings))
    if args.action in ("command", "commands"):
        return agent_config.run_command(args, database_url(settings))
    repository = agent_repository(database_url(settings))
    if args.action == "add":
        return add_agent(repository, args, settings)
    if args.action == "bind":
        try:
            patterns = check_host_patterns(args.patterns)
        except ValueError as error:
            print(f"hostpulse: error: {error}")
            return 1
        if not repository.bind(args.name, patterns):
            print(f"hostpulse: error: no active agent named {args.name!r}")
            return 1
        print(f"hostpulse: agent {args.name!r} may write {', '.join(patterns)}")
        return 0
    if args.action == "host-label":
        return set_host_label(repository, args.name, args.label)
    if args.action == "list":
        print(f"{'AGENT':30} {'CREATED':26} {'STATE':22} HOSTS")
        for agent in repository.list():
            state = f"revoked {agent.revoked_at:%Y-%m-%d %H:%M}" if agent.revoked_at else "active"
            name = f"{agent.name}.*" if agent.fleet else agent.name
            label = f" (host label: {agent.host_label})" if agent.host_label else ""
            print(
                f"{name:30} {agent.created_at:%Y-%m-%d %H:%M:%S %Z}    {state:22}"
                f" {', '.join(agent.hosts)}{label}"
            )
        return 0
    if repository.revoke(args.name):
        print(f"hostpulse: agent {args.name!r} revoked")
        return 0
    print(f"hostpulse: error: no active agent named {args.name!r}")
    return 1
