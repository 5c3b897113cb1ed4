"""Create, check and upgrade the store's schema.

The store records its schema version in ``schema_meta``. Opening a store written by a newer
Signalfire fails with a message that says what to do; an older one is upgraded in one
transaction: first the explicit steps in ``STEPS`` (renames and data changes that cannot be
inferred), then every table and column the current schema declares and the store lacks is added.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import duckdb

from signalfire import __version__
from signalfire.errors import SchemaVersionError, StoreError
from signalfire.model.schema import ALL_TABLES, SCHEMA_VERSION, TableSchema

#: STEPS[v] upgrades a store from version v to v + 1 before the additive reconciliation runs.
#: Version 0 is a store without ``schema_meta`` (written before versioning); nothing to rename.
#: Version 1 -> 2 adds the alerts table, 2 -> 3 the threat-intelligence tables (indicators,
#: sightings, allowlist, TAXII collections and objects): the reconciliation creates them.
STEPS: dict[int, Callable[[duckdb.DuckDBPyConnection], None]] = {
    0: lambda con: None,
    1: lambda con: None,
    2: lambda con: None,
}


def _create_sql(table: TableSchema) -> str:
    cols = ", ".join(f'"{c.name}" {c.type}' for c in table.columns)
    if table.primary_key:
        cols += f', PRIMARY KEY ("{table.primary_key}")'
    return f'CREATE TABLE IF NOT EXISTS "{table.name}" ({cols})'


def _existing_tables(con: duckdb.DuckDBPyConnection) -> set[str]:
    rows = con.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main'"
    ).fetchall()
    return {r[0] for r in rows}


def stored_version(con: duckdb.DuckDBPyConnection) -> int | None:
    """The schema version recorded in the store; None for an empty database file."""
    tables = _existing_tables(con)
    if "schema_meta" not in tables:
        return 0 if tables else None
    row = con.execute("SELECT value FROM schema_meta WHERE key = 'schema_version'").fetchone()
    if row is None:
        return 0
    try:
        return int(row[0])
    except ValueError as exc:
        raise StoreError(
            f"schema_meta holds a schema version that is not a number: {row[0]!r}"
        ) from exc


def _reconcile(con: duckdb.DuckDBPyConnection) -> None:
    existing = _existing_tables(con)
    for table in ALL_TABLES:
        if table.name not in existing:
            con.execute(_create_sql(table))
            continue
        have = {
            r[0]
            for r in con.execute(
                "SELECT column_name FROM information_schema.columns "
                "WHERE table_schema = 'main' AND table_name = ?",
                [table.name],
            ).fetchall()
        }
        for column in table.columns:
            if column.name not in have:
                con.execute(f'ALTER TABLE "{table.name}" ADD COLUMN "{column.name}" {column.type}')


def _set_version(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("DELETE FROM schema_meta WHERE key IN ('schema_version', 'written_by')")
    con.execute(
        "INSERT INTO schema_meta VALUES ('schema_version', ?), ('written_by', ?)",
        [str(SCHEMA_VERSION), f"signalfire {__version__}"],
    )


def ensure_current(con: duckdb.DuckDBPyConnection, path: Path, *, read_only: bool) -> None:
    """Make the store's schema current, or refuse a store from a newer Signalfire.

    Raises:
        SchemaVersionError: the store's version is newer than this Signalfire's.
        StoreError: the store is older but opened read-only, so it cannot be upgraded.
    """
    version = stored_version(con)
    if version is not None and version > SCHEMA_VERSION:
        raise SchemaVersionError(
            f"store {path} was written by a newer Signalfire (schema version {version}; this "
            f"is signalfire {__version__}, schema version {SCHEMA_VERSION}): upgrade Signalfire "
            "(pip install -U signalfire) or use another --db"
        )
    if version == SCHEMA_VERSION:
        return
    if read_only:
        raise StoreError(
            f"store {path} has schema version {version} and needs an upgrade to "
            f"{SCHEMA_VERSION}: run any writing command once (e.g. signalfire ingest) first"
        )
    con.execute("BEGIN TRANSACTION")
    try:
        for step in range(version or 0, SCHEMA_VERSION):
            if version is not None:
                STEPS[step](con)
        _reconcile(con)
        _set_version(con)
    except BaseException:
        con.execute("ROLLBACK")
        raise
    con.execute("COMMIT")
