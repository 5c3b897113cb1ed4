"""Run a reader over bytes the way the runner does, without a store."""

from __future__ import annotations

import io

import pyarrow as pa

from signalfire.sources import detect
from signalfire.sources.batch import Provenance
from signalfire.sources.normalize import engine
from signalfire.sources.reader import ChunkReader


def parse_bytes(
    data: bytes, chunk_bytes: int = 1 << 20
) -> tuple[str, dict[str, pa.Table], pa.Table]:
    """(format, rows per table, rejects) of some log content."""
    fmt = detect.detect(data[:65536])
    con = engine()
    reader = detect.reader_for(fmt, con, Provenance("mem.log", 1))
    tables: dict[str, list[pa.Table]] = {}
    rejects: list[pa.Table] = []
    for chunk in ChunkReader(io.BytesIO(data), chunk_bytes, 0, 0, keep_partial_tail=True):
        batch = reader.parse(chunk)
        batch.materialize(con)
        for name, parts in batch.tables.items():
            tables.setdefault(name, []).extend(parts)
        rejects.extend(batch.rejects)
    merged = {name: pa.concat_tables(parts) for name, parts in tables.items()}
    rej = pa.concat_tables(rejects) if rejects else pa.table({"log_line": pa.array([], pa.int64())})
    return fmt, merged, rej
