"""Captured stdout/stderr of one execution environment.

Every line goes to the function's log file (when configured) and to a bounded in-memory buffer.
The bootstrap writes an end marker after each invocation, before it reports the result, so the
lines of one invocation can be cut out exactly even though they arrive on a separate thread.
"""

from __future__ import annotations

import threading
from collections import deque
from pathlib import Path
from typing import IO

END_MARKER = "\x1ehostpulse-end "
MAX_LINES = 5000


class ProcessLogs:
    def __init__(self, log_file: Path | None) -> None:
        self._lines: deque[str] = deque(maxlen=MAX_LINES)
        self._cond = threading.Condition()
        self._begin_index = 0
        self._appended = 0
        self._ended: dict[str, int] = {}
        self.current_request: str | None = None
        self._file: IO[str] | None = None
        if log_file is not None:
            log_file.parent.mkdir(parents=True, exist_ok=True)
            self._file = log_file.open("a", encoding="utf-8", buffering=1)

    def attach(self, stream: IO[bytes]) -> None:
        threading.Thread(target=self._pump, args=(stream,), daemon=True).start()

    def _pump(self, stream: IO[bytes]) -> None:
        for raw in iter(stream.readline, b""):
            line = raw.decode("utf-8", "replace").rstrip("\n")
            if line.startswith(END_MARKER):
                with self._cond:
                    self._ended[line[len(END_MARKER) :].strip()] = self._appended
                    self._cond.notify_all()
                continue
            self.write_line(line)

    def write_line(self, line: str) -> None:
        with self._cond:
            self._lines.append(line)
            self._appended += 1
            if self._file is not None:
                self._file.write(line + "\n")
            self._cond.notify_all()

    def begin(self, request_id: str) -> None:
        with self._cond:
            self.current_request = request_id
            self._begin_index = self._appended

    def wait_for_end(self, request_id: str, timeout: float) -> None:
        with self._cond:
            self._cond.wait_for(lambda: request_id in self._ended, timeout=timeout)

    def invocation(self, request_id: str) -> str:
        """Lines from begin() up to the invocation's end marker (or up to now, without one)."""
        with self._cond:
            end = self._ended.pop(request_id, self._appended)
            first_kept = self._appended - len(self._lines)
            start = max(self._begin_index, first_kept)
            lines = list(self._lines)[start - first_kept : end - first_kept]
        return "".join(line + "\n" for line in lines)

    def tail(self, count: int = 20) -> str:
        with self._cond:
            return "\n".join(list(self._lines)[-count:])

    def all(self) -> str:
        with self._cond:
            return "\n".join(self._lines)

    def close(self) -> None:
        with self._cond:
            if self._file is not None:
                self._file.close()
                self._file = None
