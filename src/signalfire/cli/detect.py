"""``signalfire detect``, ``signalfire alerts`` and ``signalfire analyze``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click
from rich.table import Table

from signalfire import runner
from signalfire.cli import output
from signalfire.cli.ingest import print_summary
from signalfire.cli.main import global_options
from signalfire.detections.registry import SEVERITIES
from signalfire.store import Store
from signalfire.store.alerts import list_alerts
from signalfire.store.status import describe

ALERT_FIELDS = (
    "id",
    "detection",
    "severity",
    "score",
    "first_seen",
    "last_seen",
    "source_ip",
    "destination_ip",
    "destination_port",
    "destination_domain",
    "attack",
    "intrusion_set",
    "evidence",
)

internal_option = click.option(
    "--internal",
    "internal",
    multiple=True,
    metavar="CIDR",
    help="An internal network (repeatable; default $SIGNALFIRE_INTERNAL_NETWORKS or "
    "RFC 1918 + fc00::/7).",
)
only_option = click.option(
    "--only", multiple=True, metavar="ID", help="Run only this detection (repeatable)."
)


def _print_detect(summary: runner.DetectSummary) -> None:
    table = Table("detection", "alerts", "new", "seconds", box=None)
    for o in summary.outcomes:
        table.add_row(o.detection, str(o.alerts), str(o.new), f"{o.seconds:.2f}")
    output.stdout.print(table)
    data = summary.to_json()
    output.stdout.print(
        f"{data['alerts']} alert(s), {data['new']} new, in {summary.seconds:.1f} s. "
        "See them with `signalfire alerts`."
    )


def print_alerts(alerts: list[dict[str, Any]], limit: int = 25) -> None:
    if not alerts:
        output.stdout.print("No alerts.")
        return
    table = Table("severity", "score", "detection", "source", "destination", "first seen", box=None)
    for a in alerts[:limit]:
        dest = a["destination_domain"] or a["destination_ip"] or ""
        if a["destination_port"] is not None:
            dest += f":{a['destination_port']}"
        table.add_row(
            a["severity"],
            f"{a['score']:.2f}",
            a["detection"],
            a["source_ip"] or "",
            dest,
            str(a["first_seen"])[:19],
        )
    output.stdout.print(table)
    if len(alerts) > limit:
        output.stdout.print(f"... and {len(alerts) - limit} more (--json for all).")


@click.command("detect")
@internal_option
@only_option
@click.option("--json", "as_json", is_flag=True, help="Print one JSON summary for scripts.")
@click.pass_context
def detect_command(
    ctx: click.Context, internal: tuple[str, ...], only: tuple[str, ...], as_json: bool
) -> None:
    """Run the detections over everything in the store; alerts are stored under stable ids,
    so running again updates them instead of adding duplicates."""
    with Store.open(global_options(ctx).db) as store:
        summary = runner.detect(store, internal=internal or None, only=only or None)
    if as_json:
        output.print_json(summary.to_json())
    else:
        _print_detect(summary)


@click.command("alerts")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@click.option("--detection", multiple=True, metavar="ID", help="Only this detection.")
@click.option(
    "--min-severity", type=click.Choice(SEVERITIES), default=None, help="Hide less severe ones."
)
@click.option("--limit", type=click.IntRange(min=1), default=None, help="At most N alerts.")
@click.pass_context
def alerts_command(
    ctx: click.Context,
    as_json: bool,
    detection: tuple[str, ...],
    min_severity: str | None,
    limit: int | None,
) -> None:
    """List alerts, most severe first."""
    with Store.open(global_options(ctx).db, read_only=True) as store:
        alerts = list_alerts(
            store.con, detection=list(detection) or None, min_severity=min_severity, limit=limit
        )
    if as_json:
        for a in alerts:
            output.emit_line(json.dumps({k: a[k] for k in ALERT_FIELDS}, default=str))
    else:
        print_alerts(alerts)


@click.command("analyze")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@internal_option
@click.option(
    "--report",
    type=click.Path(path_type=Path, dir_okay=False),
    default=Path("signalfire-report.html"),
    show_default=True,
    help="Where to write the HTML report.",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON summary for scripts.")
@click.pass_context
def analyze_command(
    ctx: click.Context,
    paths: tuple[Path, ...],
    internal: tuple[str, ...],
    report: Path,
    as_json: bool,
) -> None:
    """Ingest logs, run the detections, print the alerts ranked and write an HTML report with
    the evidence and plots of each alert."""
    from signalfire.reports import html

    with Store.open(global_options(ctx).db) as store:
        with output.byte_progress(not as_json, "ingest") as progress:
            ingested = runner.ingest(store, paths, progress=progress)
        detected = runner.detect(store, internal=internal or None)
        alerts = list_alerts(store.con)
        html.write(report, alerts, describe(store))
    if as_json:
        output.print_json(
            {"ingest": ingested.to_json(), "detect": detected.to_json(), "report": str(report)}
        )
        return
    print_summary(ingested)
    output.stdout.print()
    print_alerts(alerts)
    output.stdout.print(f"\nReport: {report}")


def register(cli: click.Group) -> None:
    """Add ``detect``, ``alerts`` and ``analyze`` to the CLI."""
    for command in (detect_command, alerts_command, analyze_command):
        cli.add_command(command)
