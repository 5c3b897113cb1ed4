"""What a reader returns for each chunk: normalized rows per table and the rejected lines."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

REJECT_SCHEMA = pa.schema(
    [
        ("log_line", pa.int64()),
        ("log_offset", pa.int64()),
        ("reason", pa.large_string()),
        ("raw", pa.large_string()),
    ]
)


@dataclass(frozen=True)
class Provenance:
    """Where the rows being parsed come from; stamped on every row."""

    log_file_path: str
    ingest_id: int


_META = ["reject_reason", "reject_raw", "reject_offset"]


@dataclass(frozen=True)
class NormalizeQuery:
    """Rows still to be typed: a SELECT (``normalize.select_normalized``) over an Arrow input.

    The typing is left to whoever stores the rows so that it runs once, inside the INSERT,
    instead of being materialized in between. ``exact`` gives the query that re-reads the same
    lines one by one, for the exact offset and text of rejects.
    """

    table: str
    sql: str
    inputs: dict[str, pa.Table]
    rows: int
    exact: Callable[[], NormalizeQuery] | None = None

    def register(self, con: duckdb.DuckDBPyConnection) -> None:
        for name, data in self.inputs.items():
            con.register(name, data)

    def unregister(self, con: duckdb.DuckDBPyConnection) -> None:
        for name in self.inputs:
            con.unregister(name)

    def good_rows_sql(self) -> str:
        return (
            f"SELECT * EXCLUDE ({', '.join(_META)}) FROM ({self.sql}) WHERE reject_reason IS NULL"
        )

    def rejects_sql(self) -> str:
        return (
            "SELECT log_line, reject_offset AS log_offset, reject_reason AS reason, "
            f"reject_raw AS raw FROM ({self.sql}) WHERE reject_reason IS NOT NULL"
        )


@dataclass
class ParsedBatch:
    """Rows per table (Arrow, in the table's column order), rejects (``REJECT_SCHEMA``) and
    queries whose rows are typed when they are stored."""

    tables: dict[str, list[pa.Table]] = field(default_factory=dict)
    rejects: list[pa.Table] = field(default_factory=list)
    queries: list[NormalizeQuery] = field(default_factory=list)

    def materialize(self, con: duckdb.DuckDBPyConnection) -> None:
        """Run the pending queries into Arrow tables and rejects (for callers without a store)."""
        for query in self.queries:
            query.register(con)
            try:
                self.add_rows(query.table, con.execute(query.good_rows_sql()).to_arrow_table())
                bad = con.execute(query.rejects_sql()).to_arrow_table()
            finally:
                query.unregister(con)
            if bad.num_rows and query.exact is not None:
                exact = query.exact()
                exact.register(con)
                try:
                    bad = con.execute(exact.rejects_sql()).to_arrow_table()
                finally:
                    exact.unregister(con)
            self.add_rejects(bad)
        self.queries = []

    def add_rows(self, table: str, rows: pa.Table) -> None:
        if rows.num_rows:
            self.tables.setdefault(table, []).append(rows)

    def add_rejects(self, rejects: pa.Table) -> None:
        if rejects.num_rows:
            self.rejects.append(rejects.select(REJECT_SCHEMA.names).cast(REJECT_SCHEMA))

    def add_normalized(self, table: str, result: pa.Table) -> None:
        """Split the output of ``normalize.select_normalized`` into rows and rejects."""
        reasons = result["reject_reason"]
        if reasons.null_count == result.num_rows:
            self.add_rows(table, result.drop_columns(_META))
            return
        bad = pc.is_valid(reasons)
        self.add_rows(table, result.filter(pc.invert(bad)).drop_columns(_META))
        rej = result.filter(bad)
        self.add_rejects(
            pa.table(
                {
                    "log_line": rej["log_line"],
                    "log_offset": rej["reject_offset"],
                    "reason": rej["reject_reason"],
                    "raw": rej["reject_raw"],
                }
            )
        )

    def merge(self, other: ParsedBatch) -> None:
        for name, parts in other.tables.items():
            self.tables.setdefault(name, []).extend(parts)
        self.rejects.extend(other.rejects)
        self.queries.extend(other.queries)

    @property
    def reject_count(self) -> int:
        return sum(t.num_rows for t in self.rejects)


def rejected_lines(lines: pa.Table, reason: str) -> pa.Table:
    """Reject every line of a ``lines.line_table`` with the same reason (blank lines skipped)."""
    lines = lines.filter(pc.not_equal(pc.utf8_trim_whitespace(lines["line"]), ""))
    return pa.table(
        {
            "log_line": lines["log_line"],
            "log_offset": lines["log_offset"],
            "reason": pa.array([reason] * lines.num_rows, type=pa.large_string()),
            "raw": lines["line"],
        }
    )
