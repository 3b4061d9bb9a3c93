"""Brings the local cloud up in order, watches it, and takes it down in reverse order."""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import requests

from hostpulse.deploy.deployer import Deployer, DeployResult
from hostpulse.deploy.model import StackError, load_stack
from hostpulse.localcloud.api_server import ApiGuard, ApiServer
from hostpulse.localcloud.component import Component, Health
from hostpulse.localcloud.errors import LocalCloudError
from hostpulse.localcloud.external import ExternalServer
from hostpulse.localcloud.localstack import QUEUES_AND_BUCKETS, LocalStack
from hostpulse.localcloud.paths import StatePaths
from hostpulse.localcloud.postgres import EmbeddedPostgres, database_healthy
from hostpulse.localcloud.process_runtime import local_aws_environment, process_services
from hostpulse.localcloud.processes import BACKGROUND_NICENESS, read_pid, stop_pid
from hostpulse.localcloud.redis_server import EmbeddedRedis, redis_healthy
from hostpulse.localcloud.relocation import remove_relocated
from hostpulse.localcloud.replicas import replicas_health
from hostpulse.localcloud.settings import LocalCloudSettings, Runtime
from hostpulse.services.alerts.prometheus_rules import load_prometheus_rules
from hostpulse.services.alerts.rule_groups import replace_rule_groups
from hostpulse.services.alerts.rules import RuleFileError, load_rule_set
from hostpulse.services.alerts.service import replace_rule_file
from hostpulse.wiring import by_url

SUPERVISOR = "supervisor"
ADMIN_TOKEN_PREFIX = "hpa_"  # noqa: S105 - marks admin tokens in logs, not a secret
Report = Callable[[str], None]
CRASH_RESTART_WINDOW_S = 600.0


