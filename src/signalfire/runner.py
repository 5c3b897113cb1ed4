"""The runner: the one module that knows the order of the stages.

Ingest: walk the inputs -> recognise each file -> skip what is already stored -> parse new lines
into normalized batches -> store them, one transaction per file.
Detect: read the normalized tables through Ibis -> mark internal/external addresses -> run each
registered detection -> store its alerts under stable ids (re-running updates, never
duplicates). Policy and correlation stages join here in later issues.
"""

from __future__ import annotations

import gzip
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

import duckdb
import pyarrow as pa
import xxhash

from signalfire import __version__, settings
from signalfire.errors import ConfigError, DetectionError, StoreError
from signalfire.sources import detect as formats
from signalfire.sources import reader, zeek_tsv
from signalfire.sources.batch import NormalizeQuery, ParsedBatch, Provenance
from signalfire.sources.normalize import engine, register_functions
from signalfire.sources.reader import Chunk
from signalfire.store import Store, ingest_log

HEAD_BYTES = 64 << 10
HEAD_FINGERPRINT_BYTES = 4096

#: progress(bytes_done, bytes_total, current_file)
Progress = Callable[[int, int, str], None]


@dataclass
class FileOutcome:
    """What happened to one file."""

    path: str
    status: str  # ingested | appended | already_ingested | empty | failed
    format: str = ""
    rows: dict[str, int] = field(default_factory=dict)
    rejected: int = 0
    held_back_bytes: int = 0
    error: str = ""


@dataclass
class IngestSummary:
    """What an ingest run read, stored and rejected."""

    outcomes: list[FileOutcome] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def rows(self) -> dict[str, int]:
        total: Counter[str] = Counter()
        for outcome in self.outcomes:
            total.update(outcome.rows)
        return dict(sorted(total.items()))

    def count(self, status: str) -> int:
        return sum(1 for o in self.outcomes if o.status == status)

    @property
    def rejected(self) -> int:
        return sum(o.rejected for o in self.outcomes)

    def to_json(self) -> dict[str, object]:
        return {
            "files": len(self.outcomes),
            "rows": self.rows,
            "rejected": self.rejected,
            "already_ingested": self.count("already_ingested"),
            "appended": self.count("appended"),
            "failed": [{"path": o.path, "error": o.error} for o in self.outcomes if o.error],
            "held_back_bytes": sum(o.held_back_bytes for o in self.outcomes),
            "seconds": round(self.seconds, 3),
        }


def ingest(
    store: Store,
    paths: Iterable[Path],
    *,
    progress: Progress | None = None,
    chunk_bytes: int | None = None,
) -> IngestSummary:
    """Ingest files and directories (walked recursively) into the store.

    Each file is one transaction: it is stored whole or not at all. A file already ingested adds
    nothing; a file that grew since adds only its new lines.

    Raises:
        SourceError: a path does not exist (nothing is ingested then).
    """
    started = time.perf_counter()
    # The store's own files may sit in the directory being ingested: never read them as logs.
    own = {store.path.resolve(), Path(str(store.path.resolve()) + ".wal")}
    files = [f for f in reader.walk(paths) if f.resolve() not in own]
    total = sum(f.stat().st_size for f in files)
    done = 0
    chunk = chunk_bytes or int(settings.get("ingest_chunk_bytes"))
    grace = float(settings.get("ingest_live_grace_seconds"))
    compute = engine()
    # The typing SQL of the readers runs inside the store's own INSERTs.
    register_functions(store.con)
    summary = IngestSummary()
    for path in files:
        size = path.stat().st_size

        def tick(pos: int, _base: int = done, _name: str = str(path)) -> None:
            if progress is not None:
                progress(_base + pos, total, _name)

        summary.outcomes.append(_ingest_file(store, path, compute, chunk, grace, tick))
        done += size
        tick(0)
    summary.seconds = time.perf_counter() - started
    compute.close()
    return summary


