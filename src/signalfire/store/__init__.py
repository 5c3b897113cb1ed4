"""The store: a DuckDB file opened through Ibis, its table catalog, migrations and ingest log."""

from __future__ import annotations

from signalfire.store.connection import Store

__all__ = ["Store"]
