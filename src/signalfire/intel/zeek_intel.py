"""Import Zeek intel framework files (``#fields indicator indicator_type meta.source ...``).

The file is read by DuckDB's CSV reader (tab-separated, no quoting, the ``#fields`` line gives
the column names in any order), never line by line in Python. Zeek types map to ours
(``Intel::ADDR`` → an address, ``Intel::SUBNET`` → a network, ``Intel::FILE_HASH`` → md5,
sha1, sha256 or sha512 by length, ``Intel::CERT_HASH`` → a certificate's SHA-1, …); a type we
do not know is kept as ``zeek:<type>`` with evaluable false. ``-`` is Zeek's "unset".

``meta.source`` is the source (unless ``--source``), ``meta.desc`` the description,
``meta.cif_confidence`` the confidence; every other ``meta.*`` field is kept in the context.
A line with too few or too many fields is an error with its line number and text (the rest of
the file is imported); lines starting with ``#`` are comments. A Zeek intel file has no dates:
its modification time is the indicators' ``modified``, so a re-downloaded feed re-dates (and
so refreshes the decay of) what it still lists.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pyarrow as pa

from signalfire.errors import IntelError
from signalfire.intel.indicators import ALIASES, RecordError, Staged, file_modified_iso

_HEADER_LINES = 64


def aliases_table() -> pa.Table:
    """The type aliases as a table, for joining in the engine."""
    return pa.table(
        {
            "alias": pa.array(list(ALIASES), pa.string()),
            "our_type": pa.array(list(ALIASES.values()), pa.string()),
        }
    )


def read_header(path: Path) -> tuple[int, list[str], str]:
    """(lines before the data, field names, separator) of a Zeek-style file.

    Raises:
        IntelError: no ``#fields`` line, or no indicator/indicator_type field.
    """
    separator = "\t"
    with path.open(encoding="utf-8", errors="replace") as f:
        for number, line in enumerate(f, start=1):
            line = line.rstrip("\r\n")
            if line.startswith("#separator "):
                raw = line.split(" ", 1)[1].strip()
                separator = raw.encode().decode("unicode_escape") if "\\x" in raw else raw
            elif line.startswith("#fields"):
                fields = line.split(separator)[1:]
                missing = {"indicator", "indicator_type"} - set(fields)
                if missing:
                    raise IntelError(
                        f"{path}:{number}: the #fields line lacks {', '.join(sorted(missing))}; "
                        "a Zeek intel file needs indicator and indicator_type"
                    )
                return number, fields, separator
            elif not line.startswith("#") or number > _HEADER_LINES:
                break
    raise IntelError(f"{path}: no #fields line before the data; is this a Zeek intel file?")


def rejected_lines(con: duckdb.DuckDBPyConnection, table: str) -> list[RecordError]:
    """The lines DuckDB's CSV reader rejected (comment lines excepted), one error per line."""
    rows = con.execute(
        f"SELECT line, any_value(csv_line), string_agg(DISTINCT error_message, '; ') "
        f"FROM {table} WHERE NOT starts_with(coalesce(csv_line, ''), '#') "
        "GROUP BY line ORDER BY line"
    ).fetchall()
    return [RecordError(str(r[2]), line=int(r[0]), raw=r[1]) for r in rows]


def _sql_literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def stage(con: duckdb.DuckDBPyConnection, path: Path, source: str | None) -> Staged:
    """Stage a Zeek intel file into ``sf_intel_stage``.

    Raises:
        IntelError: the file has no usable ``#fields`` header.
    """
    skip, fields, separator = read_header(path)
    if len(separator) != 1:
        raise IntelError(f"{path}: separator {separator!r} is not one character")
    columns = {f"c{i}": "VARCHAR" for i in range(len(fields))}
    col = {name: f"c{i}" for i, name in enumerate(fields)}

    def field(name: str) -> str:
        return f"nullif(r.{col[name]}, '-')" if name in col else "NULL::VARCHAR"

    extra = [
        f for f in fields if f not in ("indicator", "indicator_type", "meta.source", "meta.desc")
    ]
    if extra:
        pairs = ", ".join(f"{_sql_literal(f)}, {field(f)}" for f in extra)
        context = f"nullif(json_object({pairs})::VARCHAR, '{{}}')"
    else:
        context = "NULL::VARCHAR"
    confidence = (
        f"CASE WHEN TRY_CAST({field('meta.cif_confidence')} AS DOUBLE) BETWEEN 0 AND 100 "
        f"THEN round(TRY_CAST({field('meta.cif_confidence')} AS DOUBLE))::INTEGER END"
        if "meta.cif_confidence" in col
        else "NULL::INTEGER"
    )
    con.register("sf_type_aliases", aliases_table())
    try:
        con.execute(
            "INSERT INTO sf_intel_stage BY NAME SELECT "
            "NULL AS pos, "
            f"coalesce(a.our_type, 'zeek:' || {field('indicator_type')}) AS type, "
            f"r.{col['indicator']} AS raw_value, "
            f"{field('indicator_type')} AS source_type, 'zeek' AS source_format, "
            "CASE WHEN a.our_type IS NULL THEN false END AS evaluable, "
            f"CASE WHEN a.our_type IS NULL THEN concat('type ', chr(39), 'zeek:', "
            f"{field('indicator_type')}, chr(39), ' is not one signalfire matches') END AS reason, "
            f"coalesce($source::VARCHAR, {field('meta.source')}, $default_source::VARCHAR) "
            "AS source, "
            f"{field('meta.desc')} AS description, {confidence} AS confidence, "
            f"$modified::VARCHAR AS modified, {context} AS context "
            "FROM read_csv($path, delim=$sep, quote='', escape='', header=false, skip=$skip, "
            f"columns={columns!r}, auto_detect=false, store_rejects=true, "
            "rejects_table='sf_rejects', rejects_scan='sf_rejects_scan') AS r "
            f"LEFT JOIN sf_type_aliases AS a ON a.alias = lower({field('indicator_type')}) "
            f"WHERE NOT starts_with(r.{col['indicator']}, '#')",
            {
                "source": source,
                "default_source": path.stem,
                "modified": file_modified_iso(path),
                "path": str(path),
                "sep": separator,
                "skip": skip,
            },
        )
    finally:
        con.unregister("sf_type_aliases")
    staged = Staged("zeek", errors=rejected_lines(con, "sf_rejects"))
    con.execute("DROP TABLE IF EXISTS sf_rejects; DROP TABLE IF EXISTS sf_rejects_scan")
    count = con.execute("SELECT count(*) FROM sf_intel_stage").fetchone()
    staged.records = (int(count[0]) if count else 0) + len(staged.errors)
    return staged
