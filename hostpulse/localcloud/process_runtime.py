"""The one-box process runtime: the stack's functions as processes, the way the Kubernetes
manifests run them, with LocalStack serving only the queues and the archive bucket.

- ingest: copies of the ingest ASGI service (uvicorn) on one socket;
- aggregate, alerts: `hostpulse worker` copies, consumers of their queues with the trigger's
  batching, partial batch responses and visibility timeouts, as Lambda's event source mapping;
- scheduler: `hostpulse scheduler`, the stack's rate schedules (retention, alerts-tick).

The query API runs under uvicorn in both runtimes (see api_server.py).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping

from hostpulse.deploy.model import Stack
from hostpulse.localcloud.paths import StatePaths
from hostpulse.localcloud.replicas import Replicas, Report, free_port, listening_socket
from hostpulse.localcloud.settings import LocalCloudSettings

INGEST_APP = "functions.ingest.asgi:app"
HOSTPULSE = (sys.executable, "-m", "hostpulse.cli.main")


def local_aws_environment(endpoint_url: str, region: str) -> dict[str, str]:
    return {
        "AWS_ENDPOINT_URL": endpoint_url,
        "AWS_REGION": region,
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
    }


def process_services(
    settings: LocalCloudSettings,
    paths: StatePaths,
    stack: Stack,
    environment_of: Mapping[str, Mapping[str, str]],
    report: Report,
) -> list[Replicas]:
    """The services in start order; ``environment_of``: each function's resolved environment
    from the stack, with the AWS endpoint of the local cloud."""

    def environment(function: str) -> dict[str, str]:
        return {
            **os.environ,
            **environment_of[function],
            "HOSTPULSE_WORKER_HEALTH_HOST": "127.0.0.1",
        }

    ingest_socket = listening_socket(settings.ingest_port, "ingest", "HOSTPULSE_INGEST_PORT")
    uvicorn = [sys.executable, "-m", "uvicorn", INGEST_APP, "--fd", str(ingest_socket.fileno())]
    uvicorn += ["--no-access-log", "--no-server-header", "--timeout-graceful-shutdown", "20"]
    ingest = Replicas(
        name="ingest",
        paths=paths,
        commands=[uvicorn] * settings.ingest_processes,
        probes=[f"http://127.0.0.1:{settings.ingest_port}/readyz"],
        environment=environment("ingest"),
        report=report,
        listen=ingest_socket,
    )
    services = [ingest]
    counts = {"aggregate": settings.aggregate_workers, "alerts": settings.alerts_workers}
    for trigger in stack.triggers:
        ports = [free_port() for _ in range(counts.get(trigger.function, 1))]
        worker = [*HOSTPULSE, "worker", trigger.function, "--health-port"]
        services.append(
            Replicas(
                name=trigger.function,
                paths=paths,
                commands=[[*worker, str(port)] for port in ports],
                probes=[f"http://127.0.0.1:{port}/readyz" for port in ports],
                environment=environment(trigger.function),
                report=report,
            )
        )
    if stack.schedules:
        # One environment for all the scheduled functions: the stack gives them the same.
        first = next(iter(stack.schedules.values())).function
        services.append(
            Replicas(
                name="scheduler",
                paths=paths,
                commands=[[*HOSTPULSE, "scheduler"]],
                probes=[],
                environment=environment(first),
                report=report,
            )
        )
    return services
