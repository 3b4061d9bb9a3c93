"""`hostpulse simulate`: a synthetic fleet through the real ingest endpoint."""

from __future__ import annotations

import argparse
import json
import threading
from pathlib import Path

from hostpulse.cli.agents import database_url
from hostpulse.core.contract import Batch
from hostpulse.localcloud.errors import LocalCloudError
from hostpulse.localcloud.settings import LocalCloudSettings
from hostpulse.localcloud.supervisor import LocalCloud, read_endpoints
from hostpulse.services.agents.tokens import AgentExists, register_agent
from hostpulse.simulation.fleet import AgentBook, RequestsTransport, SimulatedAgent, Simulation
from hostpulse.simulation.host import SyntheticHost
from hostpulse.wiring.by_url import agent_repository


def add_parser(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    sim = commands.add_parser("simulate", help="synthetic agents through the real ingest endpoint")
    sim.add_argument("--hosts", type=int, default=20, help="how many hosts (default 20)")
    sim.add_argument("--interval", type=float, default=5.0, help="seconds between samples")
    sim.add_argument("--send-every", type=float, default=10.0, help="seconds between batches")
    sim.add_argument("--duration", type=float, default=120.0, help="seconds to run")
    sim.add_argument("--cores", type=int, default=4, help="CPU cores of each host")
    sim.add_argument("--processes", type=int, default=10, help="top processes per sample")
    sim.add_argument("--prefix", default="sim", help="host and agent names: PREFIX-000 …")
    sim.add_argument("--ingest-url", help="default: the running local cloud's")
    sim.add_argument("--record", type=Path, help="append every accepted batch as a JSON line")


def run(args: argparse.Namespace, settings: LocalCloudSettings) -> int:
    paths = LocalCloud(settings).paths
    endpoints = read_endpoints(paths) or {}
    ingest_url = args.ingest_url or endpoints.get("ingest_url")
    if not ingest_url:
        raise LocalCloudError(
            "no ingest URL: hostpulse is not running", "start it or pass --ingest-url"
        )
    book = AgentBook(paths.simulate / "agents.json")
    repository = agent_repository(database_url(settings))
    agents = []
    for index in range(args.hosts):
        name = f"{args.prefix}-{index:03d}"
        entry = book.entries.get(name)
        if entry is None:
            try:
                entry = {"token": register_agent(repository, name), "next_seq": 0}
            except AgentExists:
                raise LocalCloudError(
                    f"agent {name} exists but its token is not in {book.path}",
                    "pick another --prefix",
                ) from None
            book.entries[name] = entry
            book.save()
        host = SyntheticHost(name, cores=args.cores, processes=args.processes, seed=index)
        host.next_seq = int(str(entry["next_seq"]))
        agents.append(SimulatedAgent(host, str(entry["token"])))
    record_lock = threading.Lock()

    def record(batch: Batch) -> None:
        if args.record is not None:
            with record_lock, args.record.open("a") as out:
                out.write(batch.model_dump_json() + "\n")

    simulation = Simulation(
        agents,
        ingest_url,
        RequestsTransport(),
        args.interval,
        args.send_every,
        args.duration,
        on_accepted=record,
    )
    print(f"hostpulse: simulating {args.hosts} hosts for {args.duration:.0f} s", flush=True)
    try:
        stats = simulation.run()
    finally:
        for agent in agents:
            book.entries[agent.host.hostname]["next_seq"] = agent.host.next_seq
        book.save()
    print(json.dumps(stats.summary()))
    return 0 if stats.rejected == 0 else 1
