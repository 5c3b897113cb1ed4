"""``signalfire intel``: import, list, allowlist and export threat-intelligence indicators."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import click
from rich.table import Table

from signalfire.cli import output
from signalfire.cli.main import global_options
from signalfire.errors import ConfigError, SourceError
from signalfire.intel.indicators import FORMATS, TYPES, ImportOptions, ImportSummary, IndicatorStore
from signalfire.store import Store

LIST_FIELDS = (
    "indicator_id",
    "type",
    "value",
    "source",
    "current_confidence",
    "confidence",
    "active",
    "tlp",
    "name",
    "intrusion_sets",
    "malware",
    "threat_actors",
    "campaigns",
    "attack",
    "labels",
    "valid_from",
    "valid_until",
    "first_seen",
    "last_seen",
    "evaluable",
    "unevaluable_reason",
    "to_ids",
    "revoked",
    "source_ref",
)


def _print_import(summary: ImportSummary) -> None:
    data = summary.to_json()
    out = output.stdout
    out.print(
        f"Read {data['files']} file(s) in {summary.seconds:.1f} s: {data['records']:,} records, "
        f"{data['indicators']:,} indicators ({data['new']:,} new, {data['updated']:,} updated, "
        f"{data['unchanged']:,} unchanged), {data['unevaluable']:,} kept but not evaluable, "
        f"{data['not_for_detection']:,} context only (to_ids false), "
        f"{data['objects']:,} other STIX objects, {data['errors']:,} record error(s)."
    )
    table = Table("file", "format", "records", "indicators", "new", "unevaluable", box=None)
    for f in summary.files:
        table.add_row(
            f.path[-60:],
            f.format,
            f"{f.records:,}",
            f"{f.indicators:,}",
            f"{f.new:,}",
            f"{f.unevaluable:,}",
        )
    if summary.files:
        out.print(table)
    for f in summary.files:
        for reason, count in list(f.unevaluable_reasons.items())[:3]:
            out.print(f"[dim]{f.path}: {count:,} not evaluable: {reason[:120]}[/]")
        for e in f.errors[:5]:
            where = f":{e.line}" if e.line else (f" ({e.object_id})" if e.object_id else "")
            out.print(f"[yellow]{f.path}{where}: {e.reason}[/]")
        if len(f.errors) > 5:
            out.print(f"[yellow]{f.path}: ... and {len(f.errors) - 5} more record errors[/]")
        for note in f.notes:
            out.print(f"[yellow]{note}[/]")
        if f.error:
            out.print(f"[red]{f.path}: failed, nothing stored from it: {f.error}[/]")


@click.group("intel")
def intel_group() -> None:
    """Threat intelligence: import indicators (STIX 2.1, MISP, Zeek intel, CSV and text lists),
    list them, allowlist values and export STIX 2.1."""


@intel_group.command("import")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--source", default=None, help="Source name of every indicator (default: derived).")
@click.option(
    "--confidence",
    type=click.IntRange(0, 100),
    default=None,
    help="Base confidence of indicators whose source gives none (default "
    "$SIGNALFIRE_INTEL_DEFAULT_CONFIDENCE or 80).",
)
@click.option("--tlp", default=None, help="TLP of indicators whose source gives none.")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(FORMATS),
    default="auto",
    show_default=True,
    help="Input format (auto: recognised from each file's content).",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON summary for scripts.")
@click.pass_context
def import_command(
    ctx: click.Context,
    paths: tuple[Path, ...],
    source: str | None,
    confidence: int | None,
    tlp: str | None,
    fmt: str,
    as_json: bool,
) -> None:
    """Import indicators from files or directories (recursive).

    Formats: STIX 2.x bundles, MISP event JSON and feed directories (manifest.json), Zeek intel
    files (#fields indicator indicator_type ...), CSV with a header, text (one value per line).
    Each file is one transaction; importing it again changes nothing. Patterns and values that
    cannot be matched are kept and counted, never dropped.
    """
    options = ImportOptions(
        source=source, confidence=confidence, tlp=tlp.lower() if tlp else None, format=fmt
    )
    with (
        Store.open(global_options(ctx).db) as store,
        output.byte_progress(not as_json, "import") as progress,
    ):
        summary = IndicatorStore(store).import_paths(list(paths), options, progress=progress)
    if as_json:
        output.print_json(summary.to_json())
    else:
        _print_import(summary)
    if summary.failed:
        # An error, not ctx.exit(): main() maps it to exit code 4 (SOURCE) and one line.
        first = summary.failed[0]
        raise SourceError(
            f"{len(summary.failed)} of {len(summary.files)} file(s) failed and stored nothing "
            f"(first: {first.path}); the others were imported"
        )


@intel_group.command("list")
@click.option("--type", "types", multiple=True, metavar="TYPE", help="Only this type (repeat).")
@click.option("--source", "sources", multiple=True, metavar="NAME", help="Only this source.")
@click.option(
    "--active/--all",
    default=True,
    help="Only indicators that alert now (default), or all, including expired, revoked, "
    "context-only and not evaluable ones.",
)
@click.option("--search", default=None, help="Substring of value, name, description or links.")
@click.option("--limit", type=click.IntRange(min=1), default=None, help="At most N.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@click.pass_context
def list_command(
    ctx: click.Context,
    types: tuple[str, ...],
    sources: tuple[str, ...],
    active: bool,
    search: str | None,
    limit: int | None,
    as_json: bool,
) -> None:
    """List indicators, most confident (after decay) first."""
    unknown = [t for t in types if t not in TYPES and ":" not in t]
    if unknown:
        raise ConfigError(f"unknown --type {unknown[0]!r}: use one of {', '.join(sorted(TYPES))}")
    with Store.open(global_options(ctx).db, read_only=True) as store:
        rows = IndicatorStore(store).list_indicators(
            types=types or None,
            sources=sources or None,
            active_only=active,
            search=search,
            limit=limit,
        )
    if as_json:
        for row in rows:
            output.emit_line(json.dumps({k: row[k] for k in LIST_FIELDS}, default=str))
        return
    if not rows:
        output.stdout.print(
            "No indicators." if not active else "No active indicators (--all shows every one)."
        )
        return
    table = Table("type", "value", "source", "confidence", "tlp", "tied to", box=None)
    for row in rows[:50]:
        tied = ", ".join([*row["intrusion_sets"], *row["malware"], *row["campaigns"]])
        state = "" if row["active"] else " (inactive)"
        table.add_row(
            row["type"],
            str(row["value"])[:70],
            str(row["source"])[:30],
            f"{row['current_confidence']:.0f}/{row['confidence']}{state}",
            row["tlp"] or "",
            tied[:60],
        )
    output.stdout.print(table)
    if len(rows) > 50:
        output.stdout.print(f"... and {len(rows) - 50} more (--json for all).")


def _parse_expiry(text: str | None) -> datetime | None:
    if text is None:
        return None
    units = {"d": "days", "h": "hours", "w": "weeks"}
    if text[:-1].isdigit() and text[-1:] in units:
        return datetime.now(UTC).replace(tzinfo=None) + timedelta(
            **{units[text[-1]]: int(text[:-1])}
        )
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise ConfigError(
            f"--expires {text!r}: give a date (2026-12-31, 2026-12-31T12:00Z) or a duration "
            "(30d, 12h, 2w)"
        ) from exc
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment


@intel_group.command("allow")
@click.argument("value")
@click.option("--type", "type_", default=None, help="Indicator type (default: inferred).")
@click.option("--reason", required=True, help="Why this value must never alert.")
@click.option("--expires", default=None, help="Date or duration (30d, 12h, 2w); default never.")
@click.option("--json", "as_json", is_flag=True, help="Print the entry as JSON.")
@click.pass_context
def allow_command(
    ctx: click.Context,
    value: str,
    type_: str | None,
    reason: str,
    expires: str | None,
    as_json: bool,
) -> None:
    """Allowlist a value: an address, a network (CIDR), a domain (and its subdomains), a hash,
    ... Matches of it are suppressed, past and future."""
    with Store.open(global_options(ctx).db) as store:
        entry = IndicatorStore(store).allow(
            value, type=type_, reason=reason, expires_at=_parse_expiry(expires)
        )
    if as_json:
        output.print_json(entry)
    else:
        until = f" until {entry['expires_at']}" if entry["expires_at"] else ""
        output.stdout.print(f"Allowlisted {entry['type']} {entry['value']}{until}: {reason}")


@intel_group.command("unallow")
@click.argument("value")
@click.option("--type", "type_", default=None, help="Only the entry of this type.")
@click.pass_context
def unallow_command(ctx: click.Context, value: str, type_: str | None) -> None:
    """Remove a value from the allowlist."""
    with Store.open(global_options(ctx).db) as store:
        removed = IndicatorStore(store).unallow(value, type=type_)
    if not removed:
        raise ConfigError(f"{value!r} is not on the allowlist: see `signalfire intel allowlist`")
    output.stdout.print(f"Removed {removed} allowlist entr{'y' if removed == 1 else 'ies'}.")


@intel_group.command("allowlist")
@click.option("--all", "include_expired", is_flag=True, help="Include expired entries.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@click.pass_context
def allowlist_command(ctx: click.Context, include_expired: bool, as_json: bool) -> None:
    """Show the allowlist."""
    with Store.open(global_options(ctx).db, read_only=True) as store:
        entries = IndicatorStore(store).allowlist(include_expired=include_expired)
    if as_json:
        for e in entries:
            output.emit_line(json.dumps(e, default=str))
        return
    if not entries:
        output.stdout.print("The allowlist is empty.")
        return
    table = Table("type", "value", "reason", "added by", "expires", box=None)
    for e in entries:
        table.add_row(
            e["type"], e["value"], e["reason"], e["added_by"] or "", str(e["expires_at"] or "")
        )
    output.stdout.print(table)


@intel_group.command("export")
@click.option(
    "--stix",
    "stix_path",
    required=True,
    type=click.Path(path_type=Path, dir_okay=False),
    help="Write a STIX 2.1 bundle to this file.",
)
@click.option("--source", "sources", multiple=True, metavar="NAME", help="Only this source.")
@click.option("--type", "types", multiple=True, metavar="TYPE", help="Only this type.")
@click.option("--no-alerts", is_flag=True, help="Leave the alerts out.")
@click.option("--no-sightings", is_flag=True, help="Leave the sightings out.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON summary for scripts.")
@click.pass_context
def export_command(
    ctx: click.Context,
    stix_path: Path,
    sources: tuple[str, ...],
    types: tuple[str, ...],
    no_alerts: bool,
    no_sightings: bool,
    as_json: bool,
) -> None:
    """Export indicators, sightings and alerts as a STIX 2.1 bundle (importable again)."""
    from signalfire.intel import stix_export

    if not stix_path.parent.exists():
        raise ConfigError(f"--stix {stix_path}: directory {stix_path.parent} does not exist")
    with Store.open(global_options(ctx).db, read_only=True) as store:
        bundle = stix_export.export_bundle(
            store.con,
            sources=sources or None,
            types=types or None,
            include_alerts=not no_alerts,
            include_sightings=not no_sightings,
        )
    summary = stix_export.write_bundle(bundle, stix_path)
    data: dict[str, Any] = summary.to_json()
    if as_json:
        output.print_json(data)
        return
    kinds = ", ".join(f"{n:,} {t}" for t, n in sorted(summary.objects.items()))
    output.stdout.print(f"Wrote {data['objects']:,} STIX objects to {stix_path}: {kinds}.")


def register(cli: click.Group) -> None:
    """Add ``intel`` to the CLI."""
    cli.add_command(intel_group)
