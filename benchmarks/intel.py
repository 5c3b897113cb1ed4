"""Intelligence benchmark: 1 million indicators imported, then matched against 10 million conn
and DNS rows of a simulated day.

    python benchmarks/intel.py --rows 10000000 --indicators 1000000

Steps, in one process after the logs are ingested into a fresh store (not timed):

1. import: a Zeek intel file of the indicators (addresses, domains, CIDRs) through
   ``signalfire intel import``'s code path → indicators/s;
2. match, exact only (addresses and domains; no CIDR, no parent domain) → rows/s;
3. match with parent domains and CIDRs → rows/s;
4. the reference: DuckDB's read_csv of the conn file, and a plain hash join of the conn table's
   destination addresses with the indicator values in SQL (the cost of the simplest possible
   match), so the ratios are measured in the same run on the same machine.

A twentieth of a percent of the indicators are addresses and names seen at most five times in
the simulated traffic (so that there are hits, as rare as real ones); the rest are random
addresses, names under random domains and CIDRs.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from ingest import _simulate, own_peak_rss_mb


def _write_indicators(path: Path, count: int, seen: list[str], names: list[str]) -> None:
    """A Zeek intel file: 45 % addresses, 45 % domains, 10 % CIDRs (random, seeded), with a
    few hundred values taken from the traffic."""
    rng = random.Random(7)
    lines = ["#fields\tindicator\tindicator_type\tmeta.source\tmeta.desc"]
    taken = seen[: count // 2000] + names[: count // 2000]
    for value in taken:
        kind = "Intel::DOMAIN" if value in names else "Intel::ADDR"
        lines.append(f"{value}\t{kind}\tbench\tfrom the traffic")
    for i in range(count - len(taken)):
        r = i % 20
        if r < 9:
            a = ".".join(str(rng.randrange(1, 224)) for _ in range(4))
            lines.append(f"{a}\tIntel::ADDR\tbench\trandom address")
        elif r < 18:
            label = "".join(rng.choices("abcdefghijklmnopqrstuvwxyz0123456789", k=12))
            lines.append(f"{label}.bad-{i % 997}.example\tIntel::DOMAIN\tbench\trandom name")
        else:
            net = f"{rng.randrange(1, 224)}.{rng.randrange(256)}.{rng.randrange(256)}.0/24"
            lines.append(f"{net}\tIntel::SUBNET\tbench\trandom network")
    path.write_text("\n".join(lines) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--indicators", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/signalfire-bench"))
    args = parser.parse_args()

    from signalfire import runner
    from signalfire.detections import ALL_DETECTIONS
    from signalfire.detections.execute import build
    from signalfire.detections.network_zones import DEFAULT_INTERNAL, parse_networks
    from signalfire.intel.indicators import ImportOptions, IndicatorStore
    from signalfire.store import Store

    args.workdir.mkdir(parents=True, exist_ok=True)
    conn_log = _simulate(args.rows, args.workdir, args.seed)
    db = args.workdir / "intel.duckdb"
    for suffix in ("", ".wal"):
        Path(str(db) + suffix).unlink(missing_ok=True)
    spec = ALL_DETECTIONS["intel.indicator_match"]
    networks = parse_networks(DEFAULT_INTERNAL)
    with Store.open(db) as store:
        print(f"ingesting {conn_log.parent} (conn and dns) ...", file=sys.stderr)
        runner.ingest(store, [conn_log, conn_log.parent / "dns.log"])
        con = store.con
        rows = sum(
            int(con.execute(f"SELECT count(*) FROM {t}").fetchone()[0])  # type: ignore[index]
            for t in ("conn", "dns")
        )
        # Known-bad values are rare in real traffic: take addresses and names seen a few times.
        seen = [
            r[0]
            for r in con.execute(
                "SELECT destination_ip FROM conn GROUP BY 1 HAVING count(*) <= 5 ORDER BY 1"
            ).fetchall()
        ]
        names = [
            r[0]
            for r in con.execute(
                "SELECT dns_question_name FROM dns GROUP BY 1 HAVING count(*) <= 5 ORDER BY 1"
            ).fetchall()
        ]
        intel_file = args.workdir / f"indicators-{args.indicators}.intel"
        _write_indicators(intel_file, args.indicators, seen, names)

        started = time.perf_counter()
        summary = IndicatorStore(store).import_paths([intel_file], ImportOptions(source="bench"))
        t_import = time.perf_counter() - started
        imported = summary.total("indicators")

        tables = {name: store.table(name) for name in spec.inputs}
        timings = {}
        for label, params in (
            ("exact", spec.params({"parent_domains": False, "cidr": False})),
            ("parent domains + CIDR", spec.params()),
        ):
            started = time.perf_counter()
            hits = build(spec, tables, networks, params).to_pyarrow()
            timings[label] = (time.perf_counter() - started, hits.num_rows)

        started = time.perf_counter()
        con.execute(
            "SELECT count(*) FROM conn JOIN indicators ON conn.destination_ip = indicators.value"
        ).fetchone()
        t_join = time.perf_counter() - started

    total = args.indicators
    print(f"rows: {rows:,} conn + dns; indicators: {total:,} in the file, {imported:,} stored")
    print(f"import: {t_import:.2f} s, {total / t_import:,.0f} indicators/s")
    for label, (seconds, alerts) in timings.items():
        print(
            f"match ({label}): {seconds:.2f} s, {rows / seconds / 1e6:.2f} M rows/s, "
            f"{alerts} alerts"
        )
    print(f"reference: SQL hash join of conn.destination_ip with the values: {t_join:.2f} s")
    print(f"peak RSS {own_peak_rss_mb():,.0f} MB")


if __name__ == "__main__":
    main()
