"""``signalfire attack``: look up MITRE ATT&CK (techniques, tactics, groups, software) and see
which techniques Signalfire's detections cover."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any, TypeVar

import click
from rich.table import Table
from rich.text import Text

from signalfire.cli import output
from signalfire.errors import IntelError
from signalfire.intel.attack import (
    AttackCatalog,
    Campaign,
    Group,
    Mitigation,
    Software,
    Tactic,
    Technique,
    configured_catalog,
)

#: How many names a list shows before "and N more" (--json gives them all).
TOP = 10

_F = TypeVar("_F", bound=Callable[..., Any])
_TACTIC_ID = re.compile(r"^TA\d{4}$", re.IGNORECASE)
_OTHER_ID = re.compile(r"^([TGSMC])\d{4}(\.\d{3})?$", re.IGNORECASE)


def _options(function: _F) -> _F:
    function = click.option(
        "--bundle",
        "bundles",
        multiple=True,
        type=click.Path(path_type=Path, dir_okay=False),
        metavar="PATH",
        help="An ATT&CK STIX bundle (2.0 or 2.1) to use instead of the copy shipped with "
        "Signalfire; repeat for Enterprise and ICS (default: $SIGNALFIRE_ATTACK_BUNDLES).",
    )(function)
    return click.option(
        "--json", "as_json", is_flag=True, help="Print one JSON document for scripts."
    )(function)


def _not_found(kind: str, query: str, catalog: AttackCatalog) -> IntelError:
    versions = ", ".join(f"{s.name} (data of {s.modified[:10]})" for s in catalog.sources)
    return IntelError(
        f"ATT&CK has no {kind} {query!r} in {versions or 'the loaded bundles'}; "
        f"find it with `signalfire attack search {query}`, or give a newer ATT&CK with --bundle"
    )


# -- what our detections cover -----------------------------------------------------------------


def _detection_specs() -> list[Any]:
    # Imported here: the detections pull in Ibis, which `attack group` and `search` do not need.
    from signalfire.detections import ALL_DETECTIONS

    return sorted(ALL_DETECTIONS.values(), key=lambda s: s.id)


def _detections_covering(technique: Technique, specs: Iterable[Any]) -> list[dict[str, Any]]:
    """Detections naming the technique, one of its sub-techniques, or its parent."""
    found = []
    for spec in specs:
        matched = [
            t
            for t in spec.attack
            if t == technique.id or t.startswith(technique.id + ".") or t == technique.parent
        ]
        if matched:
            found.append({"id": spec.id, "title": spec.title, "attack": matched})
    return found


# -- small renderers ---------------------------------------------------------------------------


def _ref(item: Any) -> dict[str, Any]:
    out = {"id": item.id, "name": item.name}
    if not item.current:
        out["current"] = False
    return out


def _label(item: Any) -> str:
    flag = "" if item.current else " (revoked)" if item.revoked else " (deprecated)"
    return f"{item.id} {item.name}{flag}"


def _names(items: Sequence[Any], top: int = TOP) -> str:
    shown = ", ".join(i.name for i in items[:top])
    return shown + (f" and {len(items) - top} more" if len(items) > top else "")


def _print_fields(title: str, fields: Iterable[tuple[str, str]], description: str = "") -> None:
    out = output.stdout
    out.print(Text(title, style="bold"))
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="dim", no_wrap=True)
    grid.add_column()
    for key, value in fields:
        if value:
            grid.add_row(key, Text(value))
    out.print(grid)
    if description:
        out.print()
        out.print(Text(description))


def _print_list(heading: str, lines: Sequence[str]) -> None:
    if not lines:
        return
    output.stdout.print()
    output.stdout.print(Text(heading, style="bold"))
    for line in lines:
        output.stdout.print(Text("  " + line))


def _print_note(note: str | None) -> None:
    if note:
        output.stdout.print(Text(f"Note: {note}", style="yellow"))


def _by_tactic(catalog: AttackCatalog, ids: Iterable[str]) -> list[tuple[Tactic, list[Technique]]]:
    """Techniques grouped under their tactics, in matrix order (a technique of two tactics is
    under both)."""
    grouped: dict[str, list[Technique]] = {}
    tactics: dict[str, Tactic] = {}
    for technique_id in ids:
        technique = catalog.technique(technique_id)
        if technique is None:
            continue
        for tactic in catalog.tactics_of(technique):
            tactics[tactic.id] = tactic
            grouped.setdefault(tactic.id, []).append(technique)
    order = {t.id: i for i, t in enumerate(catalog.tactics)}
    return [(tactics[k], grouped[k]) for k in sorted(grouped, key=order.__getitem__)]


def _by_tactic_json(groups: list[tuple[Tactic, list[Technique]]]) -> list[dict[str, Any]]:
    return [
        {
            "tactic": {"id": tactic.id, "name": tactic.name, "domain": tactic.domain},
            "techniques": [_ref(t) for t in techniques],
        }
        for tactic, techniques in groups
    ]


def _print_by_tactic(heading: str, groups: list[tuple[Tactic, list[Technique]]]) -> None:
    if not groups:
        return
    output.stdout.print()
    output.stdout.print(Text(heading, style="bold"))
    for tactic, techniques in groups:
        output.stdout.print(Text(f"  {tactic.name} ({tactic.id}, {tactic.domain})", style="cyan"))
        for technique in techniques:
            output.stdout.print(Text(f"    {_label(technique)}"))


# -- show ----------------------------------------------------------------------------------


def _show_technique(catalog: AttackCatalog, query: str, as_json: bool) -> None:
    resolved = catalog.resolve_technique(query)
    if resolved is None:
        raise _not_found("technique", query, catalog)
    technique, note = resolved
    tactics = catalog.tactics_of(technique)
    subtechniques = catalog.subtechniques(technique.id)
    parent = catalog.technique(technique.parent) if technique.parent else None
    mitigations = [m for m in map(catalog.mitigation, technique.mitigations) if m is not None]
    groups = catalog.groups_using(technique.id)
    software = catalog.software_using(technique.id)
    detections = _detections_covering(technique, _detection_specs())
    if as_json:
        output.print_json(
            {
                "kind": "technique",
                "note": note,
                "technique": asdict(technique),
                "tactics": [_ref(t) for t in tactics],
                "parent": _ref(parent) if parent else None,
                "subtechniques": [_ref(t) for t in subtechniques],
                "mitigations": [_ref(m) for m in mitigations],
                "groups": [_ref(g) for g in groups],
                "software": [_ref(s) for s in software],
                "detections": detections,
            }
        )
        return
    _print_note(note)
    kind = "Sub-technique" if technique.is_subtechnique else "Technique"
    uses = " (counting its sub-techniques)" if subtechniques else ""
    _print_fields(
        f"{_label(technique)}",
        [
            ("kind", kind + (f" of {_label(parent)}" if parent else "")),
            ("domain", technique.domain),
            ("tactics", ", ".join(f"{t.name} ({t.id})" for t in tactics)),
            ("platforms", ", ".join(technique.platforms)),
            ("targets", ", ".join(technique.targets)),
            ("data sources", ", ".join(technique.data_sources)),
            ("url", technique.url),
            ("used by", f"{len(groups)} intrusion set(s), {len(software)} software{uses}"),
        ],
        technique.description,
    )
    _print_list(f"Sub-techniques ({len(subtechniques)})", [_label(t) for t in subtechniques])
    if groups:
        _print_list(f"Intrusion sets using it ({len(groups)})", [_names(groups)])
    if software:
        _print_list(f"Software using it ({len(software)})", [_names(software)])
    _print_list(f"Mitigations ({len(mitigations)})", [_label(m) for m in mitigations])
    lines = [f"{d['id']}: {d['title']} ({', '.join(d['attack'])})" for d in detections]
    _print_list(f"Signalfire detections ({len(detections)})", lines or ["none"])


def _show_tactic(catalog: AttackCatalog, tactic: Tactic, as_json: bool) -> None:
    techniques = [t for t in catalog.techniques_in_tactic(tactic) if not t.is_subtechnique]
    specs = _detection_specs()
    covered = [t for t in techniques if _detections_covering(t, specs)]
    if as_json:
        output.print_json(
            {
                "kind": "tactic",
                "tactic": asdict(tactic),
                "techniques": [_ref(t) for t in techniques],
                "covered": [_ref(t) for t in covered],
            }
        )
        return
    _print_fields(
        _label(tactic),
        [
            ("kind", "Tactic"),
            ("shortname", tactic.shortname),
            ("domain", tactic.domain),
            ("url", tactic.url),
            ("detections", f"cover {len(covered)} of its {len(techniques)} techniques"),
        ],
        tactic.description,
    )
    mark = {t.id for t in covered}
    lines = [_label(t) + ("  [covered]" if t.id in mark else "") for t in techniques]
    _print_list(f"Techniques ({len(techniques)})", lines)


def _show_mitigation(catalog: AttackCatalog, mitigation: Mitigation, as_json: bool) -> None:
    techniques = [t for t in catalog.techniques if mitigation.id in t.mitigations]
    if as_json:
        output.print_json(
            {
                "kind": "mitigation",
                "mitigation": asdict(mitigation),
                "techniques": [_ref(t) for t in techniques],
            }
        )
        return
    _print_fields(
        _label(mitigation),
        [
            ("kind", "Mitigation"),
            ("domains", ", ".join(mitigation.domains)),
            ("url", mitigation.url),
        ],
    )
    _print_list(f"Mitigates ({len(techniques)})", [_label(t) for t in techniques])


def _show_campaign(catalog: AttackCatalog, campaign: Campaign, as_json: bool) -> None:
    groups = [g for g in map(catalog.group, campaign.groups) if g is not None]
    by_tactic = _by_tactic(catalog, campaign.techniques)
    if as_json:
        output.print_json(
            {
                "kind": "campaign",
                "campaign": asdict(campaign),
                "groups": [_ref(g) for g in groups],
                "techniques_by_tactic": _by_tactic_json(by_tactic),
            }
        )
        return
    seen = " to ".join(s[:10] for s in (campaign.first_seen, campaign.last_seen) if s)
    _print_fields(
        _label(campaign),
        [
            ("kind", "Campaign"),
            ("attributed to", ", ".join(_label(g) for g in groups)),
            ("seen", seen),
            ("domains", ", ".join(campaign.domains)),
            ("url", campaign.url),
        ],
        campaign.description,
    )
    _print_by_tactic(f"Techniques used ({len(campaign.techniques)})", by_tactic)


@click.command("show")
@click.argument("attack_id")
@_options
def show_command(attack_id: str, as_json: bool, bundles: tuple[Path, ...]) -> None:
    """Show an ATT&CK technique or sub-technique (T1071, T1071.001, T0855), tactic (TA0011 or
    command-and-control), software (S0002), group (G0006), mitigation (M1031) or campaign
    (C0028), or a group or software by name: what it is, where it sits, who uses it and which
    Signalfire detections cover it."""
    catalog = configured_catalog(bundles)
    query = attack_id.strip()
    if _TACTIC_ID.match(query) or not _OTHER_ID.match(query):
        tactic = catalog.tactic(query)
        if tactic is not None:
            _show_tactic(catalog, tactic, as_json)
        elif _TACTIC_ID.match(query):
            raise _not_found("tactic", query, catalog)
        # Not an id: a name is as good (`show APT1`, `show Mimikatz`).
        elif catalog.find_groups(query):
            _group(catalog, query, as_json)
        elif catalog.find_software(query):
            _software(catalog, query, as_json)
        else:
            raise _not_found("id or name", query, catalog)
        return
    prefix = query[0].upper()
    if prefix == "T":
        _show_technique(catalog, query, as_json)
    elif prefix == "G":
        _group(catalog, query, as_json)
    elif prefix == "S":
        _software(catalog, query, as_json)
    elif prefix == "M":
        mitigation = catalog.mitigation(query)
        if mitigation is None:
            raise _not_found("mitigation", query, catalog)
        _show_mitigation(catalog, mitigation, as_json)
    else:
        campaign = catalog.campaign(query)
        if campaign is None:
            raise _not_found("campaign", query, catalog)
        _show_campaign(catalog, campaign, as_json)


# -- group and software --------------------------------------------------------------------


def _group(catalog: AttackCatalog, query: str, as_json: bool) -> None:
    matches = catalog.find_groups(query)
    group = catalog.group(query)
    if group is None:
        raise _not_found("group", query, catalog)
    note = None
    if matches[0] is not group:
        note = f"{_label(matches[0])} was revoked in ATT&CK; it is now {_label(group)}"
    others: list[Group] = [g for g in matches[1:] if g is not group and g.current]
    if others:
        also = ", ".join(_label(g) for g in others)
        note = (note + "; " if note else "") + f"{query!r} also names {also}"
    by_tactic = _by_tactic(catalog, group.techniques)
    software = [s for s in map(catalog.software, group.software) if s is not None]
    campaigns = catalog.campaigns_of_group(group.id)
    if as_json:
        output.print_json(
            {
                "kind": "group",
                "note": note,
                "group": asdict(group),
                "techniques_by_tactic": _by_tactic_json(by_tactic),
                "software": [{**_ref(s), "type": s.type} for s in software],
                "campaigns": [_ref(c) for c in campaigns],
                "also_matches": [_ref(g) for g in others],
            }
        )
        return
    _print_note(note)
    _print_fields(
        _label(group),
        [
            ("kind", "Intrusion set (group)"),
            ("aliases", ", ".join(a for a in group.aliases if a != group.name)),
            ("domains", ", ".join(group.domains)),
            ("url", group.url),
        ],
        group.description,
    )
    _print_by_tactic(f"Techniques used ({len(group.techniques)}), by tactic", by_tactic)
    _print_list(f"Software used ({len(software)})", [f"{_label(s)} ({s.type})" for s in software])
    _print_list(f"Campaigns ({len(campaigns)})", [_label(c) for c in campaigns])


def _software(catalog: AttackCatalog, query: str, as_json: bool) -> None:
    matches = catalog.find_software(query)
    software: Software | None = catalog.software(query)
    if software is None:
        raise _not_found("software", query, catalog)
    note = None
    if matches[0] is not software:
        note = f"{_label(matches[0])} was revoked in ATT&CK; it is now {_label(software)}"
    by_tactic = _by_tactic(catalog, software.techniques)
    groups = catalog.groups_using_software(software.id)
    if as_json:
        output.print_json(
            {
                "kind": "software",
                "note": note,
                "software": asdict(software),
                "techniques_by_tactic": _by_tactic_json(by_tactic),
                "groups": [_ref(g) for g in groups],
            }
        )
        return
    _print_note(note)
    _print_fields(
        _label(software),
        [
            ("kind", f"Software ({software.type})"),
            ("aliases", ", ".join(a for a in software.aliases if a != software.name)),
            ("platforms", ", ".join(software.platforms)),
            ("domains", ", ".join(software.domains)),
            ("url", software.url),
            ("used by", _names(groups)),
        ],
        software.description,
    )
    _print_by_tactic(f"Techniques ({len(software.techniques)}), by tactic", by_tactic)


@click.command("group")
@click.argument("query")
@_options
def group_command(query: str, as_json: bool, bundles: tuple[Path, ...]) -> None:
    """Show an intrusion set by id, name or alias (G0006, APT1, "Comment Crew"): aliases,
    description, the techniques it uses grouped by tactic, its software and campaigns."""
    _group(configured_catalog(bundles), query, as_json)


@click.command("software")
@click.argument("query")
@_options
def software_command(query: str, as_json: bool, bundles: tuple[Path, ...]) -> None:
    """Show malware or a tool by id, name or alias (S0002, Mimikatz): what it does, by tactic,
    and the groups known to use it."""
    _software(configured_catalog(bundles), query, as_json)


# -- search and coverage -------------------------------------------------------------------


@click.command("search")
@click.argument("text")
@click.option("--limit", type=click.IntRange(min=1), default=25, show_default=True)
@_options
def search_command(text: str, limit: int, as_json: bool, bundles: tuple[Path, ...]) -> None:
    """Find techniques, tactics, groups, software, mitigations and campaigns whose id, name,
    alias or description contains TEXT (case-insensitive); exact matches first."""
    catalog = configured_catalog(bundles)
    hits = catalog.search(text)
    if as_json:
        output.print_json(
            {"query": text, "total": len(hits), "hits": [asdict(h) for h in hits[:limit]]}
        )
        return
    if not hits:
        raise _not_found("object matching", text, catalog)
    table = Table("kind", "id", "name", "domain", "matched", box=None)
    for hit in hits[:limit]:
        name = hit.name + ("" if hit.current else " (revoked/deprecated)")
        table.add_row(hit.kind, hit.id, Text(name), ", ".join(hit.domains), hit.matched)
    output.stdout.print(table)
    if len(hits) > limit:
        output.stdout.print(f"... and {len(hits) - limit} more (--limit N, or --json).")


@click.command("coverage")
@_options
def coverage_command(as_json: bool, bundles: tuple[Path, ...]) -> None:
    """Which ATT&CK techniques Signalfire's detections cover, per tactic (a technique counts as
    covered when a detection names it or one of its sub-techniques)."""
    catalog = configured_catalog(bundles)
    specs = _detection_specs()
    rows = []
    for tactic in catalog.tactics:
        if not tactic.current:
            continue
        techniques = [t for t in catalog.techniques_in_tactic(tactic) if not t.is_subtechnique]
        covered = []
        for technique in techniques:
            detections = _detections_covering(technique, specs)
            if detections:
                covered.append((technique, [d["id"] for d in detections]))
        rows.append((tactic, techniques, covered))
    named = {t for spec in specs for t in spec.attack}
    unknown = sorted(t for t in named if catalog.technique(t) is None)
    if as_json:
        output.print_json(
            {
                "detections": len(specs),
                "techniques_named": sorted(named),
                "not_in_catalog": unknown,
                "tactics": [
                    {
                        "id": tactic.id,
                        "name": tactic.name,
                        "domain": tactic.domain,
                        "techniques": len(techniques),
                        "covered": [{**_ref(t), "detections": d} for t, d in covered],
                    }
                    for tactic, techniques, covered in rows
                ],
            }
        )
        return
    table = Table("domain", "tactic", "covered", "techniques", box=None)
    for tactic, techniques, covered in rows:
        table.add_row(
            tactic.domain,
            Text(f"{tactic.name} ({tactic.id})"),
            f"{len(covered)}/{len(techniques)}",
            Text(", ".join(f"{t.id} {t.name}" for t, _ in covered)),
        )
    output.stdout.print(table)
    output.stdout.print(
        f"{len(specs)} detections name {len(named)} techniques. "
        "See one with `signalfire attack show ID`."
    )
    if unknown:
        output.stdout.print(
            Text(f"Not in these bundles: {', '.join(unknown)}", style="yellow"),
        )


@click.group("attack")
def attack_group() -> None:
    """Look up MITRE ATT&CK (Enterprise and ICS) offline: techniques, tactics, intrusion sets,
    software, and which techniques Signalfire's detections cover."""


for _command in (
    show_command,
    group_command,
    software_command,
    search_command,
    coverage_command,
):
    attack_group.add_command(_command)


def register(cli: click.Group) -> None:
    """Add ``attack`` to the CLI."""
    cli.add_command(attack_group)
