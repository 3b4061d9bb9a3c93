from __future__ import annotations

import zipfile
from io import BytesIO
from pathlib import Path

import pytest

from hostpulse.deploy.model import FunctionSpec
from hostpulse.deploy.packaging import (
    Architecture,
    PackagingError,
    Target,
    build_package,
    code_sha256,
)


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


def make_wheel(root: Path, name: str, files: dict[str, bytes]) -> Path:
    wheel = root / f"{name}-1.0-cp312-cp312-manylinux2014_x86_64.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        for member, data in files.items():
            archive.writestr(member, data)
    return wheel


def test_wheels_are_unpacked_where_an_installer_puts_them(tmp_path: Path) -> None:
    spec = make_source(tmp_path)
    wheel = make_wheel(
        tmp_path,
        "native",
        {
            "native/__init__.py": b"",
            "native/_speed.cpython-312-x86_64-linux-gnu.so": b"\x7fELF",
            "native-1.0.dist-info/METADATA": b"Name: native\n",
            "native-1.0.data/platlib/native_extra.py": b"",
            "native-1.0.data/scripts/native-cli": b"#!/bin/sh\n",
            "native/__pycache__/x.cpython-312.pyc": b"\0",
        },
    )

    package = build_package(spec, tmp_path, [wheel])

    names = zipfile.ZipFile(BytesIO(package)).namelist()
    assert names == sorted(names)
    assert set(names) == {
        "native/__init__.py",
        "native/_speed.cpython-312-x86_64-linux-gnu.so",
        "native-1.0.dist-info/METADATA",
        "native_extra.py",
        "pkg/__init__.py",
        "pkg/handler.py",
    }
    assert build_package(spec, tmp_path, [wheel]) == package


def test_a_file_that_two_inputs_bring_is_refused(tmp_path: Path) -> None:
    spec = make_source(tmp_path)
    wheel = make_wheel(tmp_path, "clash", {"pkg/handler.py": b"other"})

    with pytest.raises(PackagingError, match=r"pkg/handler\.py comes twice"):
        build_package(spec, tmp_path, [wheel])


@pytest.mark.parametrize(
    ("runtime", "architecture", "expected"),
    [
        ("python3.12", "x86_64", ("3.12", "cp312", "manylinux2014_x86_64")),
        ("python3.13", "arm64", ("3.13", "cp313", "manylinux_2_28_aarch64")),
    ],
)
def test_the_target_asks_pip_for_the_runtime_and_architecture(
    runtime: str, architecture: Architecture, expected: tuple[str, str, str]
) -> None:
    arguments = Target.for_runtime(runtime, architecture).pip_arguments()

    version, abi, platform = expected
    assert arguments[arguments.index("--python-version") + 1] == version
    assert abi in arguments and platform in arguments
    assert not any("x86_64" in a for a in arguments) or architecture == "x86_64"


def test_a_runtime_that_is_not_python_is_refused() -> None:
    with pytest.raises(PackagingError, match="not a Python runtime"):
        Target.for_runtime("nodejs20.x", "x86_64")
