from __future__ import annotations

import zipfile
from io import BytesIO
from pathlib import Path

from hostpulse.deploy.model import FunctionSpec
from hostpulse.deploy.packaging import build_package, code_sha256


def make_source(root: Path) -> FunctionSpec:
    package = root / "pkg"
    (package / "__pycache__").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "handler.py").write_text("def handle(event, context):\n    return 1\n")
    (package / "__pycache__" / "handler.cpython-311.pyc").write_bytes(b"\0")
    return FunctionSpec(handler="pkg.handler.handle", source=["pkg"])


def test_same_sources_give_the_same_bytes(tmp_path: Path) -> None:
    spec = make_source(tmp_path)

    first = build_package(spec, tmp_path)
    (tmp_path / "pkg" / "handler.py").touch()  # a new mtime alone changes nothing
    second = build_package(spec, tmp_path)

    assert first == second
    assert code_sha256(first) == code_sha256(second)


def test_a_changed_source_changes_the_hash_and_caches_are_left_out(tmp_path: Path) -> None:
    spec = make_source(tmp_path)
    before = build_package(spec, tmp_path)

    (tmp_path / "pkg" / "handler.py").write_text("def handle(event, context):\n    return 2\n")
    after = build_package(spec, tmp_path)

    assert code_sha256(before) != code_sha256(after)
    names = zipfile.ZipFile(BytesIO(after)).namelist()
    assert names == ["pkg/__init__.py", "pkg/handler.py"]
