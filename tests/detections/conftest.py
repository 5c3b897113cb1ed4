"""Stores for detection tests: the simulator's day of traffic with its ground truth, and any
folder of ../shared/data ingested on demand."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from signalfire import runner
from signalfire.intel.indicators import IndicatorStore
from signalfire.simulate import SimulationConfig, run_simulation
from signalfire.store import Store

SIM_SEED = 11


@pytest.fixture(scope="session")
def simulated(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    """(store path, ground truth) of one simulated day (default network), ingested and
    detected once for the whole session. Open it read-only with ``Store.open(path)``."""
    root = tmp_path_factory.mktemp("sim")
    result = run_simulation(SimulationConfig(seed=SIM_SEED, hours=24.0), root / "logs")
    db = root / "sim.duckdb"
    truth = json.loads(result.ground_truth.read_text())
    with Store.open(db) as store:
        runner.ingest(store, result.files)
        # The simulator's threat feed, as an operator would import it.
        feed = root / "logs" / truth["indicators"]["zeek_intel"]
        imported = IndicatorStore(store).import_paths([feed])
        assert not imported.failed, imported.to_json()
        runner.detect(store)
    return db, truth


@pytest.fixture
def shared_store(shared_data: Path, tmp_path: Path) -> Iterator[Callable[..., Store]]:
    """``shared_store("zeek/stratosphere/002-zeek-scenario-port-scanning")`` -> a store with that
    folder ingested and every detection run (extra keyword arguments go to ``runner.detect``)."""
    opened: list[Store] = []

    def make(*folders: str, **detect_args: Any) -> Store:
        store = Store.open(tmp_path / f"shared{len(opened)}.duckdb")
        opened.append(store)
        runner.ingest(store, [shared_data / f for f in folders])
        runner.detect(store, **detect_args)
        return store

    yield make
    for store in opened:
        store.close()