def read_endpoints(paths: StatePaths) -> dict[str, Any] | None:
    try:
        data: dict[str, Any] = json.loads(paths.endpoints.read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return None
    return data


def write_atomically(path: Path, content: str) -> None:
    temporary = path.with_suffix(".tmp")
    temporary.write_text(content)
    temporary.chmod(0o600)  # it holds the database password
    temporary.replace(path)


class LocalCloud:
    def __init__(self, settings: LocalCloudSettings) -> None:
        self.settings = settings
        self.paths = StatePaths(settings.state_dir.resolve())
        self.postgres: EmbeddedPostgres | ExternalServer = (
            ExternalServer(
                "postgres", settings.database_url, database_healthy, "HOSTPULSE_DATABASE_URL"
            )
            if settings.database_url
            else EmbeddedPostgres(
                self.paths,
                settings.postgres_port,
                settings.postgres_isolation,
                settings.postgres_relocation_dir,
                settings.postgres_shared_buffers_mb,
            )
        )
        self.redis: EmbeddedRedis | ExternalServer = (
            ExternalServer("redis", settings.redis_url, redis_healthy, "HOSTPULSE_REDIS_URL")
            if settings.redis_url
            else EmbeddedRedis(self.paths, settings.redis_port)
        )
        self.runtime = settings.runtime
        self.processes = settings.runtime is Runtime.PROCESSES
        # As processes, LocalStack only carries the pipeline's queues: it yields to reads too.
        self.localstack = (
            LocalStack(self.paths, settings, QUEUES_AND_BUCKETS, BACKGROUND_NICENESS)
            if self.processes
            else LocalStack(self.paths, settings)
        )
        self.api = ApiServer(self.paths, settings.api_port, settings.trusted_proxies)
        # The API starts after migrations and the deploy (see start()), so it is listed last.
        self.components: list[Component] = [self.postgres, self.redis, self.localstack, self.api]
        self._started: list[Component] = []
        self._crash_restarts: list[float] = []
        self._process_services: dict[str, dict[str, object]] = {}

    @classmethod
    def attached(cls, settings: LocalCloudSettings) -> LocalCloud:
        """For the commands that act on a running local cloud: in the runtime it runs in."""
        endpoints = read_endpoints(StatePaths(settings.state_dir.resolve()))
        running = endpoints.get("runtime") if endpoints else None
        if running is None:
            return cls(settings)
        return cls(settings.model_copy(update={"runtime": Runtime(running)}))

    # -- up ---------------------------------------------------------------------------------

    def claim(self) -> None:
        self.paths.create()
        running = read_pid(self.paths.pid(SUPERVISOR))
        if running is not None and running != os.getpid():
            raise LocalCloudError(
                f"hostpulse is already running (pid {running})",
                "see `hostpulse status`, or stop it with `hostpulse down`",
            )
        self.paths.pid(SUPERVISOR).write_text(str(os.getpid()))

    def start(self, report: Report) -> dict[str, Any]:
        self.claim()
        try:
            servers, services = self.components[:3], self.components[3:]
            self._start_all(servers, report)
            report("applying database migrations")
            applied = by_url.migrate_database(self.postgres.url)
            if applied:
                report(f"applied {', '.join(applied)}")
            self.load_alert_rules(report)
            report("deploying the stack")
            result = self.deploy()
            report(f"deployed: {len(result.changes)} change(s)")
            # The queue is new and empty: batches refused by the last `down` may come back.
            by_url.drain_flag(self.redis.url, result.queue_urls["aggregate"]).lower()
            self.paths.stack_deployed.touch()
            self.api.configure(
                self.postgres.url,
                self.redis.url,
                self.settings.cors_origins,
                self.guard().environment(),
                self.pipeline_environment(result),
            )
            self._start_all(services, report)
            if self.processes:
                self._start_processes(result, report)
            endpoints = self.endpoints(result)
            write_atomically(self.paths.endpoints, json.dumps(endpoints, indent=2))
            return endpoints
        except BaseException:
            self.stop(report)
            raise

    def _start_all(self, components: list[Component], report: Report) -> None:
        for component in components:
            report(f"starting {component.name}")
            # Listed before start(): a start that fails halfway still gets stopped.
            self._started.append(component)
            component.start()

    def _start_processes(self, result: DeployResult, report: Report) -> None:
        stack = load_stack(self.settings.stack_file)
        aws = local_aws_environment(self.localstack.url, self.settings.region)
        environments = {name: {**result.environments[name], **aws} for name in result.environments}
        services = process_services(self.settings, self.paths, stack, environments, report)
        self._process_services = {service.name: service.record() for service in services}
        self._start_all(list(services), report)

    def load_alert_rules(self, report: Report) -> None:
        path = self.settings.alert_rules_file
        if path is None or not path.exists():
            return
        try:
            rule_set = load_rule_set(path.read_text(), str(path))
        except RuleFileError as error:
            raise LocalCloudError(
                str(error), "fix the rule file, or check it with `hostpulse alerts check FILE`"
            ) from None
        replace_rule_file(by_url.rule_store(self.postgres.url), rule_set, int(time.time() * 1000))
        report(f"loaded {len(rule_set.rules)} alert rules from {path.name}")
        self.load_prometheus_rules(report)

    def load_prometheus_rules(self, report: Report) -> None:
        path = self.settings.prometheus_rules_file
        if path is None or not path.exists():
            return
        try:
            rule_file = load_prometheus_rules(path.read_text(), str(path))
        except RuleFileError as error:
            raise LocalCloudError(
                str(error), "fix the rule file, or check it with `hostpulse alerts check FILE`"
            ) from None
        store = by_url.rule_group_store(self.postgres.url)
        replace_rule_groups(store, rule_file, (), int(time.time() * 1000), keep_others=True)
        report(f"loaded {len(rule_file.groups)} Prometheus rule groups from {path.name}")

    def deploy(self) -> DeployResult:
        stack = load_stack(self.settings.stack_file)
        variables = {
            "database_url": self.postgres.url,
            "redis_url": self.redis.url,
            "region": self.settings.region,
            "cors_origins": self.settings.cors_origins,
            **self.guard().variables(),
        }
        deployer = Deployer(stack, self.localstack.url, self.settings.region, variables)
        if not self.processes:
            return deployer.deploy()
        # Only the queues and the bucket: the functions run as this machine's processes.
        result = deployer.provision()
        for name in stack.process_functions():
            result.environments[name] = deployer.environment_of(name)
        return result

    def pipeline_environment(self, result: DeployResult) -> dict[str, str]:
        """Where the pipeline view finds the queues, as the api function's environment has it."""
        environment = {"AWS_ENDPOINT_URL": self.localstack.url, "AWS_REGION": self.settings.region}
        for name, url in result.queue_urls.items():
            environment[f"HOSTPULSE_{name.upper()}_QUEUE_URL"] = url
        for name, url in result.dead_letter_urls.items():
            environment[f"HOSTPULSE_{name.upper()}_DEAD_LETTER_URL"] = url
        return environment

    def guard(self) -> ApiGuard:
        """What guards the API, the same for the API under uvicorn and the api function."""
        return ApiGuard.of(self.settings, self.admin_token())

    def admin_token(self) -> str:
        """The configured admin token, or one generated once and kept 0600 in the state folder:
        with nothing configured, writes are still protected."""
        if self.settings.admin_token is not None:
            return self.settings.admin_token.get_secret_value()
        path = self.paths.admin_token
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            write_atomically(path, f"{ADMIN_TOKEN_PREFIX}{secrets.token_urlsafe(32)}\n")
        return path.read_text().strip()

    def endpoints(self, result: DeployResult) -> dict[str, Any]:
        if self.processes:
            # Ingest on its own port, the API (and the seed's /health) on the API's.
            api_url, ingest_base = self.api.url, f"http://127.0.0.1:{self.settings.ingest_port}"
        else:
            api_url = ingest_base = result.api_url or ""
        return {
            "runtime": self.runtime.value,
            "ingest_url": f"{ingest_base}/v1/ingest",
            "api_url": api_url,
            "health_url": f"{api_url}/health",
            "local_api_url": self.api.url,
            "dashboard_url": f"{self.api.url}/",
            "aws_endpoint_url": self.localstack.url,
            "region": self.settings.region,
            "database_url": self.postgres.url,
            "redis_url": self.redis.url,
            "queues": result.queue_urls,
            "dead_letter_queues": result.dead_letter_urls,
            "topics": result.topic_arns,
            "buckets": result.buckets,
            "processes": self._process_services,
            "supervisor_pid": os.getpid(),
        }

    def watch(
        self, stopping: threading.Event, restarting: threading.Event, report: Report
    ) -> str | None:
        """Block until asked to stop (None) or until a component dies (its cause).

        LocalStack is restarted in place when asked (``restarting``, set by SIGHUP) after a
        drain, and once without one when it dies by itself: the servers holding the history
        keep running, and agents only see a few refused sends, which they retry.
        """
        while not stopping.wait(1.0):
            if restarting.is_set():
                restarting.clear()
                cause = self.restart_localstack(report, drain=True)
                if cause is not None:
                    return cause
            for component in self._started:
                cause = component.crash()
                if cause is None:
                    continue
                if component is self.localstack and self._may_restart_after_crash():
                    report(f"warning: {cause}; restarting it (what its queues held is lost)")
                    cause = self.restart_localstack(report, drain=False)
                    if cause is None:
                        break
                return cause
        return None

    def _may_restart_after_crash(self) -> bool:
        """At most one unasked restart in ten minutes: a LocalStack that keeps dying stops
        everything, with its cause, instead of flapping."""
        now = time.monotonic()
        recent = self._crash_restarts and now - self._crash_restarts[-1] < CRASH_RESTART_WINDOW_S
        if recent:
            return False
        self._crash_restarts.append(now)
        return True

    def restart_localstack(self, report: Report, drain: bool) -> str | None:
        """Drain (when asked), stop LocalStack, start it, deploy the stack again and accept
        batches again; the cause when it did not come back."""
        if drain:
            self.drain(report)
        self.warn_of_dead_letters(report)
        report("stopping localstack")
        self.localstack.stop()
        try:
            report("starting localstack")
            self.localstack.start()
            report("deploying the stack")
            result = self.deploy()
        except (LocalCloudError, StackError) as error:
            return f"localstack did not come back: {error}"
        by_url.drain_flag(self.redis.url, result.queue_urls["aggregate"]).lower()
        self.paths.stack_deployed.touch()
        endpoints = self.endpoints(result)
        endpoints["localstack_started_at"] = time.time()
        write_atomically(self.paths.endpoints, json.dumps(endpoints, indent=2))
        report("localstack restarted: ingest accepts batches again")
        return None

    def warn_of_dead_letters(self, report: Report) -> None:
        """LocalStack keeps dead-lettered batches in memory: say so before they go."""
        endpoints = read_endpoints(self.paths)
        if endpoints is None or self.localstack.crash():
            return
        depth = by_url.queue_depth(self.settings.region, self.localstack.url)
        for name, url in endpoints["dead_letter_queues"].items():
            with contextlib.suppress(Exception):
                held = depth.pending(url)
                if held:
                    report(
                        f"warning: {held} message(s) in the {name} dead-letter queue are lost "
                        "with LocalStack; replay them first with `hostpulse replay dlq` "
                        f"{name} to keep them"
                    )

    # -- down -------------------------------------------------------------------------------

    def drain(self, report: Report, timeout_s: float = 45.0) -> None:
        """Stop accepting batches and let aggregation finish before the servers stop.

        LocalStack keeps its queues in memory: a batch answered 202 but still queued would be
        lost with it. While draining, ingest answers 503 and agents keep their batches spooled.
        """
        endpoints = read_endpoints(self.paths)
        if endpoints is None or self.localstack.crash() or self.redis.crash():
            return
        queue_url = endpoints["queues"]["aggregate"]
        if not by_url.drain_flag(self.redis.url, queue_url).raise_flag():
            return  # Redis is gone: nothing can send any more either
        report("draining: ingest refuses new batches until the queue is empty")
        depth = by_url.queue_depth(self.settings.region, self.localstack.url)
        deadline = time.monotonic() + timeout_s
        # Several empty readings in a row: a request that passed the check just before the
        # flag was set may still be on its way to the queue.
        calm = 0
        while calm < 4 and time.monotonic() < deadline:
            try:
                pending = depth.pending(queue_url)
            except Exception:
                return  # LocalStack is not answering: nothing more can be drained
            calm = calm + 1 if pending == 0 else 0
            time.sleep(0.5)
        if calm < 4:
            report(f"warning: the aggregate queue did not empty within {timeout_s:.0f} s")

    def stop(self, report: Report) -> None:
        if self.localstack in self._started:
            self.drain(report)
            self.warn_of_dead_letters(report)
        self.paths.endpoints.unlink(missing_ok=True)
        for component in reversed(self._started or self.components):
            report(f"stopping {component.name}")
            component.stop()
        self._started.clear()
        if read_pid(self.paths.pid(SUPERVISOR)) in (None, os.getpid()):
            self.paths.pid(SUPERVISOR).unlink(missing_ok=True)

    def down(self, report: Report, timeout: float = 90.0) -> bool:
        """Stop a running supervisor, or clean up after one that crashed."""
        supervisor = read_pid(self.paths.pid(SUPERVISOR))
        if supervisor is not None:
            report(f"stopping hostpulse (pid {supervisor})")
            stop_pid(supervisor, grace_seconds=timeout)
        leftovers = [p for p in self.paths.run.glob("*.pid") if read_pid(p) is not None]
        for pid_file in leftovers:
            pid = read_pid(pid_file)
            if pid is not None:
                report(f"stopping leftover {pid_file.stem} (pid {pid})")
                stop_pid(pid)
            pid_file.unlink(missing_ok=True)
        self.paths.endpoints.unlink(missing_ok=True)
        return supervisor is not None or bool(leftovers)

    def clean(self, report: Report) -> None:
        """Stop everything, then delete what the state folder holds, wherever it was moved."""
        self.down(report)
        for home in remove_relocated(self.settings.postgres_relocation_dir, self.paths.root):
            report(f"removed the relocated PostgreSQL files in {home}")
        for folder in self.paths.owned():
            if folder.is_dir():
                shutil.rmtree(folder)
            else:
                folder.unlink(missing_ok=True)
        with contextlib.suppress(OSError):
            self.paths.root.rmdir()  # only when nothing else is left in it
        report(f"removed the state in {self.paths.root}")

    # -- status -----------------------------------------------------------------------------

    def status(self) -> list[Health]:
        supervisor = read_pid(self.paths.pid(SUPERVISOR))
        rows = [
            Health(
                SUPERVISOR,
                f"pid {supervisor}" if supervisor else "-",
                supervisor is not None,
                "running" if supervisor else "not running; start it with `hostpulse up`",
            )
        ]
        rows += [component.health() for component in self.components]
        endpoints = read_endpoints(self.paths) or {}
        for name, record in endpoints.get("processes", {}).items():
            rows.append(replicas_health(self.paths, name, record["count"], record["probes"]))
        rows.append(self.stack_health())
        return rows

    def stack_health(self) -> Health:
        endpoints = read_endpoints(self.paths)
        if endpoints is None:
            return Health("stack", "-", False, "not deployed")
        url = endpoints["health_url"]
        try:
            response = requests.get(url, timeout=10)
        except requests.RequestException as error:
            return Health("stack", url, False, type(error).__name__)
        return Health(
            "stack", url, response.status_code == 200, f"GET /health -> {response.status_code}"
        )
