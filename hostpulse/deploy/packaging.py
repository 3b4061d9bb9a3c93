"""Deterministic code packages: the same sources and wheels always give the same bytes and hash.

A package holds a function's sources and, for real AWS, its dependencies unpacked from
manylinux wheels built for the stack's runtime and an architecture. Entries are sorted, dated
1980-01-01 and given fixed permissions, so the zip depends on nothing but its inputs.
"""

from __future__ import annotations

import base64
import hashlib
import io
import re
import subprocess
import sys
import zipfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from hostpulse.deploy.model import FunctionSpec, Stack

FIXED_TIME = (1980, 1, 1, 0, 0, 0)
SKIPPED_PARTS = {"__pycache__", ".mypy_cache", ".pytest_cache"}
Architecture = Literal["x86_64", "arm64"]
# Lambda's Python runtimes are Amazon Linux 2023 (glibc 2.34): any manylinux wheel up to that.
MANYLINUX = ("manylinux2014", "manylinux_2_17", "manylinux_2_28", "manylinux_2_34")
MACHINE = {"x86_64": "x86_64", "arm64": "aarch64"}


class PackagingError(RuntimeError):
    """A package cannot be built; the message says what is missing."""


@dataclass(frozen=True)
class Target:
    """Where the package runs: a Python version and an architecture."""

    python_version: str
    architecture: Architecture = "x86_64"

    @classmethod
    def for_runtime(cls, runtime: str, architecture: Architecture) -> Target:
        match = re.fullmatch(r"python(3\.\d+)", runtime)
        if match is None:
            raise PackagingError(f"runtime {runtime!r} is not a Python runtime")
        return cls(match.group(1), architecture)

    def pip_arguments(self) -> list[str]:
        machine = MACHINE[self.architecture]
        abi = f"cp{self.python_version.replace('.', '')}"
        arguments = ["--python-version", self.python_version, "--implementation", "cp"]
        for tag in (abi, "abi3", "none"):
            arguments += ["--abi", tag]
        for platform in MANYLINUX:
            arguments += ["--platform", f"{platform}_{machine}"]
        return arguments


def fetch_wheels(requirements: Path, target: Target, cache: Path) -> list[Path]:
    """The wheels the requirements pin, for the target, downloaded once into the cache and
    checked against the requirements' hashes by pip."""
    lock_hash = hashlib.sha256(requirements.read_bytes()).hexdigest()[:16]
    folder = cache / lock_hash / f"cp{target.python_version}-{target.architecture}"
    done = folder / ".complete"
    if not done.exists():
        folder.mkdir(parents=True, exist_ok=True)
        command = [
            sys.executable,
            "-m",
            "pip",
            "download",
            "-qq",
            "--disable-pip-version-check",
            "--no-deps",
            "--only-binary=:all:",
            "--require-hashes",
            "--requirement",
            str(requirements),
            "--dest",
            str(folder),
            *target.pip_arguments(),
        ]
        run = subprocess.run(command, capture_output=True, text=True, check=False)
        if run.returncode != 0:
            raise PackagingError(
                f"no wheels for Python {target.python_version} on {target.architecture}: "
                f"{run.stderr.strip() or run.stdout.strip()}"
            )
        done.touch()
    return sorted(folder.glob("*.whl"))


def _source_files(source: Path) -> Iterator[tuple[str, bytes]]:
    if source.is_file():
        yield source.name, source.read_bytes()
        return
    for path in sorted(source.rglob("*")):
        relative = path.relative_to(source.parent)
        if path.is_file() and not SKIPPED_PARTS & set(relative.parts) and path.suffix != ".pyc":
            yield relative.as_posix(), path.read_bytes()


def _wheel_files(wheel: Path) -> Iterator[tuple[str, bytes]]:
    """A wheel's files where an installer would put them: its purelib and platlib data at the
    top, scripts and headers left out (a function runs no console scripts)."""
    with zipfile.ZipFile(wheel) as archive:
        for member in sorted(archive.namelist()):
            if member.endswith("/"):
                continue
            name = member
            first, _, rest = member.partition("/")
            if first.endswith(".data"):
                kind, _, name = rest.partition("/")
                if kind not in ("purelib", "platlib"):
                    continue
            if SKIPPED_PARTS & set(name.split("/")) or name.endswith(".pyc"):
                continue
            yield name, archive.read(member)


def build_package(spec: FunctionSpec, base_dir: Path, wheels: Sequence[Path] = ()) -> bytes:
    files: dict[str, bytes] = {}

    def add(entries: Iterable[tuple[str, bytes]], origin: str) -> None:
        for name, data in entries:
            if name in files:
                raise PackagingError(f"{name} comes twice into the package (again from {origin})")
            files[name] = data

    for entry in spec.source:
        source = (base_dir / entry).resolve()
        if not source.exists():
            raise FileNotFoundError(f"function source {source} does not exist")
        add(_source_files(source), str(source))
    for wheel in wheels:
        add(_wheel_files(wheel), wheel.name)

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name in sorted(files):
            info = zipfile.ZipInfo(name, date_time=FIXED_TIME)
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, files[name])
    return buffer.getvalue()


def code_sha256(package: bytes) -> str:
    """The hash in Lambda's own format (``CodeSha256``, Terraform's ``filebase64sha256``)."""
    return base64.b64encode(hashlib.sha256(package).digest()).decode()


@dataclass(frozen=True)
class PackageReport:
    function: str
    path: Path
    size: int
    sha256: str  # base64, as Lambda and Terraform report it


def package_stack(
    stack: Stack, out_dir: Path, wheels: Sequence[Path], only: Sequence[str] = ()
) -> list[PackageReport]:
    """Every function's zip (or those named in ``only``) as ``<out_dir>/<function>.zip``."""
    unknown = sorted(set(only) - set(stack.functions))
    if unknown:
        raise PackagingError(f"the description has no function {', '.join(unknown)}")
    out_dir.mkdir(parents=True, exist_ok=True)
    reports = []
    for name, spec in stack.functions.items():
        if only and name not in only:
            continue
        package = build_package(spec, stack.base_dir, wheels)
        path = out_dir / f"{name}.zip"
        path.write_bytes(package)
        reports.append(PackageReport(name, path, len(package), code_sha256(package)))
    return reports
