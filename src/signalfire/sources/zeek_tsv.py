"""Zeek's ASCII (TSV) logs, driven by their own header.

The ``#separator``, ``#set_separator``, ``#empty_field``, ``#unset_field``, ``#path``, ``#fields``
and ``#types`` lines say how to read the rows, so any field order and any extra column works;
fields the schema does not know go to ``extra``. A header block may appear again mid-file
(concatenated logs) and takes effect from there.

Rows are split by Arrow's CSV parser (multi-threaded) and typed by DuckDB; when a segment has
anything irregular (a blank line, a wrong field count, a value that does not parse) it is re-read
line by line, still vectorised, so every reject gets its exact line number and offset.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

from signalfire.model.schema import TABLES_BY_NAME
from signalfire.sources.batch import NormalizeQuery, ParsedBatch, Provenance, rejected_lines
from signalfire.sources.lines import line_table
from signalfire.sources.normalize import (
    Typed,
    quote_literal,
    select_normalized,
    zeek_text_value,
)
from signalfire.sources.reader import Chunk
from signalfire.sources.zeek_fields import FIELDS, table_for_path

FORMAT = "zeek_tsv"

NO_HEADER = (
    "no Zeek #fields header before this line, so its columns are unknown: the file's header "
    "is missing or was cut off; put the header of the log it came from back on top and "
    "ingest it again"
)

_ESCAPE = re.compile(r"\\x([0-9a-fA-F]{2})")


def _unescape_header(value: str) -> str:
    return _ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), value)


@dataclass
class ZeekHeader:
    """The state set by a Zeek header block."""

    separator: str = "\t"
    set_separator: str = ","
    empty_field: str = "(empty)"
    unset_field: str = "-"
    path: str | None = None
    fields: list[str] = field(default_factory=list)
    types: list[str] = field(default_factory=list)

    def apply(self, line: str) -> ZeekHeader:
        """The header after one ``#`` line (unknown directives such as #open are ignored)."""
        if line.startswith("#separator"):
            value = line[len("#separator") :].strip(" ")
            return replace(self, separator=_unescape_header(value) or "\t")
        key, _, value = line.partition(self.separator)
        if key == "#set_separator":
            return replace(self, set_separator=value)
        if key == "#empty_field":
            return replace(self, empty_field=value)
        if key == "#unset_field":
            return replace(self, unset_field=value)
        if key == "#path":
            return replace(self, path=value)
        if key == "#fields":
            return replace(self, fields=value.split(self.separator))
        if key == "#types":
            return replace(self, types=value.split(self.separator))
        return self


def looks_like(head: bytes) -> bool:
    """True for content that starts like a Zeek TSV log."""
    return head.startswith(b"#separator")


def looks_like_headerless(head: bytes) -> bool:
    """True for tab-separated lines that start like Zeek rows (epoch ts, then a uid)."""
    first = head.split(b"\n", 1)[0]
    return re.match(rb"^\d{9,10}\.\d+\t\S+\t", first) is not None


