"""Streaming writer of Zeek ASCII (TSV) logs, vectorised.

The simulator hands this module one Arrow table per log and time slice; the table is sorted,
formatted column by column with Arrow compute kernels and written with Arrow's CSV writer (tab
delimited, no quoting), so no Python code runs per row. Files are written exactly as Zeek 6
writes them with its default ASCII writer: the eight header lines, tab-separated fields, ``-``
for unset values, ``(empty)`` for empty containers, ``T``/``F`` for booleans, six decimals for
times and intervals, and a ``#close`` line at the end.

Internally a ``time`` or ``interval`` is an ``int64`` count of microseconds (exact, so the same
seed always gives the same bytes), ``count`` and ``port`` are ``int64``, ``bool`` is ``bool`` and
every other Zeek type (``addr``, ``enum``, ``string``, containers) is a preformatted string. A
null means "unset" and is written as ``-``.
"""

from __future__ import annotations

import gzip
import queue
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, TypeAlias

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

MICROS = 1_000_000

_Slice = tuple[Mapping[str, Sequence[pa.Table]], int, int]


@dataclass(frozen=True)
class LogSchema:
    """The fields and Zeek types of one log, as in its ``#fields`` / ``#types`` header lines."""

    path: str
    fields: tuple[str, ...]
    types: tuple[str, ...]

    @property
    def arrow_schema(self) -> pa.Schema:
        """The Arrow schema of the tables this log is built from (see the module docstring)."""
        schema = _ARROW_SCHEMAS.get(self.path)
        if schema is None:
            schema = pa.schema(
                [pa.field(f, _arrow_type(t)) for f, t in zip(self.fields, self.types, strict=True)]
            )
            _ARROW_SCHEMAS[self.path] = schema
        return schema


_ARROW_SCHEMAS: dict[str, pa.Schema] = {}


def _arrow_type(zeek_type: str) -> pa.DataType:
    if zeek_type in ("time", "interval", "count", "port", "int"):
        return pa.int64()
    if zeek_type == "bool":
        return pa.bool_()
    return pa.string()


def _schema(path: str, spec: str) -> LogSchema:
    pairs = [item.split(":", 1) for item in spec.split()]
    return LogSchema(path, tuple(p[0] for p in pairs), tuple(p[1] for p in pairs))


_ID = "ts:time uid:string id.orig_h:addr id.orig_p:port id.resp_h:addr id.resp_p:port "

# Zeek 6 default field lists (base scripts plus policy/protocols/ssl/validate-certs, which the
# default local.zeek loads and which adds ssl's validation_status).
LOG_SCHEMAS: dict[str, LogSchema] = {
    "conn": _schema(
        "conn",
        _ID + "proto:enum service:string duration:interval orig_bytes:count resp_bytes:count "
        "conn_state:string local_orig:bool local_resp:bool missed_bytes:count history:string "
        "orig_pkts:count orig_ip_bytes:count resp_pkts:count resp_ip_bytes:count "
        "tunnel_parents:set[string]",
    ),
    "dns": _schema(
        "dns",
        _ID + "proto:enum trans_id:count rtt:interval query:string qclass:count "
        "qclass_name:string qtype:count qtype_name:string rcode:count rcode_name:string "
        "AA:bool TC:bool RD:bool RA:bool Z:count answers:vector[string] "
        "TTLs:vector[interval] rejected:bool",
    ),
    "http": _schema(
        "http",
        _ID + "trans_depth:count method:string host:string uri:string referrer:string "
        "version:string user_agent:string origin:string request_body_len:count "
        "response_body_len:count status_code:count status_msg:string info_code:count "
        "info_msg:string tags:set[enum] username:string password:string "
        "proxied:set[string] orig_fuids:vector[string] orig_filenames:vector[string] "
        "orig_mime_types:vector[string] resp_fuids:vector[string] "
        "resp_filenames:vector[string] resp_mime_types:vector[string]",
    ),
    "ssl": _schema(
        "ssl",
        _ID + "version:string cipher:string curve:string server_name:string resumed:bool "
        "last_alert:string next_protocol:string established:bool ssl_history:string "
        "cert_chain_fps:vector[string] client_cert_chain_fps:vector[string] "
        "sni_matches_cert:bool validation_status:string",
    ),
    "ssh": _schema(
        "ssh",
        _ID + "version:count auth_success:bool auth_attempts:count direction:enum "
        "client:string server:string cipher_alg:string mac_alg:string "
        "compression_alg:string kex_alg:string host_key_alg:string host_key:string",
    ),
    "modbus": _schema("modbus", _ID + "func:string exception:string"),
    "dnp3": _schema("dnp3", _ID + "fc_request:string fc_reply:string iin:count"),
}

