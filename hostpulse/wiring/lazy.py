"""What an execution environment keeps: a handler's components, built on first use, and a heap
settled once they are built."""

from __future__ import annotations

import gc
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")

# Allocations (less deallocations) between young collections; Python's default is 700. Reading
# a group of 100 queued batches makes about 13,000 objects, alive until the group is written:
# at 700, some 20 young collections a group walked and promoted them all, and older
# collections walked them again (measured in the aggregate benchmark, docs/benchmarks.md).
# Cyclic garbage, which only a collection frees, waits at most this many allocations.
YOUNG_COLLECTION_THRESHOLD = 20_000


def settle_heap() -> None:
    """Puts everything alive now (modules, the app, clients kept for the execution environment)
    out of the garbage collector's reach: a full collection, which a request's garbage sets off
    every few requests, then walks only what came after. Walking the API's objects at start
    made a pause in every twentieth host list (docs/benchmarks.md). A young collection
    waits for ``YOUNG_COLLECTION_THRESHOLD`` new objects."""
    gc.freeze()
    gc.set_threshold(YOUNG_COLLECTION_THRESHOLD, *gc.get_threshold()[1:])


class Lazy(Generic[T]):
    """A handler's component, built on its first use rather than at import (so a handler's
    module loads without settings) and kept for the execution environment. Tests hand in
    their own with ``override``."""

    def __init__(self, build: Callable[[], T]) -> None:
        self._build = build
        self._value: T | None = None

    def __call__(self) -> T:
        if self._value is None:
            self._value = self._build()
            settle_heap()
        return self._value

    def override(self, value: T | None) -> None:
        """Use ``value`` from now on; None builds afresh on the next use."""
        self._value = value
