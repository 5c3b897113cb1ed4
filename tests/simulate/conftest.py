"""Fixtures of the simulator tests: one small simulation shared by the read-only tests."""

from __future__ import annotations

import pytest
from simulate_zeek_tsv import ZeekLog, read_zeek

from signalfire.simulate import SimulationConfig, SimulationResult, run_simulation

# Five operators cover every sector; three hours keep the run around a second.
SMALL = SimulationConfig(seed=7, hours=3, operators=5, hosts_per_operator=24)


@pytest.fixture(scope="session")
def small_sim(tmp_path_factory: pytest.TempPathFactory) -> SimulationResult:
    return run_simulation(SMALL, tmp_path_factory.mktemp("small_sim"))


@pytest.fixture(scope="session")
def small_logs(small_sim: SimulationResult) -> dict[str, ZeekLog]:
    return {path.name.split(".")[0]: read_zeek(path) for path in small_sim.files}
