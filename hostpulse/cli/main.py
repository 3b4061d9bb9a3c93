"""The ``hostpulse`` command: run the local cloud and look after it."""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from types import FrameType
from typing import Any

from pydantic import ValidationError

from hostpulse.cli import (
    agents,
    alerts,
    hosts,
    package,
    replay,
    simulate,
    terraform,
    users,
    worker,
)
from hostpulse.core.contract import json_schema
from hostpulse.core.responses import PipelineAnswer
from hostpulse.core.settings import ApiSettings
from hostpulse.deploy.model import StackError
from hostpulse.localcloud.errors import LocalCloudError
from hostpulse.localcloud.processes import read_pid
from hostpulse.localcloud.settings import LocalCloudSettings, Runtime
from hostpulse.localcloud.supervisor import SUPERVISOR, LocalCloud, read_endpoints
from hostpulse.services.self_monitoring.history import RecentTotals, recent_totals
from hostpulse.wiring.by_url import MigrationError, migrate_database, pipeline_history
from hostpulse.wiring.components import pipeline_watch

DETACH_TIMEOUT_SECONDS = 600.0
RESTART_TIMEOUT_SECONDS = 300.0
RECENT_MINUTES = 15


class ShutdownRequested(Exception):
    """Raised in the main thread by SIGTERM/SIGINT while starting up."""


def say(message: str) -> None:
    print(f"hostpulse: {message}", flush=True)


def cmd_up(cloud: LocalCloud, detach: bool) -> int:
    if detach:
        return start_detached(cloud)
    stopping, restarting = threading.Event(), threading.Event()
    starting = True

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stopping.set()
        if starting:
            raise ShutdownRequested(signal.Signals(signum).name)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    # SIGHUP, as daemons reload on it: `hostpulse restart localstack` asks for one.
    signal.signal(signal.SIGHUP, lambda signum, frame: restarting.set())
    try:
        endpoints = cloud.start(say)
    except ShutdownRequested:
        say("stopped during start-up")
        return 130
    starting = False
    say("ready")
    print_endpoints(endpoints, ("dashboard_url", "ingest_url", "api_url", "aws_endpoint_url"))
    print(f"  {'endpoints':18} {cloud.paths.endpoints}", flush=True)
    cause = cloud.watch(stopping, restarting, say)
    if cause is not None:
        say(f"error: {cause}; see {cloud.paths.logs} and run `hostpulse up` again")
    cloud.stop(say)
    say("stopped")
    return 1 if cause else 0


