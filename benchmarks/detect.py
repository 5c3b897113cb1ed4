"""Detection benchmark: simulated Zeek logs (conn with its dns/http/ssl/...) in, alerts out.

    python benchmarks/detect.py --rows 10000000
    python benchmarks/detect.py --rows 100000000 --gzip     # the 100 M run (disk: ~10 GB)

Runs, each in its own process (which reports its own peak RSS): DuckDB's own read_csv of the
conn file (the reference the issue names), DuckDB's read_csv of every log into its own table
(the floor of any tool that parses the logs with DuckDB before detecting anything), then the work of
`signalfire analyze` end to end (ingest every log + all detections) into a fresh store. Prints
the time of each phase and detection, the ratios of both references to our end-to-end time,
and peak RSS.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from ingest import _child_reference, _measure, _simulate, own_peak_rss_mb


def _logs(folder: Path) -> list[Path]:
    return sorted([*folder.glob("*.log"), *folder.glob("*.log.gz")])


def _child_all_logs(logs: Path, db: Path) -> dict[str, object]:
    import duckdb

    started = time.perf_counter()
    con = duckdb.connect(str(db))
    rows = 0
    for i, log in enumerate(_logs(logs)):
        con.execute(
            f"CREATE TABLE t{i} AS SELECT * FROM read_csv(?, delim = '\t', comment = '#', "
            "header = false, all_varchar = true)",
            [str(log)],
        )
        count = con.execute(f"SELECT count(*) FROM t{i}").fetchone()
        rows += count[0] if count else 0
    con.execute("CHECKPOINT")
    con.close()
    return {"seconds": time.perf_counter() - started, "rows": rows}


def _child_ours(logs: Path, db: Path) -> dict[str, object]:
    from signalfire import runner
    from signalfire.store import Store

    started = time.perf_counter()
    with Store.open(db) as store:
        ingested = runner.ingest(store, _logs(logs))
        t_ingest = time.perf_counter() - started
        detected = runner.detect(store)
        store.con.execute("CHECKPOINT")
    total = time.perf_counter() - started
    return {
        "seconds": total,
        "ingest_seconds": t_ingest,
        "detect_seconds": total - t_ingest,
        "rows": ingested.rows,
        "detections": {o.detection: [o.alerts, round(o.seconds, 2)] for o in detected.outcomes},
    }


def _scratch(workdir: Path, name: str) -> Path:
    """A reference run's store, removed (the 100 M run needs the disk for the next one)."""
    db = workdir / f"{name}.duckdb"
    for suffix in ("", ".wal"):
        Path(str(db) + suffix).unlink(missing_ok=True)
    return db


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/signalfire-bench"))
    parser.add_argument("--gzip", action="store_true", help="Simulate compressed logs.")
    parser.add_argument(
        "--child", choices=["ours", "reference", "all_logs"], help=argparse.SUPPRESS
    )
    parser.add_argument("--log", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--db", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        run = {"ours": _child_ours, "reference": _child_reference, "all_logs": _child_all_logs}
        result = run[args.child](args.log, args.db)
        print(json.dumps({**result, "peak_rss_mb": own_peak_rss_mb()}))
        return
    args.workdir.mkdir(parents=True, exist_ok=True)
    conn_log = _simulate(args.rows, args.workdir, args.seed, gzip=args.gzip)
    ref = _measure("reference", conn_log, _scratch(args.workdir, "reference"), __file__)
    _scratch(args.workdir, "reference")
    floor = _measure("all_logs", conn_log.parent, _scratch(args.workdir, "all_logs"), __file__)
    _scratch(args.workdir, "all_logs")
    ours = _measure("ours", conn_log.parent, args.workdir / "detect.duckdb", __file__)
    rows = ours["rows"]
    assert isinstance(rows, dict)
    size_mb = sum(log.stat().st_size for log in _logs(conn_log.parent)) / 1e6
    print(
        f"logs: {conn_log.parent} ({size_mb:,.0f} MB, {sum(rows.values()):,} rows, "
        f"{rows.get('conn', 0):,} conn)"
    )
    print(
        f"DuckDB read_csv of conn.log: {ref['seconds']:.2f} s, "
        f"peak RSS {ref['peak_rss_mb']:,.0f} MB"
    )
    print(
        f"DuckDB read_csv of every log ({floor['rows']:,} rows): {floor['seconds']:.2f} s, "
        f"peak RSS {floor['peak_rss_mb']:,.0f} MB"
    )
    print(
        f"signalfire ingest + detect: {ours['seconds']:.2f} s "
        f"(ingest {ours['ingest_seconds']:.2f} s, detect {ours['detect_seconds']:.2f} s), "
        f"peak RSS {ours['peak_rss_mb']:,.0f} MB"
    )
    detections = ours["detections"]
    assert isinstance(detections, dict)
    for name, (alerts, seconds) in sorted(detections.items()):
        print(f"  {name:<28} {seconds:7.2f} s  {alerts:6d} alerts")
    ratio = float(ref["seconds"]) / float(ours["seconds"])  # type: ignore[arg-type]
    print(f"ratio (read_csv of conn.log / signalfire end to end): {ratio:.2f}")
    ratio = float(floor["seconds"]) / float(ours["seconds"])  # type: ignore[arg-type]
    print(f"ratio (read_csv of every log / signalfire end to end): {ratio:.2f}")


if __name__ == "__main__":
    main()
