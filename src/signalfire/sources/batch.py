"""What a reader returns for each chunk: normalized rows per table and the rejected lines."""

from __future__ import annotations

from dataclasses import dataclass, field

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


@dataclass
class ParsedBatch:
    """Rows per table (Arrow, in the table's column order) and rejects (``REJECT_SCHEMA``)."""

    tables: dict[str, list[pa.Table]] = field(default_factory=dict)
    rejects: list[pa.Table] = field(default_factory=list)

    def add_rows(self, table: str, rows: pa.Table) -> None:
        if rows.num_rows:
            self.tables.setdefault(table, []).append(rows)

    def add_rejects(self, rejects: pa.Table) -> None:
        if rejects.num_rows:
            self.rejects.append(rejects.select(REJECT_SCHEMA.names).cast(REJECT_SCHEMA))

    def add_normalized(self, table: str, result: pa.Table) -> None:
        """Split the output of ``normalize.select_normalized`` into rows and rejects."""
        reasons = result["reject_reason"]
        meta = ["reject_reason", "reject_raw", "reject_offset"]
        if reasons.null_count == result.num_rows:
            self.add_rows(table, result.drop_columns(meta))
            return
        bad = pc.is_valid(reasons)
        self.add_rows(table, result.filter(pc.invert(bad)).drop_columns(meta))
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
