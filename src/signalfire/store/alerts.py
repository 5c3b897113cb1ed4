"""Store alert rows: a stable id per detection, entity and window, so re-running updates."""

from __future__ import annotations

from dataclasses import dataclass

import duckdb
import pyarrow as pa

from signalfire.detections.registry import DetectionSpec


@dataclass(frozen=True)
class UpsertResult:
    new: int
    updated: int


ID_SQL = (
    "md5(? || '|' || coalesce(entity, '') || '|' || "
    "coalesce(strftime(window_start, '%Y-%m-%dT%H:%M:%S'), ''))"
)


def upsert(con: duckdb.DuckDBPyConnection, spec: DetectionSpec, rows: pa.Table) -> UpsertResult:
    """Insert new alerts and refresh the ones already raised (same id)."""
    if rows.num_rows == 0:
        return UpsertResult(0, 0)
    con.register("sf_alerts", rows)
    try:
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE sf_alert_rows AS SELECT {ID_SQL} AS alert_id, * "
            "FROM sf_alerts",
            [spec.id],
        )
    finally:
        con.unregister("sf_alerts")
    existing = con.execute(
        "SELECT count(*) FROM alerts JOIN sf_alert_rows USING (alert_id)"
    ).fetchone()
    updated = int(existing[0]) if existing else 0
    con.execute(
        "INSERT INTO alerts BY NAME SELECT alert_id, ? AS detection, ? AS title, severity, "
        "least(greatest(score, 0), 1) AS score, first_seen, last_seen, window_start, entity, "
        "source_ip, destination_ip, destination_port, destination_domain, ?::VARCHAR[] AS attack, "
        "NULL AS intrusion_set, to_json(evidence) AS evidence, now()::TIMESTAMP AS created_at, "
        "now()::TIMESTAMP AS updated_at FROM sf_alert_rows "
        "ON CONFLICT (alert_id) DO UPDATE SET severity = excluded.severity, "
        "score = excluded.score, first_seen = excluded.first_seen, "
        "last_seen = excluded.last_seen, evidence = excluded.evidence, "
        "updated_at = excluded.updated_at",
        [spec.id, spec.title, list(spec.attack)],
    )
    con.execute("DROP TABLE sf_alert_rows")
    return UpsertResult(rows.num_rows - updated, updated)
