"""Ingest benchmark: simulated Zeek conn.log (TSV) into the store, against DuckDB's own read_csv.

Both runs write into a fresh DuckDB file on the same disk, in separate processes (so each has
its own peak RSS), one after the other in the same invocation: the figure that matters is the
ratio, because these machines are shared and noisy.

    python benchmarks/ingest.py --rows 10000000

Prints rows/s, MB/s, peak RSS of each side and the ratio ours/read_csv (higher is better).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any


def _child_ours(log: Path, db: Path) -> dict[str, float]:
    from signalfire import runner
    from signalfire.store import Store

    started = time.perf_counter()
    with Store.open(db) as store:
        summary = runner.ingest(store, [log])
        store.con.execute("CHECKPOINT")
    seconds = time.perf_counter() - started
    return {"seconds": seconds, "rows": float(summary.rows.get("conn", 0))}


def _child_reference(log: Path, db: Path) -> dict[str, float]:
    import duckdb

    started = time.perf_counter()
    con = duckdb.connect(str(db))
    con.execute(
        "CREATE TABLE conn AS SELECT * FROM read_csv(?, delim = '\t', comment = '#', "
        "header = false)",
        [str(log)],
    )
    con.execute("CHECKPOINT")
    rows = con.execute("SELECT count(*) FROM conn").fetchone()
    con.close()
    seconds = time.perf_counter() - started
    return {"seconds": seconds, "rows": float(rows[0] if rows else 0)}


def own_peak_rss_mb() -> float:
    """This process's peak RSS (VmHWM). Not wait4's rusage in the parent: Linux carries the
    parent's own peak into a child started by vfork + exec, as subprocess does."""
    status = Path("/proc/self/status").read_text()
    kb = next(line.split()[1] for line in status.splitlines() if line.startswith("VmHWM:"))
    return int(kb) / 1024


def _measure(kind: str, log: Path, db: Path, script: str = __file__) -> dict[str, Any]:
    """Run ``script --child kind`` in a fresh process; its JSON result (with its peak RSS)."""
    for suffix in ("", ".wal"):
        Path(str(db) + suffix).unlink(missing_ok=True)
    proc = subprocess.Popen(
        [sys.executable, script, "--child", kind, "--log", str(log), "--db", str(db)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    out = proc.stdout.read()
    if proc.wait() != 0:
        raise SystemExit(f"{kind} run failed with status {proc.returncode}")
    result: dict[str, Any] = json.loads(out)
    return result


def _simulate(rows: int, workdir: Path, seed: int, gzip: bool = False) -> Path:
    """The conn log of a simulated day (kept in ``workdir`` for the next run)."""
    from signalfire.simulate import SimulationConfig, run_simulation

    out = workdir / f"sim-{rows}-{seed}{'-gz' if gzip else ''}"
    log = out / ("conn.log.gz" if gzip else "conn.log")
    if not log.exists():
        print(f"simulating about {rows:,} conn rows into {out} ...", file=sys.stderr)
        run_simulation(SimulationConfig(seed=seed, conn_rows=rows, gzip=gzip), out)
    return log


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/signalfire-bench"))
    parser.add_argument("--repeat", type=int, default=1, help="Alternate the two runs N times.")
    parser.add_argument("--child", choices=["ours", "reference"], help=argparse.SUPPRESS)
    parser.add_argument("--log", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--db", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        run = _child_ours if args.child == "ours" else _child_reference
        print(json.dumps({**run(args.log, args.db), "peak_rss_mb": own_peak_rss_mb()}))
        return
    args.workdir.mkdir(parents=True, exist_ok=True)
    log = _simulate(args.rows, args.workdir, args.seed)
    size_mb = log.stat().st_size / 1e6
    best: dict[str, dict[str, float]] = {}
    for _ in range(args.repeat):
        for kind in ("reference", "ours"):
            result = _measure(kind, log, args.workdir / f"{kind}.duckdb")
            if kind not in best or result["seconds"] < best[kind]["seconds"]:
                best[kind] = result
    ours, ref = best["ours"], best["reference"]
    assert ours["rows"] == ref["rows"], f"row counts differ: {ours['rows']} vs {ref['rows']}"
    print(f"file: {log} ({size_mb:,.0f} MB, {int(ours['rows']):,} conn rows)")
    for name, r in (("DuckDB read_csv", ref), ("signalfire ingest", ours)):
        print(
            f"{name:>18}: {r['seconds']:7.2f} s  {r['rows'] / r['seconds'] / 1e6:6.2f} M rows/s  "
            f"{size_mb / r['seconds']:7.1f} MB/s  peak RSS {r['peak_rss_mb']:,.0f} MB"
        )
    print(f"ratio (read_csv time / signalfire time): {ref['seconds'] / ours['seconds']:.2f}")


if __name__ == "__main__":
    main()
