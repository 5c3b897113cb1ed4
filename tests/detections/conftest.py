"""Stores for detection tests: the simulator's day of traffic with its ground truth, and any
folder of ../shared/data ingested on demand; and one local Spark session for the cross-engine
comparisons."""

from __future__ import annotations

import json
import os
import shutil
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
def spark(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A local Spark session (two cores, UTC) shared by every test that compares engines."""
    pytest.importorskip("pyspark", reason="pyspark is installed by .ci/run (test extra)")
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        pytest.fail("Spark needs Java 17: install a JDK (.ci/run does)")
    from pyspark.sql import SparkSession

    session = (
        SparkSession.builder.master("local[2]")
        .appName("signalfire-tests")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "4")
        .config("spark.driver.memory", "2g")
        .config("spark.sql.warehouse.dir", str(tmp_path_factory.mktemp("warehouse")))
        .getOrCreate()
    )
    yield session
    session.stop()


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