def _resume_point(
    store: Store, path: Path, compression: str, head: bytes
) -> tuple[int, int, xxhash.xxh3_128, BinaryIO, BinaryIO]:
    """Find how much of this content is already stored; return the stream positioned there."""
    head_fp = xxhash.xxh3_128(head[:HEAD_FINGERPRINT_BYTES]).hexdigest()
    for prior in ingest_log.candidates(store.con, str(path), head_fp):
        stream, raw = reader.open_decompressed(path, compression)
        hasher = xxhash.xxh3_128()
        remaining = prior.end_offset
        while remaining:
            block = stream.read(min(remaining, 8 << 20))
            if not block:
                break
            hasher.update(block)
            remaining -= len(block)
        if remaining == 0 and hasher.hexdigest() == prior.content_fingerprint:
            return prior.end_offset, prior.end_line, hasher, stream, raw
        stream.close()
        raw.close()
    stream, raw = reader.open_decompressed(path, compression)
    return 0, 0, xxhash.xxh3_128(), stream, raw


def _ingest_file(
    store: Store,
    path: Path,
    compute: duckdb.DuckDBPyConnection,
    chunk_bytes: int,
    grace: float,
    tick: Callable[[int], None],
    *,
    stream_whole_file: bool = True,
) -> FileOutcome:
    name = str(path)
    try:
        compression = reader.compression_of(path)
        probe, probe_raw = reader.open_decompressed(path, compression)
        try:
            head = probe.read(HEAD_BYTES)
        finally:
            probe.close()
            probe_raw.close()
    except (OSError, EOFError) as exc:
        return FileOutcome(name, "failed", error=f"cannot read: {exc}")
    fmt = formats.detect(head)
    if fmt == formats.EMPTY:
        return FileOutcome(name, "empty", fmt)
    start_offset, start_line, hasher, stream, raw = _resume_point(store, path, compression, head)
    try:
        # A last line without newline in a live log is being written: leave it for next time.
        finished = compression != "none" or time.time() - path.stat().st_mtime > grace
        chunks = reader.ChunkReader(stream, chunk_bytes, start_offset, start_line, finished, hasher)
        started_at = datetime.now(UTC).replace(tzinfo=None)
        rows: Counter[str] = Counter()
        rejected = 0
        con = store.con
        con.execute("BEGIN TRANSACTION")
        try:
            ingest_id = ingest_log.next_id(con)
            parser = formats.reader_for(fmt, compute, Provenance(name, ingest_id))
            if start_offset:
                parser.prime(head)
            streamed = None
            if stream_whole_file and isinstance(parser, zeek_tsv.ZeekTsvReader):
                streamed = _stream_regular_file(con, parser, chunks, lambda: tick(raw.tell()))
                if streamed is None:
                    # Not regular (a reject, a blank line, a second header): read it again
                    # chunk by chunk, which keeps every reject with its exact place.
                    con.execute("ROLLBACK")
                    stream.close()
                    raw.close()
                    return _ingest_file(
                        store, path, compute, chunk_bytes, grace, tick, stream_whole_file=False
                    )
                rows.update(streamed)
            else:
                for chunk in chunks:
                    batch = parser.parse(chunk)
                    rows.update(_store_batch(store, batch, ingest_id, name, parser.format))
                    rejected += batch.reject_count
                    tick(raw.tell())
            if chunks.end_offset == start_offset:
                con.execute("ROLLBACK")
                status = "already_ingested" if start_offset else "empty"
                return FileOutcome(name, status, fmt, held_back_bytes=chunks.held_back)
            ingest_log.record(
                con,
                ingest_log.IngestRecord(
                    ingest_id=ingest_id,
                    log_file_path=name,
                    log_format=parser.format,
                    compression=compression,
                    start_offset=start_offset,
                    end_offset=chunks.end_offset,
                    end_line=chunks.end_line,
                    content_fingerprint=hasher.hexdigest(),
                    head_fingerprint=xxhash.xxh3_128(head[:HEAD_FINGERPRINT_BYTES]).hexdigest(),
                    rows=dict(rows),
                    rejected=rejected,
                    held_back_bytes=chunks.held_back,
                    started_at=started_at,
                    finished_at=datetime.now(UTC).replace(tzinfo=None),
                    signalfire_version=__version__,
                ),
            )
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
    except (OSError, EOFError, gzip.BadGzipFile) as exc:
        return FileOutcome(
            name,
            "failed",
            fmt,
            error=f"cannot read past byte {raw.tell()} ({exc}); nothing of it was stored",
        )
    finally:
        stream.close()
        raw.close()
    status = "appended" if start_offset else "ingested"
    return FileOutcome(name, status, fmt, dict(rows), rejected, chunks.held_back)


