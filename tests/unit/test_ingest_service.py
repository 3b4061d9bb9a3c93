from __future__ import annotations

import gzip
import json
import time
from dataclasses import dataclass, field
from typing import Any

import pytest

from hostpulse.core.best_effort import Guard
from hostpulse.core.contract import Batch
from hostpulse.core.envelope import MAX_INLINE_BYTES, Envelope
from hostpulse.core.ports import AuthThrottle
from hostpulse.services.agents.config import AgentConfigs, Scope
from hostpulse.services.agents.control import AgentControl
from hostpulse.services.ingest.service import IngestLimits, IngestRequest, IngestService
from hostpulse.services.self_monitoring.history import PipelineMeter, minute_of
from hostpulse.simulation.host import SyntheticHost
from tests.fakes import (
    MemoryAgentConfigStore,
    MemoryAgents,
    MemoryArchive,
    MemoryAuthThrottle,
    MemoryCommandStore,
    MemoryCounters,
    MemoryHot,
    MemoryLimiter,
    MemoryQueue,
    MemoryTally,
)

TOKEN = "hp_token-of-web-1"
NOW_MS = int(time.time() * 1000)


@dataclass
class Rig:
    agents: MemoryAgents = field(default_factory=lambda: MemoryAgents({TOKEN: "web-1"}))
    limiter: MemoryLimiter = field(default_factory=MemoryLimiter)
    queue: MemoryQueue = field(default_factory=MemoryQueue)
    hot: MemoryHot = field(default_factory=MemoryHot)
    archive: MemoryArchive = field(default_factory=MemoryArchive)
    counters: MemoryCounters = field(default_factory=MemoryCounters)

    @property
    def service(self) -> IngestService:
        return IngestService(
            self.agents,
            self.limiter,
            self.queue,
            self.hot,
            self.archive,
            self.counters,
            IngestLimits(max_body_bytes=64 * 1024, max_decompressed_bytes=256 * 1024),
        )

    def with_throttle(self, throttle: AuthThrottle) -> IngestService:
        return IngestService(
            self.agents, self.limiter, self.queue, self.hot, self.archive, self.counters,
            auth_throttle=throttle,
        )  # fmt: skip

    def stored_nothing(self) -> bool:
        return not (self.queue.messages or self.hot.batches or self.archive.objects)


def batch(samples: int = 3, **overrides: Any) -> Batch:
    host = SyntheticHost("web-1", cores=2)
    made = host.batch([NOW_MS - 5000 * i for i in range(samples)][::-1])
    return made.model_copy(update=overrides)


def request(body: bytes, token: str | None = TOKEN, **headers: str) -> IngestRequest:
    all_headers = {k.replace("_", "-"): v for k, v in headers.items()}
    if token is not None:
        all_headers["authorization"] = f"Bearer {token}"
    return IngestRequest(body=body, headers=all_headers, received_ms=NOW_MS)


