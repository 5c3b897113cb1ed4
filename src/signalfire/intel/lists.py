"""Import plain indicator lists: CSV with a header, and text (one value per line).

Both are read by DuckDB's CSV reader, not line by line in Python.

CSV: the header names the columns. The value is in ``indicator``/``value``/``ioc`` (or in a
column named after a type: ``ip``, ``domain``, ``url``, ``sha256``, …), its type in
``type``/``indicator_type`` (our names, STIX's ``ipv4-addr``, MISP's ``ip-dst``, Zeek's
``Intel::ADDR``…; inferred from the value when absent or empty); ``source``, ``description``,
``confidence``, ``tlp``, ``first_seen``/``last_seen``/``valid_from``/``valid_until``, ``tags``,
``malware``, ``intrusion_set`` and ``attack`` are read when present, other columns are kept in
the context. Comment lines start with ``#``; a commented header (``# first_seen_utc,ioc,...``
as abuse.ch writes it) is recognised. A CSV without a known header is read as values in its
first column.

Text: one value per line; ``#``, ``;`` and ``//`` start comments; what follows the value on
its line (``1.2.3.0/24 ; SBL123``) is its description. A file where fewer than half the lines
look like indicators is refused unless ``--format text`` says it is one (a directory walk
otherwise imports every README as indicators).
"""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import duckdb

from signalfire.errors import IntelError
from signalfire.intel.indicators import ALIASES, Staged, file_modified_iso, infer_type_sql
from signalfire.intel.zeek_intel import aliases_table, rejected_lines

VALUE_HEADERS = ("indicator", "value", "ioc", "ioc_value", "observable", "indicator_value", "data")
TYPE_HEADERS = ("type", "indicator_type", "ioc_type", "kind", "data_type")
FIELD_HEADERS: dict[str, tuple[str, ...]] = {
    "source": ("source", "feed", "meta.source", "reporter"),
    "description": ("description", "desc", "comment", "comments", "meta.desc", "notes"),
    "name": ("name", "title"),
    "confidence": ("confidence", "confidence_level", "score", "meta.cif_confidence"),
    "tlp": ("tlp",),
    "valid_from": ("valid_from", "validfrom"),
    "valid_until": ("valid_until", "valid_to", "expires", "expiration", "expiry"),
    "first_seen": ("first_seen", "firstseen", "first_seen_utc", "dateadded", "date_added"),
    "last_seen": ("last_seen", "lastseen", "last_seen_utc", "last_online"),
    "labels": ("tags", "labels", "tag"),
    "malware": ("malware", "family", "malware_family", "malware_printable"),
    "intrusion_sets": ("intrusion_set", "intrusion_sets", "threat_actor", "actor", "group"),
    "attack": ("attack", "technique", "techniques", "mitre_attack"),
}
_LIST_FIELDS = ("labels", "malware", "intrusion_sets", "attack")
_HEAD_LINES = 200


def _norm(header: str) -> str:
    return header.strip().strip('"').strip().lower()


def _header(path: Path) -> tuple[int, list[str] | None, int]:
    """(lines to skip, header cells or None, number of columns) of a CSV list."""
    comments: list[str] = []
    with path.open(encoding="utf-8", errors="replace", newline="") as f:
        for number, line in enumerate(f, start=1):
            text = line.strip().lstrip("\ufeff")
            if not text:
                continue
            if text.startswith("#"):
                comments.append(text.lstrip("#").strip())
                if number > _HEAD_LINES:
                    break
                continue
            cells = next(csv.reader(io.StringIO(text)))
            if _is_header(cells):
                return number, cells, len(cells)
            if comments:
                commented = next(csv.reader(io.StringIO(comments[-1])), [])
                if _is_header(commented) and len(commented) == len(cells):
                    return number - 1, commented, len(cells)
            return number - 1, None, len(cells)
    return 0, None, 1


_KNOWN = set(VALUE_HEADERS) | set(TYPE_HEADERS) | {h for hs in FIELD_HEADERS.values() for h in hs}


