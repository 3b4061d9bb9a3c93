"""``hostpulse-agent run | once | check-config``."""

from __future__ import annotations

import argparse
import json
import signal
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from types import FrameType
from typing import Any

from hostpulse_agent.collectors import Collector
from hostpulse_agent.config import GROUPS, AgentConfig, ConfigError, environment, load_config
from hostpulse_agent.host import HostView
from hostpulse_agent.logs import configure
from hostpulse_agent.runner import Agent
from hostpulse_agent.sender import HttpSender

FLAGS = (
    ("ingest-url", str), ("token", str), ("token-file", str), ("agent-id", str),
    ("interval", float), ("send-every", float), ("top-n", int), ("state-dir", str),
    ("log-level", str), ("hostname", str), ("host-root", str),
)  # fmt: skip
FLAG_KEYS = {"interval": "interval_s", "send-every": "send_every_s"}


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="hostpulse-agent", description="hostpulse host agent")
    root.add_argument("--config", type=Path, help="TOML file (default /etc/hostpulse/agent.toml)")
    for name, kind in FLAGS:
        root.add_argument(f"--{name}", type=kind, dest=name.replace("-", "_"))
    commands = root.add_subparsers(dest="command", required=True)
    commands.add_parser("run", help="collect and send until stopped (SIGTERM or Ctrl-C)")
    commands.add_parser("once", help="print one sample as JSON")
    commands.add_parser("check-config", help="validate the configuration and exit")
    return root


def flags(args: argparse.Namespace) -> dict[str, Any]:
    return {
        FLAG_KEYS.get(name, name.replace("-", "_")): getattr(args, name.replace("-", "_"))
        for name, _ in FLAGS
    }


def run(config: AgentConfig) -> int:
    configure(config.log_level)
    agent = Agent(config, HttpSender(config))

    def stop(signum: int, frame: FrameType | None) -> None:
        agent.stop()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    agent.run()
    return 0


def once(groups: frozenset[str], top_n: int, host: HostView) -> int:
    collector = Collector(groups, top_n, host)
    time.sleep(1.0)  # rates and CPU need an interval: the first reading is never a fake zero
    print(json.dumps(collector.sample(int(time.time() * 1000)), indent=2))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        if args.command == "once":
            try:
                config = load_config(args.config, environment(), flags(args))
                return once(config.groups, config.top_n, HostView(config.host_root))
            except ConfigError as error:
                if "is required" not in str(error):
                    raise
                return once(frozenset(GROUPS), 10, HostView())  # printing a sample needs no backend
        config = load_config(args.config, environment(), flags(args))
        if args.token and args.command == "run":
            print(
                "hostpulse-agent: warning: --token shows the token in the process list for the"
                " agent's whole life; use token_file, --token-file or HOSTPULSE_AGENT_TOKEN",
                file=sys.stderr,
            )
    except ConfigError as error:
        print(f"hostpulse-agent: configuration error: {error}", file=sys.stderr)
        return 2
    if args.command == "check-config":
        print(f"hostpulse-agent: configuration is valid; sending to {config.ingest_url} "
              f"as {config.agent_id}")  # fmt: skip
        return 0
    return run(config)