def start_detached(cloud: LocalCloud) -> int:
    cloud.claim()  # fail fast, in this process, when one is already running
    cloud.paths.pid(SUPERVISOR).unlink(missing_ok=True)
    log_file = cloud.paths.log("up")
    # Only this start's lines tell why it failed: the log keeps earlier runs above them.
    start_offset = log_file.stat().st_size if log_file.exists() else 0
    with log_file.open("ab") as log:
        child = subprocess.Popen(
            [sys.executable, "-m", "hostpulse.cli.main", "up", "--runtime", cloud.runtime.value],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    deadline = time.monotonic() + DETACH_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if child.poll() is not None:
            say(f"error: start-up failed: {last_error(log_file, start_offset)}")
            return 1
        endpoints = read_endpoints(cloud.paths)
        if endpoints is not None and endpoints.get("supervisor_pid") == child.pid:
            say(f"running in the background (pid {child.pid}); log: {log_file}")
            print_endpoints(endpoints, ("dashboard_url", "ingest_url", "api_url"))
            return 0
        time.sleep(0.3)
    say(f"error: not healthy after {DETACH_TIMEOUT_SECONDS:.0f} s; see {log_file}")
    return 1


def print_endpoints(endpoints: dict[str, Any], keys: tuple[str, ...]) -> None:
    for key in keys:
        print(f"  {key:18} {endpoints[key]}", flush=True)


def last_error(log_file: Path, offset: int = 0) -> str:
    try:
        with log_file.open("rb") as log:
            log.seek(offset)
            lines = log.read().decode(errors="replace").splitlines()
    except FileNotFoundError:
        lines = []
    errors = [line for line in lines if line.startswith("hostpulse: error: ")]
    if errors:
        return errors[-1].removeprefix("hostpulse: error: ")
    return lines[-1] if lines else "no output"


def cmd_restart(cloud: LocalCloud, timeout: float = RESTART_TIMEOUT_SECONDS) -> int:
    """Ask the running supervisor to restart LocalStack (drained first) and wait for it."""
    supervisor = read_pid(cloud.paths.pid(SUPERVISOR))
    if supervisor is None:
        say("error: hostpulse is not running; start it with `hostpulse up`")
        return 1
    asked_at = time.time()
    os.kill(supervisor, signal.SIGHUP)
    say(f"asked the supervisor (pid {supervisor}) to restart localstack; its log says how it goes")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        endpoints = read_endpoints(cloud.paths) or {}
        if endpoints.get("localstack_started_at", 0) > asked_at:
            say("localstack restarted; ingest accepts batches again")
            return 0
        if read_pid(cloud.paths.pid(SUPERVISOR)) is None:
            say(f"error: the supervisor stopped: {last_error(cloud.paths.log('up'))}")
            return 1
        time.sleep(0.5)
    say(f"error: localstack not back within {timeout:.0f} s; see {cloud.paths.log('up')}")
    return 1


def cmd_down(cloud: LocalCloud) -> int:
    if not cloud.down(say):
        say("nothing was running")
    else:
        say("stopped")
    return 0


def cmd_clean(cloud: LocalCloud) -> int:
    cloud.clean(say)
    return 0


def pipeline_of(cloud: LocalCloud) -> tuple[PipelineAnswer, RecentTotals | None] | None:
    """The running local cloud's queues, dead letters and lag; None when it is not running."""
    endpoints = read_endpoints(cloud.paths)
    if endpoints is None:
        return None
    queues = tuple(
        (name, url, endpoints["dead_letter_queues"].get(name))
        for name, url in endpoints["queues"].items()
    )
    watch = pipeline_watch(
        endpoints["region"],
        endpoints["aws_endpoint_url"],
        queues,
        redis_url=endpoints["redis_url"],
        database_url=endpoints["database_url"],
        lag_bound_s=ApiSettings.model_fields["pipeline_lag_bound_seconds"].default,
        backlog_bound=ApiSettings.model_fields["pipeline_backlog_bound"].default,
        peek=True,
    )
    now_ms = int(time.time() * 1000)
    try:
        answer = watch.status(now_ms)
    except Exception:  # a server that is down: the component rows above already say which
        return None
    history = pipeline_history(endpoints["database_url"], endpoints["queues"]["aggregate"])
    try:
        return answer, recent_totals(history, now_ms, RECENT_MINUTES)
    except Exception:  # a database older than the history: the queues still tell
        return answer, None


def print_pipeline(answer: PipelineAnswer, recent: RecentTotals | None) -> None:
    print(
        f"\n{'QUEUE':12} {'WAITING':>8} {'IN FLIGHT':>10} {'DELAYED':>8} {'DEAD':>6}  OLDEST DEAD"
    )
    for name, queue in answer["queues"].items():
        age = queue["oldest_dead_letter_age_s"]
        oldest = f"{age:.0f} s" if age is not None else "-"
        print(
            f"{name:12} {queue['waiting']:>8} {queue['in_flight']:>10} {queue['delayed']:>8} "
            f"{queue['dead_letters']:>6}  {oldest}"
        )
    lag = answer["aggregate_lag_s"]
    shown = "-" if lag is None else f"{lag:.1f} s"
    print(f"\naggregate lag: {shown} (bound {answer['lag_bound_s']:.0f} s)")
    if recent is not None and recent.minutes:
        p95 = recent.worst_latency_p95_ms
        print(
            f"last {RECENT_MINUTES} min: ingest {recent.ingest_batches} batches "
            f"({recent.ingest_refused} refused, {recent.ingest_failed} failed), p95 up to "
            f"{'-' if p95 is None else f'{p95:.0f} ms'}; aggregation {recent.aggregate_stored} "
            f"stored, {recent.aggregate_failed} failed"
        )
    for problem in answer["problems"]:
        print(f"problem: {problem}")


def cmd_status(cloud: LocalCloud, as_json: bool) -> int:
    rows = cloud.status()
    seen = pipeline_of(cloud) if all(row.healthy for row in rows) else None
    pipeline, recent = seen if seen is not None else (None, None)
    if as_json:
        document = {
            "components": [row.__dict__ for row in rows],
            "pipeline": pipeline,
            "recent": recent.__dict__ if recent is not None else None,
        }
        print(json.dumps(document, indent=2))
    else:
        print(f"{'COMPONENT':12} {'STATE':9} {'ADDRESS':62} DETAIL")
        for row in rows:
            state = "healthy" if row.healthy else "DOWN"
            print(f"{row.name:12} {state:9} {row.address:62} {row.detail}")
        if pipeline is not None:
            print_pipeline(pipeline, recent)
    return 0 if all(row.healthy for row in rows) else 1


def cmd_deploy(cloud: LocalCloud) -> int:
    if read_pid(cloud.paths.pid(SUPERVISOR)) is None:
        raise LocalCloudError("hostpulse is not running", "start it with `hostpulse up --detach`")
    result = cloud.deploy()
    for change in result.changes:
        say(change)
    say(f"{len(result.changes)} change(s)")
    return 0


def cmd_migrate(settings: LocalCloudSettings) -> int:
    """Migrates the database HOSTPULSE_DATABASE_URL names (RDS, before a first apply on AWS)."""
    if not settings.database_url:
        raise LocalCloudError(
            "no database to migrate", "set HOSTPULSE_DATABASE_URL=postgresql://… and run it again"
        )
    try:
        applied = migrate_database(settings.database_url)
    except MigrationError:
        raise
    except Exception as error:  # the driver's own errors: unreachable, refused, bad password
        raise LocalCloudError(
            f"cannot migrate: {str(error).strip()}",
            "check HOSTPULSE_DATABASE_URL and that the database accepts connections",
        ) from None
    say(f"applied {', '.join(applied)}" if applied else "the database is up to date")
    return 0


def cmd_schema(output: Path | None) -> int:
    text = json.dumps(json_schema(), indent=2) + "\n"
    if output is None:
        print(text, end="")
    else:
        output.write_text(text)
    return 0


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="hostpulse", description=__doc__)
    commands = root.add_subparsers(dest="command", required=True)
    up = commands.add_parser("up", help="run LocalStack, PostgreSQL and Redis and deploy the stack")
    up.add_argument("--detach", action="store_true", help="return once everything is healthy")
    up.add_argument(
        "--runtime",
        choices=[runtime.value for runtime in Runtime],
        help="lambda: the functions on the local cloud's Lambda behind its API Gateway, as on "
        "AWS; processes: as processes, as on Kubernetes, for a fleet (default: "
        "HOSTPULSE_RUNTIME, else lambda; see the README)",
    )
    commands.add_parser("down", help="stop everything `up` started")
    restart = commands.add_parser(
        "restart", help="restart one server in place (drained first); the others keep running"
    )
    restart.add_argument("server", choices=["localstack"])
    commands.add_parser(
        "clean", help="stop everything and delete the local cloud's data (databases, logs)"
    )
    commands.add_parser(
        "admin-token", help="print the API's admin token (to change alert rules through it)"
    )
    status = commands.add_parser("status", help="each component, its address, healthy or not")
    status.add_argument("--json", action="store_true")
    commands.add_parser("deploy", help="deploy the stack description again (idempotent)")
    agents.add_parser(commands)
    users.add_parser(commands)
    alerts.add_parser(commands)
    hosts.add_parser(commands)
    simulate.add_parser(commands)
    package.add_parser(commands)
    terraform.add_parser(commands)
    replay.add_parser(commands)
    worker.add_parser(commands)
    commands.add_parser(
        "migrate", help="apply the database migrations HOSTPULSE_DATABASE_URL lacks"
    )
    schema = commands.add_parser("schema", help="print the wire contract's JSON Schema")
    schema.add_argument("--output", type=Path, help="write it to this file instead")
    return root