#: The logs the simulator writes, in the order it writes and reports them.
LOG_NAMES: tuple[str, ...] = tuple(LOG_SCHEMAS)

ColumnValue: TypeAlias = pa.Array | pa.ChunkedArray | np.ndarray[Any, Any] | str | int | bool | None


def build_table(log: str, n: int, columns: Mapping[str, ColumnValue]) -> pa.Table:
    """Build a table of ``n`` rows with the full schema of ``log``.

    Args:
        log: a key of ``LOG_SCHEMAS``.
        n: the number of rows.
        columns: values by field name: an array of length ``n`` (NumPy or Arrow) or a scalar that
            is repeated. Fields not given are unset (``-``).

    Returns:
        A table whose schema is ``LOG_SCHEMAS[log].arrow_schema``.
    """
    schema = LOG_SCHEMAS[log].arrow_schema
    unknown = set(columns) - set(schema.names)
    if unknown:
        raise KeyError(f"{log}: unknown fields {sorted(unknown)}")
    arrays: list[pa.Array] = []
    for fld in schema:
        value = columns.get(fld.name)
        if value is None:
            arrays.append(pa.nulls(n, fld.type))
        elif isinstance(value, str | int | bool):
            arrays.append(pa.repeat(pa.scalar(value, fld.type), n))
        elif isinstance(value, np.ndarray):
            arrays.append(pa.array(value, fld.type))
        else:
            arr = value.combine_chunks() if isinstance(value, pa.ChunkedArray) else value
            if arr.type != fld.type:
                arr = arr.cast(fld.type)
            arrays.append(arr)
        if len(arrays[-1]) != n:
            raise ValueError(f"{log}.{fld.name}: {len(arrays[-1])} values for {n} rows")
    return pa.Table.from_arrays(arrays, schema=schema)


def empty_table(log: str) -> pa.Table:
    """A table with no rows and the schema of ``log``."""
    return LOG_SCHEMAS[log].arrow_schema.empty_table()


def sort_by_ts(table: pa.Table) -> pa.Table:
    """Rows ordered by ``ts``; the sort is stable so equal times keep their generation order."""
    if table.num_rows < 2:
        return table
    # One chunk first: take() over many small chunks costs several times more.
    table = table.combine_chunks()
    return table.take(pc.sort_indices(table, sort_keys=[("ts", "ascending")]))


def _format_micros(column: pa.Array) -> pa.Array:
    # Microseconds as text, padded to at least 7 digits, then a '.' before the last six:
    # 1234 -> "0001234" -> "0.001234". Three kernels, exact, no float rounding.
    text = pc.utf8_lpad(pc.cast(column, pa.string()), width=7, padding="0")
    return pc.utf8_replace_slice(text, start=-6, stop=-6, replacement=".")


def format_table(schema: LogSchema, table: pa.Table) -> pa.Table:
    """Format every column of ``table`` as the text Zeek writes for it (see module docstring)."""
    out: list[pa.Array] = []
    for name, ztype in zip(schema.fields, schema.types, strict=True):
        col = table.column(name).combine_chunks()
        if ztype in ("time", "interval"):
            col = _format_micros(col)
        elif col.type == pa.bool_():
            col = pc.if_else(col, "T", "F")
        elif col.type != pa.string():
            # Cast here rather than let the CSV writer print integers: its integer path is
            # several times slower than the cast kernel (measured with pyarrow 26).
            col = pc.cast(col, pa.string())
        if col.null_count:
            col = pc.fill_null(col, "-")
        out.append(col)
    return pa.Table.from_arrays(out, names=list(schema.fields))