class _Irregular(Exception):
    """A chunk that the single streaming INSERT cannot take as it is."""


class _RegularFeed:
    """The Arrow batches of every chunk of a regular Zeek TSV file, for one streaming INSERT.

    One statement for the whole file lets DuckDB write row groups as they fill instead of
    holding the file's rows in the transaction (bounded memory) and halves the insert time.
    """

    def __init__(
        self, parser: zeek_tsv.ZeekTsvReader, chunks: Iterator[Chunk], tick: Callable[[], None]
    ) -> None:
        self.parser = parser
        self.chunks = chunks
        self.tick = tick
        self.rows = 0
        self.error: BaseException | None = None
        self.first: NormalizeQuery | None = None

    def _next_query(self) -> NormalizeQuery | None:
        """The query of the next chunk with data; None at the end."""
        for chunk in self.chunks:
            batch = self.parser.parse(chunk)
            self.tick()
            if batch.tables or batch.rejects or len(batch.queries) > 1:
                raise _Irregular
            if batch.queries:
                query = batch.queries[0]
                if query.exact is None:
                    raise _Irregular
                if self.first is not None and query.sql != self.first.sql:
                    raise _Irregular
                return query
        return None

    def start(self) -> NormalizeQuery | None:
        self.first = self._next_query()
        return self.first

    def batches(self) -> Iterator[pa.RecordBatch]:
        assert self.first is not None
        schema = self.first.inputs["sf_split"].schema
        query: NormalizeQuery | None = self.first
        try:
            while query is not None:
                table = query.inputs["sf_split"]
                if table.schema != schema:
                    raise _Irregular
                self.rows += table.num_rows
                yield from table.to_batches()
                query = self._next_query()
        except BaseException as exc:
            # DuckDB reports a failing stream as its own error: keep the cause for the caller.
            self.error = exc
            raise


def _stream_regular_file(
    con: duckdb.DuckDBPyConnection,
    parser: zeek_tsv.ZeekTsvReader,
    chunks: Iterable[Chunk],
    tick: Callable[[], None],
) -> dict[str, int] | None:
    """Insert a whole regular Zeek TSV file with one statement; None if it is not regular."""
    feed = _RegularFeed(parser, iter(chunks), tick)
    try:
        first = feed.start()
    except _Irregular:
        return None
    if first is None:
        return {}
    schema = first.inputs["sf_split"].schema
    stream = pa.RecordBatchReader.from_batches(schema, feed.batches())
    query = NormalizeQuery(first.table, first.sql, {"sf_split": stream}, 0)
    query.register(con)
    try:
        row = con.execute(f'INSERT INTO "{query.table}" BY NAME {query.good_rows_sql()}').fetchone()
    except duckdb.Error:
        if isinstance(feed.error, _Irregular):
            return None
        if feed.error is not None:
            raise feed.error from None
        raise
    finally:
        query.unregister(con)
    inserted = int(row[0]) if row else 0
    # Some rows did not parse: only the chunked path records rejects with their place.
    return {query.table: inserted} if inserted == feed.rows else None


def _store_batch(
    store: Store, batch: ParsedBatch, ingest_id: int, path: str, fmt: str
) -> dict[str, int]:
    """Write a batch inside the open transaction; return the rows stored per table."""
    con = store.con
    stored: Counter[str] = Counter()
    try:
        for query in batch.queries:
            stored[query.table] += _run_query(con, query, batch)
        for table, parts in batch.tables.items():
            for part in parts:
                con.register("sf_batch", part)
                con.execute(f'INSERT INTO "{table}" BY NAME SELECT * FROM sf_batch')
                con.unregister("sf_batch")
                stored[table] += part.num_rows
        for rejects in batch.rejects:
            con.register("sf_rejects", rejects)
            con.execute(
                "INSERT INTO rejects BY NAME SELECT ? AS ingest_id, ? AS log_file_path, "
                "? AS log_format, log_line, log_offset, reason, raw FROM sf_rejects",
                [ingest_id, path, fmt],
            )
            con.unregister("sf_rejects")
    except duckdb.Error as exc:
        raise StoreError(f"cannot write {path} into the store: {exc}") from exc
    return dict(stored)


