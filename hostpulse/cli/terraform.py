"""`hostpulse terraform apply|plan|destroy|output`: terraform/ against the running local cloud."""

from __future__ import annotations

import argparse
import json

from hostpulse.localcloud.settings import LocalCloudSettings
from hostpulse.localcloud.terraform import DEFAULT_PREFIX, LocalTerraform


def add_parser(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    terraform = commands.add_parser(
        "terraform", help="apply terraform/ to the running local cloud, beside `up`'s stack"
    )
    terraform.add_argument("action", choices=["apply", "plan", "destroy", "output"])
    terraform.add_argument("--prefix", default=DEFAULT_PREFIX, help="name prefix of its own")


def run(args: argparse.Namespace, settings: LocalCloudSettings) -> int:
    local = LocalTerraform(settings, args.prefix)
    if args.action == "apply":
        print(json.dumps(local.apply(), indent=2))
        return 0
    if args.action == "plan":
        local.init()
        return local.plan_exit_code()
    if args.action == "destroy":
        local.destroy()
        return 0
    print(json.dumps(local.outputs(), indent=2))
    return 0