def _is_header(cells: list[str]) -> bool:
    """Some cell is a column name we know, and no other cell looks like an indicator (a data
    row of ``evil.example,domain`` names a type too)."""
    names = [_norm(c) for c in cells]
    if not any(n in _KNOWN or n in ALIASES for n in names):
        return False
    return not any(
        n not in _KNOWN and n not in ALIASES and re.search(r"[.:@/]|^[0-9a-f]{32,}$", n)
        for n in names
    )


def stage(
    con: duckdb.DuckDBPyConnection, path: Path, source: str | None, fmt: str, explicit: bool = False
) -> Staged:
    """Stage a CSV or text list into ``sf_intel_stage``.

    Raises:
        IntelError: a text file that does not look like an indicator list (unless ``explicit``).
    """
    if fmt == "csv":
        return _stage_csv(con, path, source)
    return _stage_text(con, path, source, explicit)


def _col(i: int, table: str = "r") -> str:
    return f"nullif(trim({table}.c{i}), '')"


def _stage_csv(con: duckdb.DuckDBPyConnection, path: Path, source: str | None) -> Staged:
    skip, header, width = _header(path)
    names = [_norm(h) for h in header] if header else []
    columns = {f"c{i}": "VARCHAR" for i in range(width)}

    def find(candidates: tuple[str, ...]) -> int | None:
        return next((names.index(c) for c in candidates if c in names), None)

    value_index = find(VALUE_HEADERS)
    typed = None
    if value_index is None and header:
        value_index = next((i for i, n in enumerate(names) if n in ALIASES), None)
        if value_index is not None:
            typed = ALIASES[names[value_index]]
    if value_index is None:
        value_index = 0
    used = {value_index}
    type_index = find(TYPE_HEADERS)
    if type_index is not None:
        used.add(type_index)
    field_sql: dict[str, str] = {}
    for target, candidates in FIELD_HEADERS.items():
        index = find(candidates)
        if index is None or index in used:
            continue
        used.add(index)
        found = _col(index)
        if target in _LIST_FIELDS:
            found = (
                f"list_filter(list_transform(regexp_split_to_array(coalesce({found}, ''), "
                "'[;|]'), x -> trim(x)), x -> x <> '')"
            )
        field_sql[target] = found
    rest = [i for i in range(width) if i not in used]
    if rest and header:
        pairs = ", ".join(f"'{names[i].replace(chr(39), '')}', nullif(r.c{i}, '')" for i in rest)
        context = f"json_object({pairs})::VARCHAR"
    elif rest:
        context = f"json_object('columns', [{', '.join(f'r.c{i}' for i in rest)}])::VARCHAR"
    else:
        context = "NULL::VARCHAR"
    if type_index is not None:
        given_type = f"lower({_col(type_index)})"
    else:
        given_type = f"'{typed}'" if typed else "NULL::VARCHAR"
    unknown = f"{given_type} IS NOT NULL AND a.our_type IS NULL"
    select = {
        "pos": "row_number() OVER ()",
        "type": (
            f"CASE WHEN {given_type} IS NULL THEN {infer_type_sql('r.v')} "
            f"ELSE coalesce(a.our_type, 'csv:' || {given_type}) END"
        ),
        "raw_value": "r.v",
        "source_type": f"coalesce({given_type}, 'inferred')",
        "source_format": "'csv'",
        "evaluable": f"CASE WHEN {unknown} THEN false END",
        "reason": (
            f"CASE WHEN {unknown} THEN concat('type ', chr(39), 'csv:', {given_type}, chr(39), "
            "' is not one signalfire matches') END"
        ),
        "source": (
            f"coalesce($source::VARCHAR, {field_sql.pop('source', 'NULL')}, $default::VARCHAR)"
        ),
        "modified": "$modified::VARCHAR",
        "context": context,
    }
    if "confidence" in field_sql:
        raw = field_sql.pop("confidence")
        select["confidence"] = (
            f"CASE WHEN TRY_CAST({raw} AS DOUBLE) BETWEEN 0 AND 100 "
            f"THEN round(TRY_CAST({raw} AS DOUBLE))::INTEGER END"
        )
    select.update(field_sql)
    con.register("sf_type_aliases", aliases_table())
    try:
        con.execute(
            "INSERT INTO sf_intel_stage BY NAME "
            "WITH raw AS (SELECT * FROM read_csv($path, delim=',', quote='\"', escape='\"', "
            f"header=false, skip=$skip, columns={columns!r}, auto_detect=false, "
            "store_rejects=true, rejects_table='sf_rejects', rejects_scan='sf_rejects_scan')), "
            f"rv AS (SELECT raw.*, {_col(value_index, 'raw')} AS v FROM raw) "
            "SELECT "
            + ", ".join(f"{sql} AS {name}" for name, sql in select.items())
            + f" FROM rv AS r LEFT JOIN sf_type_aliases AS a ON a.alias = {given_type} "
            "WHERE r.v IS NOT NULL AND NOT starts_with(r.v, '#')",
            {
                "path": str(path),
                "skip": skip,
                "source": source,
                "default": path.stem,
                "modified": file_modified_iso(path),
            },
        )
    finally:
        con.unregister("sf_type_aliases")
    staged = Staged("csv", errors=rejected_lines(con, "sf_rejects"))
    con.execute("DROP TABLE IF EXISTS sf_rejects; DROP TABLE IF EXISTS sf_rejects_scan")
    count = con.execute("SELECT count(*) FROM sf_intel_stage").fetchone()
    staged.records = (int(count[0]) if count else 0) + len(staged.errors)
    return staged


