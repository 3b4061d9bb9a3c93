"""The series budget: a host's distinct custom series (OTLP's, remote write's, an agent's own)
are bounded, so that a sender with a label per request id cannot grow the series catalogue,
its indexes and every query's catalogue read without end. Series past the budget are left out
and counted; the host's other series are stored as ever."""

from __future__ import annotations

from collections.abc import Sequence

from hostpulse.core.contract import Batch


class MemorySeriesBudget:
    """The budget in this process' memory: for tests, and where there is no Redis."""

    def __init__(self) -> None:
        self.known: dict[str, set[str]] = {}

    def admit(self, host: str, names: Sequence[str], limit: int) -> list[bool]:
        known = self.known.setdefault(host, set())
        admitted = []
        for name in names:
            if name not in known and len(known) < limit:
                known.add(name)
            admitted.append(name in known)
        return admitted


def without(batch: Batch, refused: set[str]) -> tuple[Batch | None, int]:
    """The batch without the refused series (None when nothing else is left), and how many
    values went."""
    samples, dropped = [], 0
    for sample in batch.samples:
        kept = {k: v for k, v in sample.custom.items() if k not in refused}
        dropped += len(sample.custom) - len(kept)
        if kept or sample.model_fields_set - {"ts_ms", "custom"}:
            samples.append(sample.model_copy(update={"custom": kept}))
    if not samples:
        return None, dropped
    return batch.model_copy(update={"samples": samples}), dropped
