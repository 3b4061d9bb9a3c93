"""``hostpulse worker`` and ``hostpulse invoke``: the stack's functions without Lambda, as on
Kubernetes. The same handlers and settings; the stack description says which queue feeds a
function, how it batches, and its timeout."""

from __future__ import annotations

import argparse
import importlib
import json
import signal
import threading
import time
import uuid
from types import FrameType
from typing import Any

from hostpulse.core.settings import WorkerSettings
from hostpulse.deploy.deployer import Deployer
from hostpulse.deploy.model import Stack, load_stack
from hostpulse.localcloud.settings import LocalCloudSettings
from hostpulse.services.worker.consumer import EventSource, Handler, Worker, WorkerContext
from hostpulse.services.worker.probes import serve_probes
from hostpulse.wiring import by_url


def add_parser(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    worker = commands.add_parser(
        "worker", help="run a function's handler as a long-running consumer of its SQS queue"
    )
    worker.add_argument("function", help="a function with a queue trigger (aggregate, alerts)")
    worker.add_argument(
        "--concurrency", type=int, help="batches at once (default 1; scale with replicas)"
    )
    worker.add_argument("--health-port", type=int, help="/livez and /readyz (default 8081)")
    worker.add_argument("--queue-url", help="default: HOSTPULSE_<QUEUE>_QUEUE_URL")
    invoke = commands.add_parser(
        "invoke", help="run a scheduled function's handler once (a Kubernetes CronJob)"
    )
    invoke.add_argument("function", help="a function with a schedule (retention, alerts-tick)")
    commands.add_parser(
        "scheduler",
        help="run the stack's scheduled functions on their rates in one long-running process",
    )
    commands.add_parser(
        "provision",
        help="create the stack's queues and buckets only (where the functions run as containers)",
    )


def say(message: str) -> None:
    print(f"hostpulse: {message}", flush=True)


def import_handler(path: str) -> Handler:
    module, _, name = path.rpartition(".")
    handler: Handler = getattr(importlib.import_module(module), name)
    return handler


def context_for(stack: Stack, function: str) -> WorkerContext:
    spec = stack.functions[function]
    return WorkerContext(
        function_name=f"{stack.name}-{function}",
        memory_limit_in_mb=spec.memory,
        invoked_function_arn=f"arn:aws:lambda:local:000000000000:function:{stack.name}-{function}",
        deadline=time.monotonic() + spec.timeout,
    )


def run_worker(args: argparse.Namespace, settings: LocalCloudSettings) -> int:
    stack = load_stack(settings.stack_file)
    trigger = next((t for t in stack.triggers if t.function == args.function), None)
    if trigger is None:
        fed = ", ".join(sorted({t.function for t in stack.triggers})) or "none"
        say(f"error: {args.function!r} has no queue trigger in {settings.stack_file} ({fed} do)")
        return 2
    spec = stack.functions[args.function]
    options = WorkerSettings()
    queue_url = args.queue_url or options.queue_for(trigger.queue)
    if not queue_url:
        say(
            f"error: no queue for {args.function}: set HOSTPULSE_{trigger.queue.upper()}"
            "_QUEUE_URL or --queue-url"
        )
        return 2
    source = EventSource(
        function_name=f"{stack.name}-{args.function}",
        batch_size=trigger.batch_size,
        batching_window_s=trigger.batching_window_seconds,
        timeout_s=spec.timeout,
        region=options.aws_region,
        memory_mb=spec.memory,
    )
    worker = Worker(
        lambda: by_url.worker_queue(options.aws_region, options.aws_endpoint_url, queue_url),
        import_handler(spec.handler),
        source,
        concurrency=args.concurrency or options.concurrency,
    )

    def stop(signum: int, frame: FrameType | None) -> None:
        say(f"{signal.Signals(signum).name}: finishing the batches in hand")
        worker.stop()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    probes = serve_probes(
        worker.vitals, spec.timeout, args.health_port or options.health_port, options.health_host
    )
    say(
        f"worker {args.function}: {worker.concurrency} consumer(s) of {queue_url}, batches of "
        f"{trigger.batch_size}; probes on :{probes.server_port}"
    )
    worker.run()
    probes.shutdown()
    vitals = worker.vitals
    say(f"stopped: {vitals.batches} batches, {vitals.messages} messages, {vitals.failed} failed")
    return 0


def scheduled_event(function: str) -> dict[str, Any]:
    """The event EventBridge sends a scheduled function."""
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": "000000000000",
        "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "region": "local",
        "resources": [f"hostpulse-schedule-{function}"],
        "detail": {},
    }