def valid_json(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(batch().model_dump_json())
    data.update(overrides)
    return data


def test_a_valid_gzip_batch_is_queued_then_written_to_the_hot_tier() -> None:
    rig = Rig()
    sent = batch()

    response = rig.service.ingest(
        request(gzip.compress(sent.model_dump_json().encode()), content_encoding="gzip")
    )

    assert response.status == 202
    assert response.body == {"accepted_seq": sent.seq, "samples": 3}
    [(body, key)] = rig.queue.messages
    assert key == "web-1:0"
    queued = Envelope.decode(body).inline
    assert queued is not None and Batch.model_validate_json(queued) == sent
    assert rig.hot.batches == [sent]
    assert rig.archive.journal == []  # aggregation archives it, off the agent's path
    assert rig.counters.counts["batches_accepted"] == 1


def huge_gzip() -> bytes:
    return gzip.compress(b" " * (2 * 1024 * 1024))


@pytest.mark.parametrize(
    ("body", "headers", "token", "status", "error"),
    [
        (b"{not json", {}, TOKEN, 400, "bad_json"),
        (b"\x1f\x8bnot gzip at all", {"content_encoding": "gzip"}, TOKEN, 400, "bad_gzip"),
        # mtime=0: a gzip header holds the time, and pytest's id of these bytes must be the same
        # in every worker of a parallel run, which collects at its own second.
        (gzip.compress(b"{}", mtime=0)[:-6], {"content_encoding": "gzip"}, TOKEN, 400, "bad_gzip"),
        (huge_gzip(), {"content_encoding": "gzip"}, TOKEN, 413, "too_large"),
        (b" " * (65 * 1024), {}, TOKEN, 413, "too_large"),
        (b"{}", {"content_encoding": "br"}, TOKEN, 415, "unsupported_encoding"),
        (json.dumps(valid_json(seq="7")).encode(), {}, TOKEN, 422, "invalid_batch"),
        (json.dumps(valid_json(samples=[])).encode(), {}, TOKEN, 422, "invalid_batch"),
        (json.dumps(valid_json(colour="blue")).encode(), {}, TOKEN, 422, "invalid_batch"),
        (
            json.dumps(valid_json()).replace('"percent": ', '"percent": NaN, "x": ', 1).encode(),
            {},
            TOKEN,
            422,
            "invalid_batch",
        ),
        (
            json.dumps(valid_json())
            .replace('"percent": ', '"percent": Infinity, "x": ', 1)
            .encode(),
            {},
            TOKEN,
            422,
            "invalid_batch",
        ),
        (batch(samples=1).model_dump_json().encode(), {}, None, 401, "unauthorized"),
        (batch(samples=1).model_dump_json().encode(), {}, "hp_unknown", 401, "unauthorized"),
        (batch(agent_id="db-1").model_dump_json().encode(), {}, TOKEN, 403, "agent_mismatch"),
    ],
)
def test_bad_input_gets_its_4xx_and_nothing_is_stored(
    body: bytes, headers: dict[str, str], token: str | None, status: int, error: str
) -> None:
    rig = Rig()

    response = rig.service.ingest(request(body, token, **headers))

    assert (response.status, response.body["error"]) == (status, error)
    assert response.body["message"]
    assert rig.stored_nothing()
    assert rig.counters.counts[f"rejected_{status}"] == 1


@pytest.mark.parametrize(
    ("offset_ms", "error"),
    [(6 * 60 * 1000, "timestamp_in_future"), (-25 * 3600 * 1000, "timestamp_too_old")],
)
def test_timestamps_outside_the_window_are_refused(offset_ms: int, error: str) -> None:
    rig = Rig()
    late = SyntheticHost("web-1").batch([NOW_MS + offset_ms])

    response = rig.service.ingest(request(late.model_dump_json().encode()))

    assert (response.status, response.body["error"]) == (422, error)
    assert rig.stored_nothing()


def test_an_agents_custom_series_past_the_hosts_budget_are_left_out_and_counted() -> None:
    rig = Rig()
    service = rig.service
    service.limits = IngestLimits(series_per_host=2)
    sent = batch(1)
    sent.samples[0].custom.update({"a": 1.0, "b": 2.0, "c": 3.0})
    response = service.ingest(
        request(gzip.compress(sent.model_dump_json().encode()), content_encoding="gzip")
    )
    assert response.status == 202, response.body
    assert response.body["series_over_budget"] == 1
    queued = Batch.model_validate_json(Envelope.decode(rig.queue.messages[0][0]).inline or b"")
    assert queued.samples[0].custom == {"a": 1.0, "b": 2.0}
    assert queued.samples[0].cpu == sent.samples[0].cpu  # the host's own figures untouched


def test_over_the_rate_gets_429_with_retry_after_and_nothing_stored() -> None:
    rig = Rig(limiter=MemoryLimiter(wait_s=2.2))

    response = rig.service.ingest(request(batch().model_dump_json().encode()))

    assert response.status == 429
    assert response.headers == {"Retry-After": "3"}
    assert rig.stored_nothing()


def test_while_the_backend_drains_the_answer_is_503_and_nothing_is_stored() -> None:
    rig = Rig(limiter=MemoryLimiter(wait_s=-1))

    response = rig.service.ingest(request(batch().model_dump_json().encode()))

    assert response.status == 503
    assert "shutting down" in response.body["message"]
    assert rig.stored_nothing()


def test_without_the_queue_the_answer_is_503_and_nothing_else_is_written() -> None:
    rig = Rig(queue=MemoryQueue(down=True))

    response = rig.service.ingest(request(batch().model_dump_json().encode()))

    assert response.status == 503
    assert "Retry-After" in response.headers
    assert rig.stored_nothing()


def test_without_the_rate_limiter_batches_are_accepted_and_counted() -> None:
    class Down:
        def acquire(self, agent_id: str, batches: int = 1) -> float:
            raise ConnectionError("redis down")

    rig = Rig()
    service = IngestService(rig.agents, Down(), rig.queue, rig.hot, rig.archive, rig.counters)

    response = service.ingest(request(batch().model_dump_json().encode()))

    assert response.status == 202 and len(rig.queue.messages) == 1
    assert rig.counters.counts["rate_limiter_failures"] == 1


def test_after_a_redis_failure_ingest_leaves_redis_alone_for_a_while() -> None:
    now = [0.0]
    rig = Rig(hot=MemoryHot(down=True))
    guard = Guard(rig.counters, cooldown_s=10, clock=lambda: now[0])
    service = IngestService(
        rig.agents, rig.limiter, rig.queue, rig.hot, rig.archive, rig.counters, redis_guard=guard
    )
    body = batch().model_dump_json().encode()

    assert service.ingest(request(body)).status == 202  # the limiter answered, the write failed
    limiter_calls = len(rig.limiter.calls)
    now[0] = 5.0
    assert service.ingest(request(batch(seq=1).model_dump_json().encode())).status == 202
    assert len(rig.limiter.calls) == limiter_calls  # skipped while Redis is away
    now[0] = 11.0
    assert service.ingest(request(batch(seq=2).model_dump_json().encode())).status == 202
    assert len(rig.limiter.calls) == limiter_calls + 1  # tried again after the cool-down
    assert rig.counters.counts["hot_tier_failures"] == 2
    assert len(rig.queue.messages) == 3


def test_a_redis_failure_still_accepts_and_is_counted() -> None:
    rig = Rig(hot=MemoryHot(down=True))

    response = rig.service.ingest(request(batch().model_dump_json().encode()))

    assert response.status == 202
    assert len(rig.queue.messages) == 1
    assert rig.counters.counts["hot_tier_failures"] == 1


def test_a_batch_that_fits_sqs_does_not_need_the_archive() -> None:
    rig = Rig(archive=MemoryArchive(down=True))

    response = rig.service.ingest(request(batch().model_dump_json().encode()))

    assert response.status == 202
    assert len(rig.queue.messages) == 1
    assert rig.archive.journal == []


def big_batch() -> Batch:
    return SyntheticHost("web-1", cores=64, processes=200).batch(
        [NOW_MS - 1000 * i for i in range(60)][::-1]
    )


def gzipped(sent: Batch) -> IngestRequest:
    return request(gzip.compress(sent.model_dump_json().encode()), content_encoding="gzip")


def test_a_batch_too_big_for_sqs_is_archived_first_and_queued_by_reference() -> None:
    rig = Rig()
    rig_limits = IngestLimits()
    service = IngestService(
        rig.agents, rig.limiter, rig.queue, rig.hot, rig.archive, rig.counters, rig_limits
    )
    big = big_batch()
    assert len(Envelope(inline=big.model_dump_json().encode()).encode()) > MAX_INLINE_BYTES

    response = service.ingest(gzipped(big))

    assert response.status == 202
    [(body, _)] = rig.queue.messages
    envelope = Envelope.decode(body)
    assert envelope.inline is None and envelope.archive_key in rig.archive.objects
    assert rig.archive.journal == [f"put {envelope.archive_key}"]
    assert envelope.archive_key.endswith("/web-1/000000000000.json.gz")


def test_a_big_batch_whose_archive_is_down_is_not_accepted() -> None:
    rig = Rig(archive=MemoryArchive(down=True))
    service = IngestService(
        rig.agents, rig.limiter, rig.queue, rig.hot, rig.archive, rig.counters, IngestLimits()
    )
    response = service.ingest(gzipped(big_batch()))

    assert response.status == 503
    assert rig.queue.messages == []


def test_the_seed_snapshot_lands_in_the_same_path() -> None:
    rig = Rig()
    snapshot = {
        "timestamp": NOW_MS / 1000,
        "total_cpu_percent": 93.5,
        "per_core_cpu_percent": [90.0, 97.0],
        "system_memory_total_mb": 8192,
        "system_memory_used_mb": 4096,
        "top_processes": [
            {
                "pid": 42,
                "name": "stress",
                "cpu_percent": 180.0,
                "memory_mb": 12.5,
                "thread_count": 2,
                "io_read_mb": 1.0,
                "io_write_mb": 0.5,
                "handle_count": 9,
            }
        ],
    }
    seed_request = IngestRequest(json.dumps(snapshot).encode(), {"x-agent-token": TOKEN}, NOW_MS)

    response = rig.service.ingest_seed(seed_request)

    assert response.status == 202
    [queued] = rig.hot.batches
    assert queued.host.hostname == "web-1"
    assert queued.seq == int(NOW_MS / 1000 * 1000)
    sample = queued.samples[0]
    assert sample.cpu is not None and sample.cpu.per_core == [90.0, 97.0]
    assert sample.memory is not None and sample.memory.percent == 50.0
    process = sample.processes[0]
    assert (process.rss_bytes, process.open_files, process.read_bytes_total) == (
        int(12.5 * 1024 * 1024),
        9,
        1024 * 1024,
    )


def test_a_bad_seed_snapshot_is_refused() -> None:
    rig = Rig()
    bad = IngestRequest(
        b'{"timestamp": "yesterday", "total_cpu_percent": 5}', {"x-agent-token": TOKEN}, NOW_MS
    )

    response = rig.service.ingest_seed(bad)

    assert (response.status, response.body["error"]) == (422, "invalid_snapshot")
    assert rig.stored_nothing()


def test_a_token_writes_only_the_hosts_bound_to_it() -> None:
    rig = Rig()
    rig.agents.tokens["hp_b"] = "web-2"  # agent B, with its own agent id, claims web-1's host
    takeover = batch().model_copy(update={"agent_id": "web-2"})

    response = rig.service.ingest(request(takeover.model_dump_json().encode(), token="hp_b"))

    assert response.status == 403
    assert response.body["error"] == "host_not_allowed"
    assert rig.stored_nothing()


def test_a_token_bound_to_a_pattern_writes_every_host_it_matches() -> None:
    rig = Rig()
    rig.agents.hosts["web-1"] = ("web-*",)
    accepted = batch()
    other = batch().model_copy(
        update={"host": accepted.host.model_copy(update={"hostname": "WEB-9"}), "seq": 7}
    )

    assert rig.service.ingest(request(accepted.model_dump_json().encode())).status == 202
    assert rig.service.ingest(request(other.model_dump_json().encode())).status == 202
    refused = batch().model_copy(
        update={"host": accepted.host.model_copy(update={"hostname": "db-1"}), "seq": 8}
    )
    assert rig.service.ingest(request(refused.model_dump_json().encode())).status == 403
    assert len(rig.queue.messages) == 2


def test_the_seed_endpoint_binds_its_agent_to_its_own_host_too() -> None:
    rig = Rig()
    rig.agents.hosts["web-1"] = ("db-*",)  # an operator moved the binding away
    snapshot = {"timestamp": NOW_MS / 1000, "total_cpu_percent": 5.0}

    response = rig.service.ingest_seed(request(json.dumps(snapshot).encode()))

    assert response.status == 403
    assert rig.stored_nothing()


def test_guessing_tokens_is_throttled_per_address_before_any_lookup() -> None:
    rig, throttle = Rig(), MemoryAuthThrottle(limit=3)
    service = rig.with_throttle(throttle)
    body = batch().model_dump_json().encode()

    def from_address(source: str, token: str) -> int:
        headers = {"authorization": f"Bearer {token}"}
        return service.ingest(IngestRequest(body, headers, NOW_MS, source)).status

    guesses = [from_address("198.51.100.9", f"hp_guess{i}") for i in range(10)]

    assert guesses == [401, 401, 401] + [429] * 7
    assert rig.agents.lookups == 3, "a throttled guess costs no look-up"
    assert from_address("192.0.2.1", TOKEN) == 202, "other addresses are not affected"
    refused = service.ingest(
        IngestRequest(body, {"authorization": "Bearer x"}, NOW_MS, "198.51.100.9")
    )
    assert refused.headers["Retry-After"] == "60"


def test_a_token_known_to_be_active_is_not_throttled_nor_looked_up_again() -> None:
    rig, throttle = Rig(), MemoryAuthThrottle(limit=3)
    service = rig.with_throttle(throttle)
    body = batch().model_dump_json().encode()
    shared = "203.0.113.50"  # one NAT address: an agent and someone guessing behind it

    def send(token: str) -> int:
        headers = {"authorization": f"Bearer {token}"}
        return service.ingest(IngestRequest(body, headers, NOW_MS, shared)).status

    first = send(TOKEN)
    asked_after_first = throttle.asked
    guesses = [send(f"hp_guess{i}") for i in range(5)]
    again = [send(TOKEN) for _ in range(3)]

    assert first == 202 and asked_after_first == 1
    assert guesses == [401, 401, 401, 429, 429]
    assert again == [202, 202, 202], "the agent behind the address keeps sending"
    assert throttle.asked == asked_after_first + 5, "a known token costs no throttle check"
    assert rig.agents.lookups == 1 + 3


def test_without_the_throttles_store_tokens_are_still_checked() -> None:
    rig = Rig()

    class Broken:
        def blocked_for(self, source: str) -> float:
            raise ConnectionError("redis down")

        def failed(self, source: str) -> None:
            raise ConnectionError("redis down")

        attempt = blocked_for
        forgive = failed

    service = rig.with_throttle(Broken())
    body = batch().model_dump_json().encode()

    assert service.ingest(request(body)).status == 202
    assert service.ingest(request(body, token="hp_wrong")).status == 401
    # The first failure is paid once; then Redis is left alone for a while (skipped, counted).
    assert rig.counters.counts["auth_throttle_failures"] == 1
    assert rig.counters.counts["redis_skipped"] >= 1


def test_every_answer_is_tallied_for_the_pipeline_history_and_a_tally_away_costs_nothing() -> None:
    rig, tally, now = Rig(), MemoryTally(), [0.0]
    service = IngestService(
        rig.agents, rig.limiter, rig.queue, rig.hot, rig.archive, rig.counters,
        redis_guard=Guard(rig.counters, cooldown_s=10, clock=lambda: now[0]),
        meter=PipelineMeter(tally),
    )  # fmt: skip

    assert service.ingest(request(batch().model_dump_json().encode())).status == 202
    assert service.ingest(request(b"{", token="hp_unknown")).status == 401
    minute = tally.read(minute_of(NOW_MS))
    assert (minute["ingest_batches"], minute["ingest_samples"], minute["ingest_refused"]) == (
        1, 3, 1,
    )  # fmt: skip
    assert minute["answers"] == 2 and minute["latency_ms_sum"] > 0

    tally.down = True  # Redis away: the batch is still accepted, the tally skipped after once
    for seq in (1, 2, 3):
        assert service.ingest(request(batch(seq=seq).model_dump_json().encode())).status == 202
    assert tally.calls == 3
    assert rig.counters.counts["pipeline_meter_failures"] == 1


def test_a_fleet_tokens_members_each_write_with_their_own_sequence() -> None:
    agents = MemoryAgents({"hp_fleet": "nodes"}, hosts={"nodes": ("node-*",)}, fleets={"nodes"})
    rig = Rig(agents=agents)

    def from_member(agent_id: str, host: str) -> int:
        batch = (
            SyntheticHost(host, cores=2).batch([NOW_MS]).model_copy(update={"agent_id": agent_id})
        )
        return rig.service.ingest(
            request(batch.model_dump_json().encode(), token="hp_fleet")
        ).status

    assert from_member("nodes.node-1", "node-1") == 202
    assert from_member("nodes.node-2", "node-2") == 202  # seq 0 again: another agent
    assert [key for _, key in rig.queue.messages] == ["nodes.node-1:0", "nodes.node-2:0"]
    assert from_member("nodes-evil.node-1", "node-1") == 403
    assert from_member("other", "node-1") == 403
    assert from_member("nodes.node-3", "db-1") == 403  # members write the fleet's hosts only
    assert len(rig.queue.messages) == 2


def configured(
    rig: Rig, store: MemoryAgentConfigStore, commands: MemoryCommandStore | None = None
) -> IngestService:
    control = AgentControl(store, commands or MemoryCommandStore(), ttl_s=0)
    return IngestService(
        rig.agents, rig.limiter, rig.queue, rig.hot, rig.archive, rig.counters, control=control
    )


def test_an_accepted_batch_names_the_central_configuration_version_its_host_should_run() -> None:
    rig, store = Rig(), MemoryAgentConfigStore()
    AgentConfigs(store).set(Scope("host", "web-2"), {"top_n": "3"}, "ops")
    AgentConfigs(store).set(Scope("host", "web-1"), {"top_n": "4"}, "ops")
    service = configured(rig, store)

    answer = service.ingest(request(batch().model_dump_json().encode()))

    assert answer.status == 202 and answer.body["config_version"] == 2
    store.failing = True
    service = configured(rig, store)
    unknown = service.ingest(request(batch(seq=1).model_dump_json().encode()))
    assert unknown.status == 202 and "config_version" not in unknown.body, "no read: not said"


def sync_request(token: str | None = TOKEN, **asked: Any) -> IngestRequest:
    return request(json.dumps({"hostname": "web-1", **asked}).encode(), token)


def test_an_agent_syncs_the_settings_of_its_host_and_groups() -> None:
    rig, store = Rig(), MemoryAgentConfigStore()
    AgentConfigs(store).set(Scope("label", "role=web"), {"interval_s": "2"}, "ops")
    AgentConfigs(store).set(Scope("host", "web-1"), {"top_n": "4"}, "ops")
    service = configured(rig, store)

    answer = service.sync(sync_request(labels={"role": "web"}, config_version=None))
    other_group = service.sync(sync_request(labels={"role": "db"}))

    assert answer.status == 200
    assert answer.body == {
        "config_version": 2,
        "settings": {"interval_s": 2.0, "top_n": 4},
        "commands": [],
    }
    assert other_group.body == {"config_version": 2, "settings": {"top_n": 4}, "commands": []}
    assert rig.stored_nothing(), "a sync is not a batch"


@pytest.mark.parametrize(
    ("sent", "status", "error"),
    [
        (sync_request(token=None), 401, "unauthorized"),
        (sync_request(token="hp_unknown"), 401, "unauthorized"),
        (sync_request(hostname="db-1"), 403, "host_not_allowed"),
        (sync_request(labels={"role": "\u202e"}), 422, "invalid_sync"),
        (request(b"{", TOKEN), 400, "bad_json"),
    ],
)
def test_a_sync_the_token_does_not_allow_or_that_is_malformed_is_refused(
    sent: IngestRequest, status: int, error: str
) -> None:
    answer = configured(Rig(), MemoryAgentConfigStore()).sync(sent)

    assert (answer.status, answer.body["error"]) == (status, error)


def test_syncs_are_rate_limited_per_agent_and_host_apart_from_batches() -> None:
    rig = Rig(limiter=MemoryLimiter(wait_s=3.0))
    service = configured(rig, MemoryAgentConfigStore())

    answer = service.sync(sync_request())

    # Before, a sync asked no limiter: 120 in 10 s were all answered.
    assert answer.status == 429 and answer.headers["Retry-After"] == "3"
    assert rig.limiter.calls == ["sync:web-1:web-1"], "a budget of its own, not the batches'"


def test_a_sync_without_the_configuration_store_asks_the_agent_to_retry() -> None:
    answer = configured(Rig(), MemoryAgentConfigStore(failing=True)).sync(sync_request())

    assert answer.status == 503 and answer.headers["Retry-After"] == "5"


def test_a_command_is_announced_handed_over_by_the_sync_and_acknowledged_once() -> None:
    rig, commands = Rig(), MemoryCommandStore()
    service = configured(rig, MemoryAgentConfigStore(), commands)
    commands.issue("web-2", "pause", "ops")
    issued = commands.issue("web-1", "diagnostics", "ops")

    told = service.ingest(request(batch().model_dump_json().encode()))
    handed = service.sync(sync_request())
    acked = service.sync(sync_request(acks=[{"id": issued.id, "result": {"spool_bytes": 0}}]))
    again = service.sync(sync_request(acks=[{"id": issued.id, "result": {"spool_bytes": 9}}]))
    other_host = service.sync(sync_request(acks=[{"id": 1, "result": {}}]))

    assert told.body["command"] == issued.id
    assert handed.body["commands"] == [{"id": issued.id, "kind": "diagnostics"}]
    assert acked.body["commands"] == [] and again.status == other_host.status == 200
    assert commands.commands[1].result == {"spool_bytes": 0}, "the first acknowledgement"
    assert commands.commands[0].acked_at is None, "web-1's token acknowledges no web-2 command"
    after = service.ingest(request(batch(seq=1).model_dump_json().encode()))
    assert "command" not in after.body
