"""Store alert rows: a stable id per detection, entity and window, so re-running updates."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import duckdb
import pyarrow as pa

from signalfire.detections.registry import SEVERITIES, DetectionSpec


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
    # Per-alert techniques and intrusion set when the detection gives them, else its own ids.
    names = set(rows.column_names)
    attack = (
        "CASE WHEN len(coalesce(attack, [])) > 0 THEN attack::VARCHAR[] ELSE ?::VARCHAR[] END"
        if "attack" in names
        else "?::VARCHAR[]"
    )
    intrusion_set = "intrusion_set" if "intrusion_set" in names else "NULL"
    con.execute(
        "INSERT INTO alerts BY NAME SELECT alert_id, ? AS detection, ? AS title, severity, "
        "least(greatest(score, 0), 1) AS score, first_seen, last_seen, window_start, entity, "
        f"source_ip, destination_ip, destination_port, destination_domain, {attack} AS attack, "
        f"{intrusion_set} AS intrusion_set, to_json(evidence) AS evidence, "
        "now()::TIMESTAMP AS created_at, now()::TIMESTAMP AS updated_at FROM sf_alert_rows "
        "ON CONFLICT (alert_id) DO UPDATE SET title = excluded.title, "
        "severity = excluded.severity, source_ip = excluded.source_ip, "
        "destination_ip = excluded.destination_ip, "
        "destination_port = excluded.destination_port, "
        "destination_domain = excluded.destination_domain, "
        "score = excluded.score, first_seen = excluded.first_seen, "
        "last_seen = excluded.last_seen, attack = excluded.attack, "
        "intrusion_set = excluded.intrusion_set, evidence = excluded.evidence, "
        "updated_at = excluded.updated_at",
        [spec.id, spec.title, list(spec.attack)],
    )
    con.execute("DROP TABLE sf_alert_rows")
    return UpsertResult(rows.num_rows - updated, updated)


#: SQL ranking severities as their index in SEVERITIES (info = 0 ... critical = 4).
SEVERITY_RANK = (
    "CASE severity WHEN 'critical' THEN 4 WHEN 'high' THEN 3 WHEN 'medium' THEN 2 "
    "WHEN 'low' THEN 1 ELSE 0 END"
)


def list_alerts(
    con: duckdb.DuckDBPyConnection,
    *,
    detection: list[str] | None = None,
    min_severity: str | None = None,
    limit: int | None = None,
) -> list[dict[str, Any]]:
    """Alerts ranked by severity then score, as JSON-ready dicts (evidence parsed)."""
    where: list[str] = ["true"]
    args: list[object] = []
    if detection:
        where.append("detection IN (SELECT unnest(?::VARCHAR[]))")
        args.append(detection)
    if min_severity:
        where.append(f"{SEVERITY_RANK} >= ?")
        args.append(SEVERITIES.index(min_severity))
    sql = (
        "SELECT alert_id AS id, detection, title, severity, score, first_seen, last_seen, "
        "source_ip, destination_ip, destination_port, destination_domain, attack, "
        "intrusion_set, evidence FROM alerts "
        f"WHERE {' AND '.join(where)} ORDER BY {SEVERITY_RANK} DESC, score DESC, id"
    )
    if limit is not None:
        sql += f" LIMIT {int(limit)}"
    cursor = con.execute(sql, args)
    names = [d[0] for d in cursor.description]
    out = []
    for row in cursor.fetchall():
        item = dict(zip(names, row, strict=True))
        item["evidence"] = json.loads(item["evidence"]) if item["evidence"] else {}
        out.append(item)
    return out
