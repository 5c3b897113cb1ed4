"""Open the store (a DuckDB file) and hand out its connection and Ibis backend."""

from __future__ import annotations

import os
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

import duckdb

from signalfire import settings
from signalfire.errors import StoreError
from signalfire.store import migrations

if TYPE_CHECKING:
    import ibis.expr.types as ir
    from ibis.backends.duckdb import Backend as IbisDuckDB


def memory_limit() -> str:
    """The engine's memory limit: the ``memory_limit`` setting, else half of physical memory.
    DuckDB's default (80 %) let a 100 M-row run grow to 18.8 GB of a 24 GB machine, mostly
    buffer cache, leaving little to the sensors and the web service that share it."""
    configured = settings.get("memory_limit")
    if configured:
        return str(configured)
    physical = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    return f"{max(physical // 2 // 2**20, 256)}MiB"


class Store:
    """An open Signalfire store.

    ``con`` is the raw DuckDB connection (used for ingest, which streams Arrow batches into the
    file); ``ibis`` is the same connection seen through Ibis, for the detections and queries.
    """

    def __init__(self, path: Path, con: duckdb.DuckDBPyConnection, read_only: bool) -> None:
        self.path = path
        self.con = con
        self.read_only = read_only
        self._ibis: IbisDuckDB | None = None

    @classmethod
    def open(cls, path: Path | str, *, read_only: bool = False) -> Store:
        """Open (creating or migrating if needed) the store at ``path``.

        Raises:
            StoreError: the file is not a DuckDB database, is locked by another process, or its
                directory does not exist.
            SchemaVersionError: the store was written by a newer Signalfire.
        """
        path = Path(path)
        if read_only and not path.exists():
            raise StoreError(
                f"no store at {path}: ingest some logs first (signalfire ingest PATH) "
                "or point --db / SIGNALFIRE_DB at an existing store"
            )
        if not path.parent.exists():
            raise StoreError(
                f"cannot create the store {path}: directory {path.parent} does not exist"
            )
        limit = memory_limit()
        try:
            con = duckdb.connect(str(path), read_only=read_only)
        except duckdb.IOException as exc:
            text = str(exc)
            if "lock" in text.lower():
                raise StoreError(
                    f"store {path} is in use by another Signalfire process; wait for it to "
                    "finish or use another --db"
                ) from exc
            raise StoreError(f"cannot open store {path}: {text}") from exc
        except duckdb.Error as exc:
            raise StoreError(
                f"{path} is not a Signalfire store (DuckDB cannot open it: {exc}); "
                "point --db at another file"
            ) from exc
        # Rows carry their own order (timestamp, log_line): letting DuckDB insert in any order
        # doubles ingest speed on two cores.
        con.execute("SET preserve_insertion_order = false")
        con.execute(f"SET memory_limit = '{limit}'")
        try:
            migrations.ensure_current(con, path, read_only=read_only)
        except BaseException:
            con.close()
            raise
        return cls(path, con, read_only)

    @property
    def ibis(self) -> IbisDuckDB:
        """The store as an Ibis backend (created on first use: importing Ibis is slow)."""
        if self._ibis is None:
            import ibis

            self._ibis = ibis.duckdb.from_connection(self.con)
        return self._ibis

    def table(self, name: str) -> ir.Table:
        """An Ibis table expression over one table of the store."""
        return self.ibis.table(name)

    def release_cached(self) -> None:
        """Drop the temporary tables detections cached (Ibis ``Table.cache``): they would
        otherwise live until garbage collection, possibly after the connection closed."""
        if self._ibis is None:
            return
        for name in list(getattr(self._ibis, "_cache_name_to_entry", {})):
            self._ibis._finalize_cached_table(name)

    def close(self) -> None:
        self.release_cached()
        self.con.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def scalar(self, sql: str, params: list[Any] | None = None) -> Any:
        """Run a query that returns one value."""
        row = self.con.execute(sql, params or []).fetchone()
        return None if row is None else row[0]
