from __future__ import annotations

import sys
from pathlib import Path

import pytest

from hostpulse.localcloud.errors import LocalCloudError
from hostpulse.localcloud.localstack_env import find_interpreter, is_suitable


def test_no_interpreter_found_says_what_to_install() -> None:
    with pytest.raises(LocalCloudError) as error:
        find_interpreter(None, candidates=[])

    assert "needs Python 3.13" in error.value.cause
    assert "pyenv install 3.13" in error.value.fix
    assert "HOSTPULSE_LOCALSTACK_PYTHON" in error.value.fix


def test_a_configured_interpreter_that_does_not_work_is_named(tmp_path: Path) -> None:
    missing = tmp_path / "python3.13"

    with pytest.raises(LocalCloudError, match=str(missing)):
        find_interpreter(missing)


@pytest.mark.skipif(sys.version_info[:2] == (3, 13), reason="the running interpreter is suitable")
def test_another_python_version_is_not_suitable() -> None:
    assert not is_suitable(Path(sys.executable))
    with pytest.raises(LocalCloudError):
        find_interpreter(None, candidates=[Path(sys.executable)])
