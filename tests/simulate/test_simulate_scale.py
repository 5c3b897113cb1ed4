"""Scale: the conn_rows option, bounded memory at millions of rows, exact time formatting."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pyarrow as pa
import pytest
from hypothesis import given
from hypothesis import strategies as st

from signalfire.errors import ConfigError
from signalfire.simulate import SimulationConfig, run_simulation
from signalfire.simulate.zeek_writer import LOG_SCHEMAS, build_table, format_rows


@pytest.mark.parametrize(
    ("hours", "target"), [(4.0, 60_000), (30.0, 250_000)], ids=["4h-60k", "30h-250k"]
)
def test_conn_rows_lands_within_five_percent(tmp_path: Path, hours: float, target: int) -> None:
    config = SimulationConfig(
        seed=2, hours=hours, operators=2, hosts_per_operator=20, conn_rows=target
    )
    result = run_simulation(config, tmp_path)
    assert abs(result.rows["conn"] - target) <= 0.05 * target
    truth = json.loads(result.ground_truth.read_text())
    assert len(truth["attacks"]) == 11


def test_attacks_do_not_scale(tmp_path: Path) -> None:
    base = SimulationConfig(seed=4, hours=2, operators=2, hosts_per_operator=20)
    small = json.loads(run_simulation(base, tmp_path / "a").ground_truth.read_text())
    scaled = SimulationConfig(seed=4, hours=2, operators=2, hosts_per_operator=20, conn_rows=90_000)
    large = json.loads(run_simulation(scaled, tmp_path / "b").ground_truth.read_text())
    assert small["attacks"] == large["attacks"]
    assert small["indicators"] == large["indicators"]


def test_conn_rows_below_the_fixed_traffic_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="--conn-rows"):
        run_simulation(SimulationConfig(conn_rows=1_000), tmp_path)
    assert not any(tmp_path.iterdir())


_MEASURE = textwrap.dedent(
    """
    import resource, sys
    from pathlib import Path
    from signalfire.simulate import SimulationConfig, run_simulation
    rows, hours = int(sys.argv[2]), float(sys.argv[3])
    run_simulation(SimulationConfig(seed=9, hours=hours, conn_rows=rows), Path(sys.argv[1]))
    status = Path("/proc/self/status").read_text()
    print(next(line.split()[1] for line in status.splitlines() if line.startswith("VmHWM:")))
    """
)


def _peak_rss_mb(out: Path, rows: int, hours: float) -> float:
    # A fresh interpreter per run, which reports its own high-water mark (VmHWM, kB). Not the
    # rusage of the child (wait4): Linux carries the parent's peak into a child started by
    # vfork + exec, as subprocess does, so after a big test in the same session every child
    # looked as large as the pytest process itself.
    done = subprocess.run(
        [sys.executable, "-c", _MEASURE, str(out), str(rows), str(hours)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, f"simulation failed: {done.stderr[-2000:]}"
    return int(done.stdout.split()[-1]) / 1024


@pytest.mark.slow
def test_memory_does_not_grow_with_rows(tmp_path: Path) -> None:
    # Both runs are dense enough that every time slice is filled to the same row budget: the
    # only difference is the number of slices, which must not cost memory.
    small = _peak_rss_mb(tmp_path / "small", 500_000, 4)
    large = _peak_rss_mb(tmp_path / "large", 3_000_000, 24)
    # Memory does not grow with rows (6x the rows here), and stays well under a gigabyte
    # (about 0.45 GB measured, docs/simulator.md).
    assert large < small * 1.25 + 40, (small, large)
    assert large < 800, large


@given(st.lists(st.integers(min_value=0, max_value=10**17), min_size=1, max_size=50))
def test_times_and_intervals_are_written_exactly(micros: list[int]) -> None:
    n = len(micros)
    table = build_table(
        "dnp3",
        n,
        {"ts": pa.array(micros), "rtt": None}
        if False
        else {
            "ts": pa.array(micros),
            "uid": "CAAAAAAAAAAAAAAAAA",
            "id.orig_h": "10.0.0.1",
            "id.orig_p": 1,
            "id.resp_h": "10.0.0.2",
            "id.resp_p": 20000,
            "fc_request": "READ",
        },
    )
    lines = format_rows(LOG_SCHEMAS["dnp3"], table).decode().splitlines()
    assert [line.split("\t")[0] for line in lines] == [
        f"{m // 10**6}.{m % 10**6:06d}" for m in micros
    ]
    assert all(line.split("\t")[-2:] == ["-", "-"] for line in lines)
