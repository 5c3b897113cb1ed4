"""The detections give the same alerts on DuckDB and on Spark (local mode, through Ibis): same
stable ids, scores within 1e-6. The sample is the simulated day's store."""

from __future__ import annotations

import hashlib
import math
from pathlib import Path
from typing import Any

import pytest

from signalfire.detections import ALL_DETECTIONS
from signalfire.detections.execute import build
from signalfire.detections.network_zones import DEFAULT_INTERNAL, parse_networks
from signalfire.store import Store

pyspark = pytest.importorskip("pyspark", reason="pyspark is installed by .ci/run (test extra)")


def _alert_id(detection: str, row: dict[str, Any]) -> str:
    window = row["window_start"].strftime("%Y-%m-%dT%H:%M:%S") if row["window_start"] else ""
    return hashlib.md5(f"{detection}|{row['entity'] or ''}|{window}".encode()).hexdigest()


def _rows(detection: str, table: Any) -> dict[str, dict[str, Any]]:
    return {_alert_id(detection, r): r for r in table.to_pylist()}


def test_same_alerts_on_duckdb_and_spark(
    simulated: tuple[Path, dict[str, Any]], spark: Any, tmp_path: Path
) -> None:
    import ibis

    db, _ = simulated
    networks = parse_networks(DEFAULT_INTERNAL)
    spark_con = ibis.pyspark.connect(spark)
    with Store.open(db, read_only=True) as store:
        inputs = sorted({name for spec in ALL_DETECTIONS.values() for name in spec.inputs})
        duck_tables = {name: store.table(name) for name in inputs}
        spark_tables = {}
        for name in duck_tables:
            path = tmp_path / f"{name}.parquet"
            store.con.execute(f"COPY {name} TO '{path}' (FORMAT parquet)")
            spark_tables[name] = spark_con.read_parquet(str(path), table_name=f"sf_{name}")
        compared = 0
        for detection_id, spec in sorted(ALL_DETECTIONS.items()):
            on_duck = _rows(detection_id, build(spec, duck_tables, networks).to_pyarrow())
            on_spark = _rows(detection_id, build(spec, spark_tables, networks).to_pyarrow())
            assert set(on_duck) == set(on_spark), detection_id
            for alert_id, left in on_duck.items():
                right = on_spark[alert_id]
                assert math.isclose(left["score"], right["score"], abs_tol=1e-6), detection_id
                for key in (
                    "severity",
                    "source_ip",
                    "destination_ip",
                    "destination_port",
                    "destination_domain",
                    "first_seen",
                    "last_seen",
                ):
                    assert left[key] == right[key], (detection_id, key)
            compared += len(on_duck)
    assert compared > 0, "the sample must produce alerts to compare"
