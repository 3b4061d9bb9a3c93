"""LocalStack's own virtual environment: Python 3.13, the committed lock and our executor.

LocalStack 2026.3.0 imports ``warnings.deprecated`` (new in 3.13) and its pinned dependencies
cannot be resolved for 3.14, so the environment needs exactly a 3.13 interpreter.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import subprocess
from collections.abc import Iterable, Iterator
from pathlib import Path

from hostpulse.localcloud.errors import LocalCloudError
from hostpulse.localcloud.settings import PROJECT_ROOT

LOCK_FILE = PROJECT_ROOT / "localstack-runtime" / "localstack.lock"
EXECUTOR_DIR = PROJECT_ROOT / "localstack-runtime" / "executor"
REQUIRED = (3, 13)
PROBE = f"import sys, warnings; assert sys.version_info[:2] == {REQUIRED!r}; warnings.deprecated"


def candidate_interpreters(configured: Path | None) -> Iterator[Path]:
    if configured is not None:
        yield configured
        return
    major, minor = REQUIRED
    name = f"python{major}.{minor}"
    for directory in os.environ.get("PATH", "").split(os.pathsep):
        if directory and "shims" not in directory:  # pyenv shims refuse inactive versions
            yield Path(directory) / name
    pyenv_root = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv"))
    yield from sorted(pyenv_root.glob(f"versions/{major}.{minor}*/bin/{name}"), reverse=True)
    for prefix in ("/usr/local/bin", "/usr/bin", "/opt/homebrew/bin"):
        yield Path(prefix) / name
    yield from sorted(
        Path.home().glob(f".local/share/uv/python/cpython-{major}.{minor}*/bin/{name}")
    )


def is_suitable(python: Path) -> bool:
    if not python.exists():
        return False
    try:
        result = subprocess.run(
            [str(python), "-c", PROBE], capture_output=True, timeout=30, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return result.returncode == 0


def find_interpreter(configured: Path | None, candidates: Iterable[Path] | None = None) -> Path:
    for python in candidates if candidates is not None else candidate_interpreters(configured):
        if is_suitable(python):
            return python
    if configured is not None:
        raise LocalCloudError(
            f"HOSTPULSE_LOCALSTACK_PYTHON={configured} is not a working Python 3.13",
            "point it at a Python 3.13 interpreter or unset it to search",
        )
    raise LocalCloudError(
        "LocalStack 2026.3.0 needs Python 3.13 and none was found",
        "install one (for example `pyenv install 3.13`) or set HOSTPULSE_LOCALSTACK_PYTHON "
        "to its path",
    )


def uv_binary() -> str:
    from uv import find_uv_bin

    return str(find_uv_bin())


class LocalStackEnvironment:
    """Builds the virtual environment once and rebuilds it when its inputs change."""

    def __init__(self, root: Path, configured_python: Path | None) -> None:
        self.root = root
        self.venv = root / "venv"
        self.stamp = root / "venv.stamp"
        self.configured_python = configured_python

    @property
    def python(self) -> Path:
        return self.venv / "bin" / "python"

    def _fingerprint(self, interpreter: Path) -> str:
        digest = hashlib.sha256(LOCK_FILE.read_bytes())
        digest.update((EXECUTOR_DIR / "pyproject.toml").read_bytes())
        # The executor is installed editable: an environment built from another checkout
        # points at that checkout's files, which may be gone.
        digest.update(str(EXECUTOR_DIR.resolve()).encode())
        digest.update(str(interpreter.resolve()).encode())
        return digest.hexdigest()

    def ensure(self) -> Path:
        self.root.mkdir(parents=True, exist_ok=True)
        # Shared by every state folder of a checkout: two clouds starting at once (the test
        # suite's parallel workers) build it once, the second waiting for the first.
        with (self.root / "build.lock").open("w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            return self._ensure()

    def _ensure(self) -> Path:
        if self.python.exists() and self.stamp.exists():
            # Fast path: the interpreter search costs a subprocess per candidate.
            recorded = self.stamp.read_text().split("\n", 1)
            if (
                len(recorded) == 2
                and is_suitable(Path(recorded[1]))
                and recorded[0] == self._fingerprint(Path(recorded[1]))
            ):
                return self.python
        interpreter = find_interpreter(self.configured_python)
        fingerprint = self._fingerprint(interpreter)
        shutil.rmtree(self.venv, ignore_errors=True)
        self.root.mkdir(parents=True, exist_ok=True)
        uv = uv_binary()
        self._run([uv, "venv", "--quiet", "--python", str(interpreter), str(self.venv)])
        install = [uv, "pip", "install", "--quiet", "--python", str(self.python)]
        self._run([*install, "--require-hashes", "-r", str(LOCK_FILE)])
        # Editable: a change to the executor takes effect at the next start of LocalStack.
        self._run([*install, "--no-deps", "-e", str(EXECUTOR_DIR)])
        self.stamp.write_text(f"{fingerprint}\n{interpreter}")
        return self.python

    @staticmethod
    def _run(argv: list[str]) -> None:
        result = subprocess.run(argv, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            detail = (result.stderr or result.stdout).strip().splitlines()[-3:]
            raise LocalCloudError(
                f"building LocalStack's environment failed: {' '.join(detail)}",
                "check that the package index is reachable and run `hostpulse up` again",
            )
