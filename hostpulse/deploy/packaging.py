"""Deterministic code packages: the same sources always give the same bytes and hash."""

from __future__ import annotations

import base64
import hashlib
import io
import zipfile
from collections.abc import Iterator
from pathlib import Path

from hostpulse.deploy.model import FunctionSpec

FIXED_TIME = (1980, 1, 1, 0, 0, 0)
SKIPPED_PARTS = {"__pycache__", ".mypy_cache", ".pytest_cache"}


def _files(source: Path) -> Iterator[tuple[Path, str]]:
    if source.is_file():
        yield source, source.name
        return
    for path in sorted(source.rglob("*")):
        relative = path.relative_to(source.parent)
        if path.is_file() and not SKIPPED_PARTS & set(relative.parts) and path.suffix != ".pyc":
            yield path, relative.as_posix()


def build_package(spec: FunctionSpec, base_dir: Path) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for entry in spec.source:
            source = (base_dir / entry).resolve()
            if not source.exists():
                raise FileNotFoundError(f"function source {source} does not exist")
            for path, name in _files(source):
                info = zipfile.ZipInfo(name, date_time=FIXED_TIME)
                info.external_attr = 0o644 << 16
                info.compress_type = zipfile.ZIP_DEFLATED
                archive.writestr(info, path.read_bytes())
    return buffer.getvalue()


def code_sha256(package: bytes) -> str:
    """The hash in Lambda's own format (``CodeSha256``)."""
    return base64.b64encode(hashlib.sha256(package).digest()).decode()
