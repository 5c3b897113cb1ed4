"""What the store holds: row counts, time ranges, sources and rejects (``signalfire status``)."""

from __future__ import annotations

from typing import Any

from signalfire.model.schema import EVENT_TABLE_NAMES, SCHEMA_VERSION
from signalfire.store.connection import Store


def describe(store: Store, top_rejects: int = 5) -> dict[str, Any]:
    """A JSON-ready description of the store."""
    con = store.con
    tables = []
    for name in EVENT_TABLE_NAMES:
        count, first, last = con.execute(
            f'SELECT count(*), min("timestamp"), max("timestamp") FROM "{name}"'
        ).fetchone() or (0, None, None)
        tables.append({"table": name, "rows": count, "first": first, "last": last})
    sources = [
        {"format": r[0], "files": r[1], "rows": r[2], "rejected": r[3], "last_ingest": r[4]}
        for r in con.execute(
            "SELECT log_format, count(DISTINCT log_file_path), sum(rows_total), sum(rejected), "
            "max(finished_at) FROM ingest_log GROUP BY 1 ORDER BY 1"
        ).fetchall()
    ]
    rejects_total = store.scalar("SELECT count(*) FROM rejects")
    reasons = [
        {"reason": r[0], "lines": r[1], "files": r[2]}
        for r in con.execute(
            "SELECT regexp_replace(reason, '''[^'']*''', '''…''', 'g') AS r, count(*), "
            "count(DISTINCT log_file_path) FROM rejects GROUP BY 1 ORDER BY 2 DESC LIMIT ?",
            [top_rejects],
        ).fetchall()
    ]
    return {
        "store": str(store.path),
        "schema_version": SCHEMA_VERSION,
        "tables": tables,
        "rows_total": sum(t["rows"] for t in tables),
        "sources": sources,
        "rejects": {"lines": rejects_total, "top_reasons": reasons},
    }