_WRITE_OPTIONS = pacsv.WriteOptions(
    include_header=False, delimiter="\t", quoting_style="none", batch_size=65536
)


def format_rows(schema: LogSchema, table: pa.Table) -> bytes:
    """The data lines of ``table`` as Zeek TSV bytes (one ``\\n``-terminated line per row)."""
    if table.num_rows == 0:
        return b""
    sink = pa.BufferOutputStream()
    pacsv.write_csv(format_table(schema, table), sink, _WRITE_OPTIONS)
    return bytes(sink.getvalue())


def zeek_header_time(micros: int) -> str:
    """A time as Zeek writes it in ``#open`` / ``#close`` lines (``YYYY-MM-DD-HH-MM-SS``)."""
    return datetime.fromtimestamp(micros // MICROS, tz=UTC).strftime("%Y-%m-%d-%H-%M-%S")


def header_lines(schema: LogSchema, opened_us: int) -> bytes:
    """The eight header lines Zeek writes at the top of a log file."""
    lines = [
        "#separator \\x09",
        "#set_separator\t,",
        "#empty_field\t(empty)",
        "#unset_field\t-",
        f"#path\t{schema.path}",
        f"#open\t{zeek_header_time(opened_us)}",
        "#fields\t" + "\t".join(schema.fields),
        "#types\t" + "\t".join(schema.types),
    ]
    return ("\n".join(lines) + "\n").encode("ascii")


# Level 1: Zeek's rotation would gzip with the default level, but at 10^8 rows the default
# level costs several times the generation time; level 1 still shrinks these logs about 5x.
GZIP_LEVEL = 1


class ZeekLogFile:
    """One Zeek log file being written: header, data lines, ``#close`` footer."""

    def __init__(self, path: Path, schema: LogSchema, opened_us: int, compress: bool) -> None:
        """Create ``path`` and write the header.

        Args:
            path: the file to create (overwritten if it exists).
            schema: the log's fields and types.
            opened_us: the simulated time written in ``#open`` (microseconds since the epoch).
            compress: write gzip (with a zero mtime in its header, so the bytes are reproducible).
        """
        self.path = path
        self.schema = schema
        self.rows = 0
        path.parent.mkdir(parents=True, exist_ok=True)
        raw: IO[bytes] = open(path, "wb")  # noqa: SIM115 - closed in close()
        self._raw = raw
        self._out: IO[bytes] | gzip.GzipFile = (
            gzip.GzipFile(
                filename=path.name, mode="wb", compresslevel=GZIP_LEVEL, fileobj=raw, mtime=0
            )
            if compress
            else raw
        )
        self._out.write(header_lines(schema, opened_us))

    def write(self, table: pa.Table) -> None:
        """Append the rows of ``table`` (already sorted by ``ts``)."""
        if table.num_rows:
            self._out.write(format_rows(self.schema, table))
            self.rows += table.num_rows

    def close(self, closed_us: int) -> None:
        """Write the ``#close`` line and close the file."""
        self._out.write(f"#close\t{zeek_header_time(closed_us)}\n".encode("ascii"))
        if self._out is not self._raw:
            self._out.close()
        self._raw.close()


class ZeekLogSet:
    """All the logs of one simulation, rotated hourly or not, written by a background thread.

    Formatting and writing run in one worker thread while the caller generates the next slice:
    Arrow's kernels, the CSV writer, zlib and file writes release the GIL, so the two overlap
    on two cores. The queue between them holds at most ``QUEUE_SLICES`` slices, which keeps
    memory bounded; one worker writing in order keeps the bytes reproducible.

    Args:
        out_dir: the directory the logs are written into.
        start_us: start of the simulated window (µs since the epoch).
        end_us: end of the simulated window.
        rotate: one file per log and hour, named like Zeek's archive
            (``YYYY-MM-DD/conn.00:00:00-01:00:00.log``), instead of one ``conn.log``.
        compress: gzip the files (``.log.gz``).
    """

    QUEUE_SLICES = 2

    def __init__(
        self,
        out_dir: Path,
        start_us: int,
        end_us: int,
        rotate: bool = False,
        compress: bool = False,
    ) -> None:
        self.out_dir = out_dir
        self.start_us = start_us
        self.end_us = end_us
        self.rotate = rotate
        self.compress = compress
        self.files: list[Path] = []
        self.rows: dict[str, int] = dict.fromkeys(LOG_NAMES, 0)
        self._open: dict[str, ZeekLogFile] = {}
        self._period_end_us = -1
        self._queue: queue.Queue[_Slice | None] = queue.Queue(maxsize=self.QUEUE_SLICES)
        self._carry: dict[str, pa.Table] = {}
        self._error: BaseException | None = None
        self._worker = threading.Thread(target=self._work, name="zeek-writer", daemon=True)
        self._worker.start()

    def write(
        self, parts: Mapping[str, Sequence[pa.Table]], slice_start_us: int, slice_end_us: int
    ) -> None:
        """Queue one time slice of ``[slice_start_us, slice_end_us)``, inside one hour.

        Args:
            parts: unsorted rows per log name, in any number of tables. Rows at or after
                ``slice_end_us`` (a connection a moment after its DNS lookup) are held back and
                written with the next slice, so that every file is sorted by ``ts``; those still
                held back at ``close`` lie past the window and are dropped.
            slice_start_us: start of the slice, used to pick (and open) the hourly file.
            slice_end_us: end of the slice.

        Raises:
            OSError: an earlier slice could not be written (e.g. the disk is full).
        """
        self._raise_worker_error()
        self._queue.put((parts, slice_start_us, slice_end_us))

    def close(self) -> None:
        """Write what is queued, then close the files (writing their ``#close`` lines)."""
        self._queue.put(None)
        self._worker.join()
        self._raise_worker_error()

    def _raise_worker_error(self) -> None:
        if self._error is not None:
            raise self._error

    def _work(self) -> None:
        try:
            while True:
                item = self._queue.get()
                if item is None:
                    break
                parts, slice_start_us, slice_end_us = item
                if not self._open or slice_start_us >= self._period_end_us:
                    self._roll(slice_start_us)
                for name in LOG_NAMES:
                    table = self._take_ready(name, parts.get(name, ()), slice_end_us)
                    if table is not None:
                        self._open[name].write(table)
                        self.rows[name] += table.num_rows
            if not self._open:
                self._roll(self.start_us)
            self._close_open()
        # Any error, not just OSError: the caller's thread re-raises it from write()/close().
        except BaseException as exc:  # noqa: BLE001
            self._error = exc
            # Keep draining so the producer never blocks on a full queue.
            while self._queue.get() is not None:
                pass

    def _take_ready(
        self, name: str, parts: Sequence[pa.Table], slice_end_us: int
    ) -> pa.Table | None:
        tables = [t for t in parts if t.num_rows]
        if name in self._carry:
            tables.insert(0, self._carry.pop(name))
        if not tables:
            return None
        table = sort_by_ts(pa.concat_tables(tables))
        cut = int(np.searchsorted(table.column("ts").to_numpy(), slice_end_us))
        if cut < table.num_rows:
            self._carry[name] = table.slice(cut)
        return table.slice(0, cut)

    def _roll(self, at_us: int) -> None:
        self._close_open()
        hour = 3600 * MICROS
        if self.rotate:
            period_start = max(self.start_us, at_us - at_us % hour)
            period_end = min(self.end_us, at_us - at_us % hour + hour)
        else:
            period_start, period_end = self.start_us, self.end_us
        self._period_end_us = period_end
        suffix = ".log.gz" if self.compress else ".log"
        for name in LOG_NAMES:
            if self.rotate:
                begin = datetime.fromtimestamp(period_start // MICROS, tz=UTC)
                end = datetime.fromtimestamp(period_end // MICROS, tz=UTC)
                path = (
                    self.out_dir
                    / begin.strftime("%Y-%m-%d")
                    / f"{name}.{begin:%H:%M:%S}-{end:%H:%M:%S}{suffix}"
                )
            else:
                path = self.out_dir / f"{name}{suffix}"
            self._open[name] = ZeekLogFile(path, LOG_SCHEMAS[name], period_start, self.compress)
            self.files.append(path)

    def _close_open(self) -> None:
        for log_file in self._open.values():
            log_file.close(self._period_end_us)
        self._open.clear()
