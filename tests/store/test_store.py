"""The store through Ibis, as the detections will see it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from signalfire import runner
from signalfire.errors import ConfigError
from signalfire.model.schema import ALL_TABLES
from signalfire.store import Store
from tests.sources.zeek_samples import zeek_tsv


def test_every_declared_table_exists_with_its_columns(store: Store) -> None:
    for table in ALL_TABLES:
        assert tuple(store.ibis.table(table.name).columns) == table.column_names


def test_ibis_sees_ingested_rows_typed(tmp_path: Path, store: Store) -> None:
    log = tmp_path / "conn.log"
    rows = [[f"{1700000000 + i}.000001", f"C{i}", "10.0.0.1", "443", str(i * 10)] for i in range(5)]
    log.write_bytes(
        zeek_tsv(
            "conn",
            ["ts", "uid", "id.resp_h", "id.resp_p", "orig_bytes"],
            ["time", "string", "addr", "port", "count"],
            rows,
        )
    )
    runner.ingest(store, [log])
    conn = store.table("conn")
    result = (
        conn.group_by("destination_port")
        .aggregate(n=conn.count(), sent=conn.source_bytes.sum(), first=conn.timestamp.min())
        .execute()
    )
    assert result.to_dict("records")[0]["n"] == 5
    assert result.to_dict("records")[0]["sent"] == 100
    assert str(conn.schema()["timestamp"]).startswith("timestamp")


def test_memory_limit_bounds_the_engine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # DuckDB's own default (80 % of memory) let a 100 M-row run reach 18.8 GB of 24 GB.
    units = {"KiB": 2**10, "MiB": 2**20, "GiB": 2**30, "TiB": 2**40}

    def limit_bytes() -> float:
        with Store.open(tmp_path / "s.duckdb") as store:
            number, unit = str(store.scalar("SELECT current_setting('memory_limit')")).split()
        return float(number) * units[unit]  # DuckDB prints it rounded: "953.6 MiB"

    monkeypatch.setenv("SIGNALFIRE_MEMORY_LIMIT", "1GB")
    assert abs(limit_bytes() - 10**9) < 0.1 * 2**20
    monkeypatch.delenv("SIGNALFIRE_MEMORY_LIMIT")
    physical = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    assert abs(limit_bytes() / (physical / 2) - 1) < 0.01
    monkeypatch.setenv("SIGNALFIRE_MEMORY_LIMIT", "lots")
    with pytest.raises(ConfigError, match="SIGNALFIRE_MEMORY_LIMIT"):
        Store.open(tmp_path / "s.duckdb")
