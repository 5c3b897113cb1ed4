"""Shared fixtures: the real public data beside the project, and a fresh store per test."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from signalfire.store import Store

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("SIGNALFIRE_SHARED_DATA", ROOT.parent / "shared" / "data"))


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """../shared/data; skips (or, with SIGNALFIRE_REQUIRE_DATA=1 as in CI, fails) without it."""
    if not (SHARED_DATA / "zeek").is_dir():
        message = f"real public test data not found at {SHARED_DATA} (see ../shared/data/README.md)"
        if os.environ.get("SIGNALFIRE_REQUIRE_DATA") == "1":
            pytest.fail(message + "; SIGNALFIRE_REQUIRE_DATA=1 requires it")
        pytest.skip(message)
    return SHARED_DATA


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store.open(tmp_path / "test.duckdb") as s:
        yield s