Settings = LocalCloudSettings
Namespace = argparse.Namespace
# What each command runs: those that need only their arguments and the settings...
COMMANDS: dict[str, Callable[[Namespace, Settings], int]] = {
    "agents": agents.run,
    "users": users.run,
    "alerts": alerts.run,
    "hosts": hosts.run,
    "simulate": simulate.run,
    "schema": lambda args, _: cmd_schema(args.output),
    "package": package.run_package,
    "trigger-responses": lambda args, _: package.run_trigger_responses(args),
    "terraform": terraform.run,
    "replay": replay.run,
    "migrate": lambda _, settings: cmd_migrate(settings),
    "worker": worker.run_worker,
    "invoke": worker.run_invoke,
    "provision": lambda _, settings: worker.run_provision(settings),
    "scheduler": lambda _, settings: worker.run_scheduler(settings),
}
# ...and those of the running local cloud (`up` starts it).
CLOUD_COMMANDS: dict[str, Callable[[Namespace, LocalCloud], int]] = {
    "up": lambda args, cloud: cmd_up(cloud, args.detach),
    "down": lambda _, cloud: cmd_down(cloud),
    "restart": lambda _, cloud: cmd_restart(cloud),
    "clean": lambda _, cloud: cmd_clean(cloud),
    "admin-token": lambda _, cloud: cmd_admin_token(cloud),
    "status": lambda args, cloud: cmd_status(cloud, args.json),
    "deploy": lambda _, cloud: cmd_deploy(cloud),
}


def cmd_admin_token(cloud: LocalCloud) -> int:
    print(cloud.admin_token())
    return 0


def cloud_for(args: Namespace, settings: LocalCloudSettings) -> LocalCloud:
    """`up` starts one in the runtime asked for; the other commands act on the running one."""
    if args.command != "up":
        return LocalCloud.attached(settings)
    if args.runtime:
        settings = settings.model_copy(update={"runtime": Runtime(args.runtime)})
    return LocalCloud(settings)


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        settings = LocalCloudSettings()
        command = COMMANDS.get(args.command)
        if command is not None:
            return command(args, settings)
        return CLOUD_COMMANDS[args.command](args, cloud_for(args, settings))
    except (LocalCloudError, StackError, MigrationError) as error:
        say(f"error: {error}")
        return 1
    except BrokenPipeError:
        # The reader went away (`hostpulse agents list | head`): stop quietly, as Unix tools do,
        # and keep Python from failing again on flushing stdout at exit.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except OSError as error:
        # A failure the code did not foresee still gets one line, not a traceback.
        where = f" ({error.filename})" if error.filename else ""
        say(f"error: {type(error).__name__}: {error.strerror or error}{where}")
        return 1
    except ValidationError as error:
        problems = "; ".join(
            f"HOSTPULSE_{'_'.join(map(str, e['loc'])).upper()}: {e['msg']}" for e in error.errors()
        )
        say(f"error: bad setting: {problems}")
        return 2


if __name__ == "__main__":
    sys.exit(main())
