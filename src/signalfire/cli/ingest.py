"""``signalfire ingest PATH...``: store Zeek and Suricata logs, losslessly and idempotently."""

from __future__ import annotations

from pathlib import Path

import click
from rich.table import Table

from signalfire import runner
from signalfire.cli import exit_codes, output
from signalfire.cli.main import global_options
from signalfire.store import Store


def print_summary(summary: runner.IngestSummary) -> None:
    """The human summary of an ingest run."""
    data = summary.to_json()
    out = output.stdout
    out.print(
        f"Read {data['files']} file(s) in {summary.seconds:.1f} s: "
        f"{sum(summary.rows.values()):,} rows stored, {summary.rejected:,} lines rejected, "
        f"{data['already_ingested']} already ingested, {data['appended']} grown since last time."
    )
    if summary.rows:
        table = Table("table", "rows stored", box=None, pad_edge=False)
        for name, rows in summary.rows.items():
            table.add_row(name, f"{rows:,}")
        out.print(table)
    rejected = [o for o in summary.outcomes if o.rejected]
    if rejected:
        out.print(
            f"[yellow]{len(rejected)} file(s) had rejected lines[/] (kept with the reason in the "
            "rejects table; see `signalfire status`):"
        )
        for o in rejected[:10]:
            out.print(f"  {o.path}: {o.rejected:,} rejected ({o.format})")
    for o in summary.outcomes:
        if o.held_back_bytes:
            out.print(
                f"[dim]{o.path}: last line has no newline yet (still being written?); "
                "it will be read on the next run[/]"
            )
        if o.error:
            out.print(f"[red]{o.path}: failed: {o.error}[/]")


@click.command("ingest")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print one JSON summary for scripts.")
@click.pass_context
def ingest_command(ctx: click.Context, paths: tuple[Path, ...], as_json: bool) -> None:
    """Ingest Zeek (TSV or JSON) and Suricata EVE logs: files or directories (recursive).

    The format is recognised from each file's content; .gz and .bz2 are read as they are.
    A file already ingested adds nothing; a file that grew adds only its new lines. Lines that
    cannot be parsed are kept in the rejects table with the reason.
    """
    opts = global_options(ctx)
    with Store.open(opts.db) as store, output.byte_progress(not as_json, "ingest") as progress:
        summary = runner.ingest(store, paths, progress=progress)
    if as_json:
        output.print_json(summary.to_json())
    else:
        print_summary(summary)
    if any(o.error for o in summary.outcomes):
        ctx.exit(exit_codes.SOURCE)


def register(cli: click.Group) -> None:
    """Add ``ingest`` to the CLI."""
    cli.add_command(ingest_command)
