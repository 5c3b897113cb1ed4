"""SQL that turns raw field text into typed, normalized columns, and says why a line is bad.

The readers hand DuckDB a relation of raw text (TSV fields, or values pulled out of JSON) and
these expressions do the typing in the engine, vectorised. A value that does not fit its column
makes the whole line a reject with a reason naming the field and its text, never a silent NULL.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import duckdb
import duckdb.func

from signalfire.model.schema import TableSchema

#: Zeek's ASCII writer escapes the separator and non-printable bytes as ``\\xNN``.
UNESCAPE_UDF = "sf_unescape"
_ZEEK_ESCAPE = re.compile(rb"\\x([0-9a-fA-F]{2})")

_KIND = {
    "DOUBLE": "a number",
    "BIGINT": "an integer",
    "INTEGER": "an integer in range",
    "BOOLEAN": "a boolean (T/F)",
    "TIMESTAMP": "a time (epoch seconds or ISO 8601)",
    "DOUBLE[]": "a list of numbers",
}


def quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def quote_literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _unescape(value: str) -> str:
    # Called only for the rare values that contain an escape (see zeek_text_value).
    raw = _ZEEK_ESCAPE.sub(lambda m: bytes([int(m.group(1), 16)]), value.encode("utf-8"))
    return raw.decode("utf-8", "backslashreplace")


def register_functions(con: duckdb.DuckDBPyConnection) -> None:
    """Make the functions the normalizing SQL uses available on a connection (idempotent)."""
    found = con.execute(
        "SELECT count(*) FROM duckdb_functions() WHERE function_name = ?", [UNESCAPE_UDF]
    ).fetchone()
    if found and found[0]:
        return
    con.create_function(
        UNESCAPE_UDF,
        _unescape,
        [duckdb.sqltype("VARCHAR")],
        duckdb.sqltype("VARCHAR"),
        type=duckdb.func.PythonUDFType.NATIVE,
        side_effects=False,
    )


def engine() -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB used by the readers as a pure compute engine (no store access)."""
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    register_functions(con)
    return con


@dataclass(frozen=True)
class Typed:
    """How to compute one column from the input.

    Attributes:
        value: SQL of the typed value.
        present: SQL of the text that must parse (NULL when the field is unset); None for text
            columns, which cannot fail.
        field: the input's own name of the field, for the reject reason.
    """

    value: str
    present: str | None
    field: str


def zeek_text_value(
    raw: str,
    type_: str,
    field: str,
    set_separator: str = ",",
    unset_field: str = "-",
    empty_field: str = "(empty)",
) -> Typed:
    """Type a Zeek TSV field (by default ``-`` is unset, ``(empty)`` an empty string or set)."""
    unset_lit, empty_lit = quote_literal(unset_field), quote_literal(empty_field)
    unset = f"({raw} IS NULL OR {raw} = {unset_lit})"
    empty = f"{raw} = {empty_lit}"
    present = f"NULLIF(NULLIF({raw}, {unset_lit}), {empty_lit})"
    sep = quote_literal(set_separator)
    if type_ == "VARCHAR":
        return Typed(
            f"CASE WHEN {unset} THEN NULL WHEN {empty} THEN '' "
            f"WHEN contains({raw}, '\\x') THEN {UNESCAPE_UDF}({raw}) ELSE {raw} END",
            None,
            field,
        )
    if type_ in ("VARCHAR[]", "DOUBLE[]"):
        elem = "VARCHAR" if type_ == "VARCHAR[]" else "DOUBLE"
        items = f"string_split({raw}, {sep})"
        if elem == "DOUBLE":
            items = f"list_transform({items}, x -> TRY_CAST(x AS DOUBLE))"
        value = f"CASE WHEN {unset} THEN NULL WHEN {empty} THEN []::{type_} ELSE {items} END"
        return Typed(value, present if elem == "DOUBLE" else None, field)
    if type_ == "BOOLEAN":
        value = (
            f"CASE {raw} WHEN 'T' THEN true WHEN 'F' THEN false "
            f"ELSE TRY_CAST({present} AS BOOLEAN) END"
        )
    elif type_ == "TIMESTAMP":
        value = _epoch_to_timestamp(f"TRY_CAST({present} AS DOUBLE)")
    else:
        value = f"TRY_CAST({present} AS {type_})"
    return Typed(value, present, field)


