"""Bookkeeping of what has been ingested, so that ingest is idempotent and follows growing
files: a file is known by the fingerprint of its (decompressed) content, not its name."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import duckdb


@dataclass(frozen=True)
class PriorIngest:
    """How far an earlier ingest consumed a file whose content starts the same way."""

    end_offset: int
    end_line: int
    content_fingerprint: str


def candidates(
    con: duckdb.DuckDBPyConnection, path: str, head_fingerprint: str, limit: int = 4
) -> list[PriorIngest]:
    """Earlier ingests of this path or of content with the same first 4 KiB, furthest first."""
    rows = con.execute(
        "SELECT end_offset, end_line, content_fingerprint FROM ingest_log "
        "WHERE (log_file_path = ? OR head_fingerprint = ?) AND end_offset > 0 "
        "GROUP BY ALL ORDER BY end_offset DESC LIMIT ?",
        [path, head_fingerprint, limit],
    ).fetchall()
    return [PriorIngest(int(r[0]), int(r[1]), str(r[2])) for r in rows]


def next_id(con: duckdb.DuckDBPyConnection) -> int:
    row = con.execute("SELECT coalesce(max(ingest_id), 0) + 1 FROM ingest_log").fetchone()
    assert row is not None
    return int(row[0])


@dataclass(frozen=True)
class IngestRecord:
    """One row of ``ingest_log``."""

    ingest_id: int
    log_file_path: str
    log_format: str
    compression: str
    start_offset: int
    end_offset: int
    end_line: int
    content_fingerprint: str
    head_fingerprint: str
    rows: dict[str, int]
    rejected: int
    held_back_bytes: int
    started_at: datetime
    finished_at: datetime
    signalfire_version: str


def record(con: duckdb.DuckDBPyConnection, entry: IngestRecord) -> None:
    """Add an entry (inside the caller's transaction, with the rows it describes)."""
    con.execute(
        "INSERT INTO ingest_log BY NAME SELECT ? AS ingest_id, ? AS log_file_path, "
        "? AS log_format, ? AS compression, ? AS start_offset, ? AS end_offset, ? AS end_line, "
        "? AS content_fingerprint, ? AS head_fingerprint, "
        "map_from_entries(?::STRUCT(k VARCHAR, v BIGINT)[]) AS rows, ? AS rows_total, "
        "? AS rejected, ? AS held_back_bytes, ? AS started_at, ? AS finished_at, "
        "? AS signalfire_version",
        [
            entry.ingest_id,
            entry.log_file_path,
            entry.log_format,
            entry.compression,
            entry.start_offset,
            entry.end_offset,
            entry.end_line,
            entry.content_fingerprint,
            entry.head_fingerprint,
            [{"k": k, "v": v} for k, v in sorted(entry.rows.items())],
            sum(entry.rows.values()),
            entry.rejected,
            entry.held_back_bytes,
            entry.started_at,
            entry.finished_at,
            entry.signalfire_version,
        ],
    )