class ZeekTsvReader:
    """Parses chunks of one Zeek TSV file, in order."""

    format = FORMAT

    def __init__(self, con: duckdb.DuckDBPyConnection, provenance: Provenance) -> None:
        self.con = con
        self.provenance = provenance
        self.header = ZeekHeader()

    def prime(self, head: bytes) -> None:
        """Read the header from the start of the file (for a tail ingest of a growing log)."""
        for raw in head.split(b"\n"):
            if not raw.startswith(b"#"):
                break
            self.header = self.header.apply(raw.decode("utf-8", "replace"))

    def parse(self, chunk: Chunk) -> ParsedBatch:
        batch = ParsedBatch()
        data, pos, line = chunk.data, 0, chunk.first_line
        while pos < len(data):
            if data[pos] == ord("#"):
                end = data.find(b"\n", pos)
                end = len(data) if end < 0 else end
                self.header = self.header.apply(data[pos:end].decode("utf-8", "replace"))
                pos, line = end + 1, line + 1
                continue
            nxt = data.find(b"\n#", pos)
            stop = len(data) if nxt < 0 else nxt + 1
            segment = Chunk(
                data[pos:stop],
                line,
                chunk.start_offset + pos,
                partial_tail=chunk.partial_tail and stop == len(data),
            )
            batch.merge(self._parse_segment(segment))
            pos, line = stop, line + segment.line_count
        return batch

    def _parse_segment(self, segment: Chunk) -> ParsedBatch:
        batch = ParsedBatch()
        if not self.header.fields:
            batch.add_rejects(rejected_lines(line_table(segment), NO_HEADER))
            return batch
        fast = self._split_fast(segment)
        if fast is None:
            batch.queries.append(self._exact_query(segment, self.header))
            return batch
        # The header in force now: a later header block of the same chunk may replace it
        # before the exact re-read (if any) runs.
        header = self.header
        batch.queries.append(
            NormalizeQuery(
                self._table,
                self._normalize_sql(exact=False),
                {"sf_split": fast},
                fast.num_rows,
                exact=lambda: self._exact_query(segment, header),
            )
        )
        return batch

    def _exact_query(self, segment: Chunk, header: ZeekHeader) -> NormalizeQuery:
        saved, self.header = self.header, header
        try:
            split = self._split_exact(segment)
            return NormalizeQuery(
                self._table, self._normalize_sql(exact=True), {"sf_split": split}, split.num_rows
            )
        finally:
            self.header = saved

    @property
    def _table(self) -> str:
        return table_for_path(self.header.path)

    def _names(self) -> list[str]:
        return [f"f{i}" for i in range(len(self.header.fields))]

    def _split_fast(self, segment: Chunk) -> pa.Table | None:
        """Arrow's CSV parser over the whole segment; None when it is not perfectly regular."""
        if len(self.header.separator) != 1 or segment.partial_tail:
            return None
        irregular = False

        def on_invalid(_row: object) -> str:
            nonlocal irregular
            irregular = True
            return "skip"

        names = self._names()
        try:
            table = pacsv.read_csv(
                pa.py_buffer(segment.data),
                read_options=pacsv.ReadOptions(column_names=names, block_size=8 << 20),
                parse_options=pacsv.ParseOptions(
                    delimiter=self.header.separator,
                    quote_char=False,
                    escape_char=False,
                    newlines_in_values=False,
                    ignore_empty_lines=True,
                    invalid_row_handler=on_invalid,
                ),
                convert_options=pacsv.ConvertOptions(
                    column_types={n: pa.string() for n in names},
                    strings_can_be_null=False,
                    quoted_strings_can_be_null=False,
                ),
            )
        except (pa.ArrowInvalid, UnicodeDecodeError):
            return None
        if irregular or table.num_rows != segment.line_count:
            return None
        lines = np.arange(segment.first_line, segment.first_line + table.num_rows)
        return table.append_column("log_line", pa.array(lines))

    def _split_exact(self, segment: Chunk) -> pa.Table:
        """One row per line with its fields, line number, offset and text (blank lines dropped)."""
        lines = line_table(segment)
        self.con.register("sf_lines", lines)
        try:
            sep = quote_literal(self.header.separator)
            n = len(self.header.fields)
            cols = ", ".join(f"f[{i + 1}] AS f{i}" for i in range(n))
            return self.con.execute(
                f"SELECT {cols}, log_line, log_offset, line AS raw, len(f) AS field_count "
                f"FROM (SELECT *, string_split(line, {sep}) AS f FROM sf_lines "
                "WHERE trim(line) <> '')"
            ).to_arrow_table()
        finally:
            self.con.unregister("sf_lines")

    def _normalize_sql(self, *, exact: bool) -> str:
        header, prov = self.header, self.provenance
        table = TABLES_BY_NAME[self._table]
        mapping = FIELDS[self._table]
        values: dict[str, Typed] = {}
        extras: list[str] = []
        markers = (header.set_separator, header.unset_field, header.empty_field)
        for i, name in enumerate(header.fields):
            ref = f"f{i}"
            column = mapping.get(name)
            if column is not None and column not in values:
                values[column] = zeek_text_value(ref, table.type_of(column), name, *markers)
            else:
                text = zeek_text_value(ref, "VARCHAR", name, *markers).value
                extras.append(f"{quote_literal(name)}, {text}")
        # JSON text, NULL when every unknown field is unset: an empty MAP per row would cost
        # a third of the insert time. json_merge_patch drops the unset (null) entries.
        extra = (
            f"NULLIF(json_merge_patch('{{}}', json_object({', '.join(extras)})), '{{}}')"
            if extras
            else "NULL"
        )
        reasons = []
        if exact:
            n = len(header.fields)
            reasons.append(
                f"CASE WHEN field_count <> {n} THEN 'has ' || field_count || ' fields but the "
                f"#fields header declares {n}' || CASE WHEN field_count < {n} "
                "THEN ' (truncated line?)' ELSE '' END END"
            )
        source = "sf_split"
        if not exact:
            # Rejects of the fast path are re-read exactly (NormalizeQuery.exact) for their
            # offset and raw text, so the fast path carries neither.
            source = "(SELECT *, NULL::VARCHAR AS raw, NULL::BIGINT AS log_offset FROM sf_split)"
        provenance = {
            "event_dataset": quote_literal(header.path or "unknown"),
            "log_line": "log_line",
            "ingest_id": str(prov.ingest_id),
        }
        return select_normalized(
            table, values, extra=extra, provenance=provenance, reasons=reasons, source=source
        )
