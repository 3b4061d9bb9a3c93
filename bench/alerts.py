"""Alerts at fleet scale.

(a) Rule evaluations per second: 100 rules over 500 hosts, one sample per host per batch, with
    the real PostgreSQL store (points kept only around breaches), against the same rules
    evaluated in memory with no storage (the baseline: reading values and comparing).
(b) Delay from the sample that crosses a threshold to the webhook's notification, through the
    whole local cloud (API Gateway, ingest, the alerts queue and function, PostgreSQL), p50 and
    p95, against the ingest round trip of the same POST.
"""

from __future__ import annotations

import time
from typing import Any

from bench.common import local_cloud, sized, summary, write_result
from hostpulse.core.contract import Batch, Cpu
from hostpulse.localcloud.settings import PROJECT_ROOT
from hostpulse.services.agents.tokens import register_agent
from hostpulse.services.alerts.rules import RuleSet, load_rule_set
from hostpulse.services.alerts.service import AlertService
from hostpulse.services.alerts.values import rule_value
from hostpulse.simulation.host import SyntheticHost
from hostpulse.wiring import by_url
from tests.alert_fakes import RecordingChannel
from tests.support import WebhookReceiver, post_batch

HOSTS = sized(500, 3)
RULES = sized(100, 8)
ROUNDS = sized(4, 1)
CROSSINGS = sized(20, 1)
METRICS = [
    ("cpu.percent", "max"),
    ("mem.percent", "max"),
    ("cpu.core:*", "avg"),
    ("cpu.core:*", "max"),
    ("disk.percent:*", "max"),
    ("load.1", "max"),
    ("swap.percent", "max"),
    ("cpu.iowait", "max"),
]


def rule_set() -> RuleSet:
    rules = []
    for i in range(RULES):
        metric, aggregate = METRICS[i % len(METRICS)]
        threshold = 60 + (i * 7) % 40  # 60..99: a few breach, most do not
        rules.append(
            f"  - {{name: r{i:03d}, metric: '{metric}', aggregate: {aggregate}, "
            f"threshold: {threshold}, for: {(i % 4) * 5}s, notify: [log]}}"
        )
    return load_rule_set("rules:\n" + "\n".join(rules))


def fleet_batches(rounds: int) -> list[Batch]:
    hosts = [SyntheticHost(f"ev-{i:03d}", cores=8, seed=i, processes=5) for i in range(HOSTS)]
    start = int(time.time() * 1000) - rounds * 5000
    return [h.batch([start + 5000 * r]) for r in range(rounds) for h in hosts]


def evaluations_per_second(database_url: str) -> dict[str, Any]:
    rules = rule_set()
    store = by_url.rule_store(database_url, rules_ttl_s=3600)  # the rules stay put here
    store.replace_file_rules(rules)
    service = AlertService(store, {"log": RecordingChannel()})
    batches = fleet_batches(ROUNDS)
    now = int(time.time() * 1000)

    started = time.perf_counter()
    outcome_evaluated = 0
    for batch in batches:
        outcome_evaluated += service.evaluate_batch(batch, now).evaluated
    stored_s = time.perf_counter() - started

    started = time.perf_counter()
    breaches = 0
    for batch in batches:
        for rule in rules.rules:
            for sample in batch.samples:
                value = rule_value(rule, sample)
                breaches += value is not None and rule.breaches(value)
    bare_s = time.perf_counter() - started

    evaluations = len(batches) * RULES
    store.replace_file_rules(
        load_rule_set((PROJECT_ROOT / "stack" / "alert-rules.yaml").read_text())
    )
    return {
        "hosts": HOSTS,
        "rules": RULES,
        "batches": len(batches),
        "rule_evaluations": evaluations,
        "breaching_evaluations": breaches,
        "stateful_evaluations": outcome_evaluated,
        "per_second_with_store": round(evaluations / stored_s),
        "per_second_in_memory_baseline": round(evaluations / bare_s),
        "store_vs_baseline": round(bare_s / stored_s, 3),
    }


def notification_delay(cloud: Any) -> dict[str, Any]:
    webhook = WebhookReceiver()
    url = webhook.url
    e = cloud.endpoints
    store = by_url.rule_store(e["database_url"])
    store.replace_file_rules(
        load_rule_set(
            f"notifiers: [{{name: hook, type: webhook, url: '{url}'}}]\n"
            "rules:\n  - {name: Crossing, metric: cpu.percent, threshold: 90, notify: [hook]}\n"
        )
    )
    token = register_agent(by_url.agent_repository(e["database_url"]), "crossing")
    host = SyntheticHost("crossing", cores=2)
    time.sleep(16)  # the functions' rule cache

    def send(percent: float) -> float:
        batch = host.batch([int(time.time() * 1000)])
        sample = batch.samples[0].model_copy(update={"cpu": Cpu(percent=percent)})
        started = time.perf_counter()
        response = post_batch(cloud, batch.model_copy(update={"samples": [sample]}), token)
        assert response.status_code == 202
        return started

    delays, ingest = [], []
    for _ in range(CROSSINGS):
        send(20.0)
        time.sleep(1)
        before = len(webhook.received)
        crossed = send(99.0)
        ingest.append((time.perf_counter() - crossed) * 1000)
        deadline = time.monotonic() + 30
        while len(webhook.received) == before and time.monotonic() < deadline:
            time.sleep(0.005)
        arrived, body = webhook.received[before]
        assert body["kind"] == "firing"
        delays.append((arrived - crossed) * 1000)
        time.sleep(1)
        send(20.0)  # resolves, ready for the next crossing
        time.sleep(2)
    webhook.stop()
    return {"sample_to_notification_ms": summary(delays), "ingest_round_trip_ms": summary(ingest)}


def main() -> None:
    with local_cloud("alerts") as cloud:
        result = evaluations_per_second(cloud.endpoints["database_url"])
        result |= notification_delay(cloud)
        write_result("alerts", result)


if __name__ == "__main__":
    main()
