"""The store through Ibis, as the detections will see it."""

from __future__ import annotations

from pathlib import Path

from signalfire import runner
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