def _epoch_to_timestamp(seconds: str) -> str:
    # Rounded to whole microseconds so 1517336042.090842 stays .090842 and TSV and JSON agree.
    return f"make_timestamp(CAST(round(({seconds}) * 1000000) AS BIGINT))"


def json_value(obj: str, paths: list[str], type_: str, field: str) -> Typed:
    """Type one value of a JSON object, taken from the first of ``paths`` that is present."""
    nodes = [f"json_extract({obj}, {quote_literal(p)})" for p in paths]
    node = nodes[0] if len(nodes) == 1 else f"COALESCE({', '.join(nodes)})"
    text = f"({node} ->> '$')"
    if type_ == "VARCHAR":
        return Typed(text, None, field)
    if type_ in ("VARCHAR[]", "DOUBLE[]"):
        elem = "VARCHAR" if type_ == "VARCHAR[]" else "DOUBLE"
        kind = f"json_type({node})"
        value = (
            f"CASE WHEN {node} IS NULL OR {kind} = 'NULL' THEN NULL "
            f"WHEN {kind} = 'ARRAY' THEN json_transform({node}, '[\"{elem}\"]') "
            f"ELSE [TRY_CAST({text} AS {elem})] END"
        )
        return Typed(value, text if elem == "DOUBLE" else None, field)
    if type_ == "TIMESTAMP":
        value = (
            f"COALESCE({_epoch_to_timestamp(f'TRY_CAST({text} AS DOUBLE)')}, "
            f"CAST(TRY_CAST({text} AS TIMESTAMPTZ) AS TIMESTAMP))"
        )
    elif type_ == "BOOLEAN":
        value = f"TRY_CAST({text} AS BOOLEAN)"
    else:
        value = f"TRY_CAST({text} AS {type_})"
    return Typed(value, text, field)


def select_normalized(
    table: TableSchema,
    values: dict[str, Typed],
    *,
    extra: str,
    provenance: dict[str, str],
    reasons: list[str],
    source: str,
) -> str:
    """A SELECT giving every column of ``table`` plus ``reject_reason`` (NULL for a good row),
    ``reject_raw`` and ``reject_offset``.

    Args:
        values: column -> how to compute it, for the columns the input has.
        extra: SQL of the MAP(VARCHAR, VARCHAR) of fields kept as text.
        provenance: column -> SQL for event_dataset, log_line and ingest_id.
        reasons: more reject tests, each SQL giving a reason text or NULL.
        source: the relation to read (with ``log_line``, ``log_offset`` and ``raw`` columns).
    """
    inner, outer, checks = [], [], list(reasons)
    for column in table.columns:
        if column.name == "extra":
            expr = extra
        elif column.name in provenance:
            expr = provenance[column.name]
        elif column.name in values:
            expr = values[column.name].value
        else:
            expr = "NULL"
        inner.append(f"CAST({expr} AS {column.type}) AS {quote_ident(column.name)}")
        outer.append(quote_ident(column.name))
    for i, (name, typed) in enumerate(values.items()):
        if typed.present is None:
            continue
        # The typed value is computed once, in the inner query; the outer one only compares.
        text = f"__present{i}"
        inner.append(f"{typed.present} AS {text}")
        kind = _KIND.get(table.type_of(name), table.type_of(name).lower())
        col = quote_ident(name)
        failed = (
            f"list_contains(list_transform({col}, x -> x IS NULL), true)"
            if table.type_of(name).endswith("[]")
            else f"{col} IS NULL"
        )
        label = quote_literal(typed.field + " = '")
        tail = quote_literal("' is not " + kind)
        checks.append(
            f"CASE WHEN {text} IS NOT NULL AND {failed} THEN "
            f"{label} || left({text}, 80) || {tail} END"
        )
    reason = f"NULLIF(concat_ws('; ', {', '.join(checks)}), '')" if checks else "NULL"
    inner_sql = (
        f"SELECT {', '.join(inner)}, raw AS reject_raw, log_offset AS reject_offset, "
        f"* EXCLUDE (raw, log_offset, log_line) FROM {source}"
    )
    return (
        f"SELECT {', '.join(outer)}, CAST({reason} AS VARCHAR) AS reject_reason, "
        f"reject_raw, reject_offset FROM ({inner_sql})"
    )
