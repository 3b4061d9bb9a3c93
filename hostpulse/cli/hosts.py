"""`hostpulse hosts`: the hosts PostgreSQL keeps, retired or not; retire one (out of the fleet
page and of HostSilent, back by itself when it sends again) or forget one (gone from every tier
and the hot tier)."""

from __future__ import annotations

import argparse
import getpass
import json
import time
from datetime import UTC, datetime

from hostpulse.cli.agents import database_url, running_endpoint
from hostpulse.localcloud.settings import LocalCloudSettings
from hostpulse.services.fleet.service import FleetLifecycle
from hostpulse.wiring.by_url import fleet_lifecycle


def add_parser(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    hosts = commands.add_parser("hosts", help="list, retire and forget hosts")
    actions = hosts.add_subparsers(dest="action", required=True)
    listing = actions.add_parser("list", help="every host, with when it was last seen")
    listing.add_argument("--retired", action="store_true", help="only the retired ones")
    retire = actions.add_parser("retire", help="take hosts out of the fleet (history kept)")
    retire.add_argument("host", nargs="+")
    forget = actions.add_parser("forget", help="remove hosts from every tier and the hot tier")
    forget.add_argument("host", nargs="+")
    forget.add_argument("--yes", action="store_true", required=True,
                        help="yes: their stored samples are deleted, not only hidden")  # fmt: skip


def redis_url(settings: LocalCloudSettings) -> str:
    return settings.redis_url or running_endpoint(settings, "redis_url", "Redis")


def run(args: argparse.Namespace, settings: LocalCloudSettings) -> int:
    fleet = fleet_lifecycle(database_url(settings), redis_url(settings))
    now_ms = int(time.time() * 1000)
    if args.action == "list":
        for host in fleet.registry.listed(retired_only=args.retired):
            row = {"host": host.host, "last_seen": iso(host.last_seen_ms),
                   "retired": iso(host.retired_ms), "retired_by": host.retired_by}  # fmt: skip
            print(json.dumps(row))
        return 0
    return act(fleet, args, now_ms)


def act(fleet: FleetLifecycle, args: argparse.Namespace, now_ms: int) -> int:
    failed = 0
    for host in (name.lower() for name in args.host):
        if args.action == "forget":
            found = fleet.forget(host, now_ms)
            print(f"hostpulse: {host} forgotten" if found else f"hostpulse: no host {host}")
        else:
            known = fleet.retire(host, f"{getpass.getuser()} (cli)", now_ms)
            found = known is not None
            print(f"hostpulse: {host} retired {iso(known.retired_ms)} by {known.retired_by}"
                  if known else f"hostpulse: error: no host {host}")  # fmt: skip
        failed += not found
    return 1 if failed else 0


def iso(ms: int | None) -> str | None:
    return None if ms is None else datetime.fromtimestamp(ms / 1000, UTC).isoformat()
