"""A replay's checkpoint: a small JSON file naming the replay and the last object it finished."""

from __future__ import annotations

import json
import os
from pathlib import Path


class CheckpointMismatch(ValueError):
    """The file belongs to another replay (another source or selection)."""


class FileCheckpoint:
    def __init__(self, path: Path, replay: str) -> None:
        self.path = path
        self.replay = replay  # what the checkpoint is of: a resume must ask for the same

    def load(self) -> str | None:
        try:
            saved = json.loads(self.path.read_text())
        except FileNotFoundError:
            return None
        if saved.get("replay") != self.replay:
            raise CheckpointMismatch(
                f"{self.path} is the checkpoint of another replay ({saved.get('replay')})"
            )
        return str(saved["after"])

    def save(self, key: str) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_suffix(".tmp")
        temporary.write_text(json.dumps({"replay": self.replay, "after": key}))
        os.replace(temporary, self.path)  # never a half-written checkpoint after a crash

    def clear(self) -> None:
        self.path.unlink(missing_ok=True)