def run_invoke(args: argparse.Namespace, settings: LocalCloudSettings) -> int:
    stack = load_stack(settings.stack_file)
    if args.function not in stack.functions:
        say(f"error: no function {args.function!r} in {settings.stack_file}")
        return 2
    handler = import_handler(stack.functions[args.function].handler)
    try:
        answer = handler(scheduled_event(args.function), context_for(stack, args.function))
    except Exception as error:  # a CronJob's failure is its exit status and one line
        say(f"error: {args.function} failed: {type(error).__name__}: {error}")
        return 1
    print(json.dumps(answer, default=str))
    return 0


def run_scheduler(settings: LocalCloudSettings) -> int:
    """Each ``rate(...)`` schedule of the stack in one process, as EventBridge calls the
    functions: first one period after the start, never two runs of one function at once (a
    run longer than the period delays the next). The handlers stay imported and their clients
    warm between runs, as in a warm Lambda environment."""
    stack = load_stack(settings.stack_file)
    timers = []
    for name, schedule in stack.schedules.items():
        period = schedule.period_seconds()
        if period is None:
            say(f"error: schedule {name}: only rate(...) runs here, not {schedule.expression!r}")
            return 2
        timers.append((schedule.function, period))
    stopping = threading.Event()

    def stop(signum: int, frame: FrameType | None) -> None:
        say(f"{signal.Signals(signum).name}: stopping after the runs in hand")
        stopping.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    threads = [
        threading.Thread(
            target=run_on_rate, args=(stack, function, period, stopping), name=function
        )
        for function, period in timers
    ]
    for thread in threads:
        thread.start()
    say("scheduler: " + ", ".join(f"{function} every {period} s" for function, period in timers))
    for thread in threads:
        thread.join()
    return 0


def run_on_rate(stack: Stack, function: str, period: float, stopping: threading.Event) -> None:
    handler = import_handler(stack.functions[function].handler)
    due = time.monotonic() + period
    while not stopping.wait(max(0.0, due - time.monotonic())):
        began = time.monotonic()
        try:
            handler(scheduled_event(function), context_for(stack, function))
        except Exception as error:  # the next period is the retry, as with EventBridge
            say(f"error: {function} failed: {type(error).__name__}: {error}")
        else:
            say(f"{function}: done in {time.monotonic() - began:.1f} s")
        # The next run on the rate's grid; one that fell within a run that overran is skipped.
        due += period
        while due <= time.monotonic():
            due += period


def run_provision(settings: LocalCloudSettings) -> int:
    """Queues (with their dead-letter queues) and buckets, idempotently; their addresses as
    the environment lines the containers take."""
    stack = load_stack(settings.stack_file)
    options = WorkerSettings()
    endpoint = options.aws_endpoint_url
    result = Deployer(stack, endpoint or "", options.aws_region).provision()
    for change in result.changes:
        say(change)
    for name, url in sorted(result.queue_urls.items()):
        print(f"HOSTPULSE_{name.upper()}_QUEUE_URL={url}")
    for name, url in sorted(result.dead_letter_urls.items()):
        print(f"HOSTPULSE_{name.upper()}_DEAD_LETTER_URL={url}")
    for name, bucket in sorted(result.buckets.items()):
        print(f"HOSTPULSE_{name.upper()}_BUCKET={bucket}")
    return 0
