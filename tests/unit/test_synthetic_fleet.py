from __future__ import annotations

import gzip
import json
import threading
from dataclasses import dataclass, field

from hostpulse.core.contract import Batch
from hostpulse.simulation.fleet import Reply, SimulatedAgent, Simulation
from hostpulse.simulation.host import SyntheticHost


@dataclass
class ScriptedTransport:
    """Answers from a script, then 202; remembers every attempt's sequence number."""

    script: list[int | bytes | Exception]
    seqs: list[int] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def post(self, url: str, body: bytes, headers: dict[str, str]) -> Reply:
        with self.lock:
            seq = Batch.model_validate_json(gzip.decompress(body)).seq
            self.seqs.append(seq)
            step = self.script.pop(0) if self.script else 202
        if isinstance(step, Exception):
            raise step
        if isinstance(step, bytes):  # a 403 from something in between, not from ingest
            return Reply(403, {}, step)
        answer = {"accepted_seq": seq} if step == 202 else {"error": "refused"}
        return Reply(step, {"Retry-After": "0"} if step == 429 else {}, json.dumps(answer).encode())


def run(
    transport: ScriptedTransport, duration_s: float = 0.05, give_up_after_s: float = 120.0
) -> tuple[Simulation, list[Batch]]:
    accepted: list[Batch] = []
    simulation = Simulation(
        [SimulatedAgent(SyntheticHost("sim-1"), "token")],
        "http://ingest",
        transport,
        interval_s=0.01,
        send_every_s=10,
        duration_s=duration_s,
        on_accepted=accepted.append,
        give_up_after_s=give_up_after_s,
    )
    simulation.run()
    return simulation, accepted


def test_retries_keep_the_sequence_number_and_429_is_obeyed() -> None:
    transport = ScriptedTransport([429, 503, ConnectionError("refused"), 202])

    simulation, accepted = run(transport)

    assert transport.seqs == [0, 0, 0, 0]
    assert [b.seq for b in accepted] == [0]
    summary = simulation.stats.summary()
    assert (summary["retries"], summary["rate_limited"], summary["batches"]) == (3, 1, 1)
    assert summary["failures"] == {"http_429": 1, "http_503": 1, "ConnectionError": 1}


def test_a_refused_batch_is_not_retried() -> None:
    transport = ScriptedTransport([401])

    simulation, accepted = run(transport)

    assert transport.seqs == [0]
    assert accepted == []
    assert simulation.stats.rejected == 1


def test_a_batch_refused_until_the_deadline_is_counted_as_given_up() -> None:
    transport = ScriptedTransport([503] * 1000)

    simulation, accepted = run(transport, duration_s=0.02, give_up_after_s=0.3)

    stats = simulation.stats
    assert (stats.batches, stats.given_up, accepted) == (0, 1, [])
    assert stats.retries >= 1


def test_a_refusal_from_something_in_between_is_retried_not_given_up() -> None:
    # API Gateway answers 403 for a route not deployed yet (LocalStack restarting).
    transport = ScriptedTransport([b'{"message": "Missing Authentication Token"}', 202])

    simulation, accepted = run(transport)

    assert transport.seqs == [0, 0]
    assert [b.seq for b in accepted] == [0]
    assert simulation.stats.rejected == 0
    assert simulation.stats.failures == {"http_403_not_ingest": 1}
