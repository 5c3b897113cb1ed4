"""ruff (format and lint) and mypy are clean, and every setting is documented: run with the
tests so CI checks them."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TARGETS = ["src", "tests", "benchmarks"]


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=ROOT, capture_output=True, text=True, check=False, timeout=600)


@pytest.mark.parametrize("command", [["ruff", "format", "--check"], ["ruff", "check"]])
def test_ruff(command: list[str]) -> None:
    if shutil.which("ruff") is None:
        pytest.fail("ruff is not installed: pip install -e '.[test]'")
    result = _run(*command, *TARGETS)
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy() -> None:
    result = _run(sys.executable, "-m", "mypy")
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_setting_is_in_the_readme() -> None:
    from signalfire.settings import SETTINGS

    readme = (ROOT / "README.md").read_text()
    missing = [s.env for s in SETTINGS if f"| `{s.env}` |" not in readme]
    assert not missing, f"add these to the README's Settings table: {missing}"
