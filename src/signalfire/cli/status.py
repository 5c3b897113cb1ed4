"""``signalfire status``: what the store holds."""

from __future__ import annotations

import click
from rich.table import Table

from signalfire.cli import output
from signalfire.cli.main import global_options
from signalfire.store import Store
from signalfire.store.status import describe


def print_status(info: dict[str, object]) -> None:
    """The human view of ``describe``."""
    out = output.stdout
    out.print(f"[bold]Store[/] {info['store']} (schema version {info['schema_version']})")
    table = Table("table", "rows", "first event (UTC)", "last event (UTC)", box=None)
    for t in info["tables"]:  # type: ignore[attr-defined]
        if t["rows"]:
            table.add_row(t["table"], f"{t['rows']:,}", str(t["first"]), str(t["last"]))
    out.print(table if table.row_count else "No events stored yet: run `signalfire ingest PATH`.")
    sources = Table("source format", "files", "rows", "rejected", "last ingest (UTC)", box=None)
    for s in info["sources"]:  # type: ignore[attr-defined]
        sources.add_row(
            s["format"],
            str(s["files"]),
            f"{s['rows']:,}",
            f"{s['rejected']:,}",
            str(s["last_ingest"]),
        )
    if sources.row_count:
        out.print(sources)
    rejects = info["rejects"]
    assert isinstance(rejects, dict)
    if rejects["lines"]:
        out.print(f"[yellow]{rejects['lines']:,} rejected lines[/], most common reasons:")
        for r in rejects["top_reasons"]:
            out.print(f"  {r['lines']:>8,}  ({r['files']} file(s))  {r['reason'][:110]}")


@click.command("status")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document for scripts.")
@click.pass_context
def status_command(ctx: click.Context, as_json: bool) -> None:
    """Show the tables, row counts, time ranges, sources and rejects of the store."""
    with Store.open(global_options(ctx).db, read_only=True) as store:
        info = describe(store)
    if as_json:
        output.print_json(info)
    else:
        print_status(info)


def register(cli: click.Group) -> None:
    """Add ``status`` to the CLI."""
    cli.add_command(status_command)