def _run_query(con: duckdb.DuckDBPyConnection, query: NormalizeQuery, batch: ParsedBatch) -> int:
    """Type and insert the good rows in one pass; only if some were bad, fetch the rejects."""
    query.register(con)
    try:
        row = con.execute(f'INSERT INTO "{query.table}" BY NAME {query.good_rows_sql()}').fetchone()
        inserted = int(row[0]) if row else 0
    finally:
        query.unregister(con)
    if inserted < query.rows:
        exact = query.exact() if query.exact is not None else query
        exact.register(con)
        try:
            batch.add_rejects(con.execute(exact.rejects_sql()).to_arrow_table())
        finally:
            exact.unregister(con)
    return inserted


@dataclass
class DetectionOutcome:
    """What one detection found in one run."""

    detection: str
    alerts: int
    new: int
    updated: int
    seconds: float


@dataclass
class DetectSummary:
    """What a detection run found."""

    outcomes: list[DetectionOutcome] = field(default_factory=list)
    seconds: float = 0.0

    def to_json(self) -> dict[str, object]:
        return {
            "detections": {
                o.detection: {"alerts": o.alerts, "new": o.new, "updated": o.updated}
                for o in self.outcomes
            },
            "alerts": sum(o.alerts for o in self.outcomes),
            "new": sum(o.new for o in self.outcomes),
            "seconds": round(self.seconds, 3),
        }


def detect(
    store: Store,
    *,
    internal: Iterable[str] | None = None,
    only: Iterable[str] | None = None,
    overrides: dict[str, dict[str, object]] | None = None,
) -> DetectSummary:
    """Run the registered detections over everything in the store and store their alerts.

    Args:
        internal: CIDRs of the internal networks (default: the ``internal_networks`` setting).
        only: detection ids to run (default: all).
        overrides: detection id -> Params field -> value (site settings).

    Raises:
        ConfigError: a bad CIDR or an unknown detection id.
        DetectionError: a detection failed.
    """
    from signalfire.detections import ALL_DETECTIONS
    from signalfire.detections.execute import build
    from signalfire.detections.network_zones import parse_networks
    from signalfire.detections.registry import empty_alerts
    from signalfire.store.alerts import upsert

    started = time.perf_counter()
    networks = parse_networks(internal or [str(settings.get("internal_networks"))])
    wanted = list(only) if only else list(ALL_DETECTIONS)
    unknown = [d for d in wanted if d not in ALL_DETECTIONS]
    if unknown:
        raise ConfigError(
            f"unknown detection(s) {', '.join(unknown)}; known: {', '.join(ALL_DETECTIONS)}"
        )
    needed = {name for d in wanted for name in ALL_DETECTIONS[d].inputs}
    tables = {name: store.table(name) for name in sorted(needed)}
    summary = DetectSummary()
    for detection_id in wanted:
        spec = ALL_DETECTIONS[detection_id]
        t0 = time.perf_counter()
        params = spec.params((overrides or {}).get(detection_id))
        try:
            # Not even built: building may already run a query (a cached intermediate).
            if any(store.scalar(f"SELECT count(*) = 0 FROM {name}") for name in spec.requires):
                rows = empty_alerts()
            else:
                rows = build(spec, tables, networks, params).to_pyarrow()
        except (duckdb.Error, ibis_errors()) as exc:
            raise DetectionError(f"{detection_id} failed: {exc}") from exc
        finally:
            store.release_cached()
        with_transaction = store.con
        with_transaction.execute("BEGIN TRANSACTION")
        try:
            result = upsert(with_transaction, spec, rows)
            if detection_id == "intel.indicator_match":
                from signalfire.intel.matching import after_match

                after_match(with_transaction, rows)
        except BaseException:
            with_transaction.execute("ROLLBACK")
            raise
        with_transaction.execute("COMMIT")
        summary.outcomes.append(
            DetectionOutcome(
                detection_id, rows.num_rows, result.new, result.updated, time.perf_counter() - t0
            )
        )
    summary.seconds = time.perf_counter() - started
    return summary


def ibis_errors() -> type[Exception]:
    """Ibis' own error base class (imported late: importing Ibis is slow)."""
    from ibis.common.exceptions import IbisError

    error: type[Exception] = IbisError
    return error