def _stage_text(
    con: duckdb.DuckDBPyConnection, path: Path, source: str | None, explicit: bool
) -> Staged:
    con.execute(
        "INSERT INTO sf_intel_stage BY NAME "
        "WITH l AS (SELECT trim(line) AS t FROM read_csv($path, delim=chr(31), quote='', "
        "escape='', header=false, columns={'line': 'VARCHAR'}, auto_detect=false, "
        "null_padding=true)), "
        "x AS (SELECT regexp_extract(t, '^([^\\s#;,]+)', 1) AS v, "
        "nullif(trim(regexp_replace(t, '^[^\\s#;,]+[\\s#;,]*', '')), '') AS rest FROM l "
        "WHERE t <> '' AND NOT starts_with(t, '#') AND NOT starts_with(t, ';') "
        "AND NOT starts_with(t, '//')) "
        f"SELECT row_number() OVER () AS pos, {infer_type_sql('v')} AS type, v AS raw_value, "
        "'inferred' AS source_type, 'text' AS source_format, "
        "coalesce($source::VARCHAR, $default::VARCHAR) AS source, rest AS description, "
        "$modified::VARCHAR AS modified FROM x",
        {
            "path": str(path),
            "source": source,
            "default": path.stem,
            "modified": file_modified_iso(path),
        },
    )
    row = con.execute(
        "SELECT count(*), count(*) FILTER (WHERE "
        "regexp_full_match(raw_value, '[0-9.]+(/\\d+)?|[0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*(/\\d+)?'"
        ") OR regexp_full_match(raw_value, '[0-9A-Fa-f]{32,128}') OR contains(raw_value, '://') "
        "OR regexp_full_match(raw_value, '([A-Za-z0-9_-]+\\.)+[A-Za-z][A-Za-z0-9-]*\\.?')) "
        "FROM sf_intel_stage"
    ).fetchone()
    total, plausible = (int(row[0]), int(row[1])) if row else (0, 0)
    if not explicit and total and plausible * 2 < total:
        raise IntelError(
            f"{path}: does not look like an indicator list ({plausible} of {total} lines are "
            "addresses, domains, URLs or hashes); pass --format text to import it anyway"
        )
    return Staged("text", records=total)
