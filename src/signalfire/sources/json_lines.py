"""Shared by the JSON readers: one JSON object per line, parsed and classified in DuckDB."""

from __future__ import annotations

import duckdb

from signalfire.model.schema import TABLES_BY_NAME
from signalfire.sources.batch import ParsedBatch, Provenance
from signalfire.sources.lines import line_table
from signalfire.sources.normalize import Typed, quote_literal, select_normalized
from signalfire.sources.reader import Chunk

NOT_JSON = "not a valid JSON object: the line is cut off or is not JSON; fix or remove it"


def extra_map(obj: str, known: list[str]) -> str:
    """SQL of the JSON object of every top-level key not in ``known`` with its value as text
    (NULL when there is none)."""
    keys = "[" + ", ".join(quote_literal(k) for k in sorted(set(known))) + "]::VARCHAR[]"
    entries = (
        f"list_filter(map_entries(CAST({obj} AS MAP(VARCHAR, JSON))), "
        f"e -> NOT list_contains({keys}, e.key) AND e.value IS NOT NULL "
        "AND json_type(e.value) <> 'NULL')"
    )
    pairs = f"list_transform({entries}, e -> {{'key': e.key, 'value': e.value ->> '$'}})"
    as_text = f"map_from_entries({pairs})"
    return f"CASE WHEN len({entries}) = 0 THEN NULL ELSE to_json({as_text}) END"


class JsonLinesReader:
    """Parses chunks of a JSON-lines file; subclasses say how a line maps to a table."""

    format = "json"

    def __init__(self, con: duckdb.DuckDBPyConnection, provenance: Provenance) -> None:
        self.con = con
        self.provenance = provenance

    def prime(self, head: bytes) -> None:
        """JSON lines carry no header; nothing to remember from the start of the file."""

    def dataset_sql(self, obj: str) -> str:
        """SQL naming the dataset (Zeek path or Suricata event type) of a parsed line."""
        raise NotImplementedError

    def table_of(self, dataset: str) -> str:
        raise NotImplementedError

    def columns_for(self, table: str, obj: str) -> tuple[dict[str, Typed], str]:
        """Column expressions and the ``extra`` map expression for rows of ``table``."""
        raise NotImplementedError

    def parse(self, chunk: Chunk) -> ParsedBatch:
        batch = ParsedBatch()
        self.con.register("sf_lines", line_table(chunk))
        try:
            self.con.execute(
                "CREATE OR REPLACE TEMP TABLE sf_json AS SELECT *, "
                f"{self.dataset_sql('j')} AS dataset FROM ("
                "SELECT log_line, log_offset, line AS raw, "
                "CASE WHEN json_type(TRY_CAST(line AS JSON)) = 'OBJECT' "
                "THEN TRY_CAST(line AS JSON) END AS j "
                "FROM sf_lines WHERE trim(line) <> '')"
            )
        finally:
            self.con.unregister("sf_lines")
        bad = self.con.execute(
            f"SELECT log_line, log_offset, {quote_literal(NOT_JSON)} AS reason, raw "
            "FROM sf_json WHERE j IS NULL"
        ).to_arrow_table()
        batch.add_rejects(bad)
        datasets = [
            r[0]
            for r in self.con.execute(
                "SELECT DISTINCT dataset FROM sf_json WHERE j IS NOT NULL ORDER BY 1"
            ).fetchall()
        ]
        by_table: dict[str, list[str]] = {}
        for dataset in datasets:
            by_table.setdefault(self.table_of(dataset), []).append(dataset)
        for table, members in by_table.items():
            values, extra = self.columns_for(table, "j")
            provenance = {
                "event_dataset": "dataset",
                "log_line": "log_line",
                "ingest_id": str(self.provenance.ingest_id),
            }
            where = ", ".join(quote_literal(d) for d in members)
            sql = select_normalized(
                TABLES_BY_NAME[table],
                values,
                extra=extra,
                provenance=provenance,
                reasons=[],
                source=f"(SELECT * FROM sf_json WHERE j IS NOT NULL AND dataset IN ({where}))",
            )
            batch.add_normalized(table, self.con.execute(sql).to_arrow_table())
        return batch
