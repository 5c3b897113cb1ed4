"""Import STIX 2.0/2.1 bundles (or single objects, or lists of objects) into the indicator store.

Indicators become stage rows (one per value their pattern matches, see ``patterns``); every
other object with an id (intrusion sets, malware, tools, campaigns, threat actors, attack
patterns, relationships, reports, identities, marking definitions, sightings, …) is kept in
``intel_objects``. Links are resolved here, from the file (and, for objects it only refers to,
from the store):

- ``indicator --indicates--> intrusion-set | malware | tool | threat-actor | campaign |
  attack-pattern`` gives the indicator's intrusion sets, malware, threat actors, campaigns and
  ATT&CK ids;
- a campaign's ``attributed-to`` intrusion sets and threat actors, and the intrusion sets
  ``attributed-to`` a threat actor, are added (an indicator of Ugly Gorilla is one of APT1's);
- a report groups objects: an indicator in a report gets the report's name and, when no
  relationship names an intrusion set for it, the intrusion sets the report lists. That is how
  the APT1 report ties its hashes, CIDRs and certificate indicators to APT1: they have no
  relationship at all, only the report's ``object_refs``.

The source of an indicator is ``--source``, else the name of the identity in its
``created_by_ref``, else the file name.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb
import pyarrow as pa

from signalfire.errors import IntelError
from signalfire.intel import patterns
from signalfire.intel.indicators import (
    ALIASES,
    TYPES,
    FileSummary,
    ImportOptions,
    IndicatorStore,
    RecordError,
    Staged,
    objects_table,
)

if TYPE_CHECKING:
    from signalfire.store import Store

#: TLP 1.0 marking definitions of STIX 2.x (their ids are fixed by the specification).
TLP_MARKINGS = {
    "marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9": "white",
    "marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da": "green",
    "marking-definition--f88d31f6-486f-44da-b317-01333bde0b82": "amber",
    "marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed": "red",
}
_ATTACK_ID = re.compile(r"T\d{4}(?:\.\d{3})?\Z")
_ATTACK_SOURCES = ("mitre-attack", "mitre-ics-attack", "mitre-mobile-attack", "mitre-pre-attack")
_LINKED_TYPES = ("intrusion-set", "malware", "tool", "threat-actor", "campaign", "attack-pattern")


def foreign_reason(source_type: str) -> str:
    """Why an indicator of a type from another vocabulary is kept but not matched."""
    return f"type {source_type!r} is not one signalfire matches"


def stage_file(con: duckdb.DuckDBPyConnection, path: Path, source: str | None) -> Staged:
    """Read a STIX JSON file (bundle, object, list of objects or TAXII envelope).

    Raises:
        IntelError: the file is not JSON, or not STIX-shaped JSON.
    """
    try:
        with path.open("rb") as f:
            document = json.load(f)
    except ValueError as exc:
        raise IntelError(f"{path}: not valid JSON ({exc}); fix or re-download the file") from exc
    return stage_objects(con, objects_of(document, str(path)), source, default_source=path.stem)


def objects_of(document: Any, where: str) -> list[Any]:
    """The objects of a bundle, TAXII envelope, list of objects or single object.

    Raises:
        IntelError: ``document`` is none of these.
    """
    if isinstance(document, list):
        return document
    if isinstance(document, dict):
        objects = document.get("objects")
        if isinstance(objects, list):
            return objects
        if document.get("type") == "bundle":
            return []
        if isinstance(document.get("type"), str):
            return [document]
    raise IntelError(
        f"{where}: not a STIX bundle, object or list of objects; check it is STIX 2.x JSON"
    )


def _strings(value: Any) -> list[str]:
    if isinstance(value, list):
        return [v for v in value if isinstance(v, str)]
    return []


def _external_ids(obj: dict[str, Any]) -> list[str]:
    out = []
    for ref in obj.get("external_references") or []:
        if isinstance(ref, dict) and isinstance(ref.get("external_id"), str):
            out.append(ref["external_id"])
    return out


def _attack_ids(obj: dict[str, Any]) -> list[str]:
    out = []
    for ref in obj.get("external_references") or []:
        if (
            isinstance(ref, dict)
            and ref.get("source_name") in _ATTACK_SOURCES
            and isinstance(ref.get("external_id"), str)
            and _ATTACK_ID.match(ref["external_id"])
        ):
            out.append(ref["external_id"])
    return out


def _tlp_of_marking(obj: dict[str, Any]) -> str | None:
    definition = obj.get("definition")
    if obj.get("definition_type") == "tlp" and isinstance(definition, dict):
        tlp = definition.get("tlp")
        if isinstance(tlp, str):
            return tlp.lower()
    name = obj.get("name")
    if isinstance(name, str) and name.upper().startswith("TLP:"):
        return name[4:].strip().lower()
    if isinstance(definition, dict) and isinstance(definition.get("statement"), str):
        statement = definition["statement"]
        if statement.upper().startswith("TLP:"):
            return str(statement[4:].strip().lower())
    return None


class _Links:
    """Names an indicator is tied to, resolved over the file's relationships and reports."""

    def __init__(self, others: list[dict[str, Any]], stored: dict[str, dict[str, Any]]) -> None:
        self.by_id: dict[str, dict[str, Any]] = dict(stored)
        for obj in others:
            self.by_id[obj["id"]] = obj
        self.indicates: dict[str, list[str]] = defaultdict(list)
        self.attributed: dict[str, list[str]] = defaultdict(list)
        self.attributed_from: dict[str, list[str]] = defaultdict(list)
        self.reports: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for obj in others:
            kind = obj["type"]
            if kind == "relationship":
                src, dst = obj.get("source_ref"), obj.get("target_ref")
                if not isinstance(src, str) or not isinstance(dst, str):
                    continue
                rel = obj.get("relationship_type")
                if rel == "indicates" and src.startswith("indicator--"):
                    self.indicates[src].append(dst)
                elif rel == "attributed-to":
                    self.attributed[src].append(dst)
                    self.attributed_from[dst].append(src)
            elif kind in ("report", "grouping"):
                for ref in _strings(obj.get("object_refs")):
                    if ref.startswith("indicator--"):
                        self.reports[ref].append(obj)

    def name(self, ref: str) -> str | None:
        obj = self.by_id.get(ref)
        if obj is None:
            return None
        name = obj.get("name")
        return name if isinstance(name, str) else None

    def resolve(self, indicator_id: str) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {
            k: [] for k in ("intrusion_sets", "malware", "threat_actors", "campaigns", "attack")
        }
        out["reports"] = []

        def add(key: str, ref: str) -> None:
            name = self.name(ref)
            if name is not None and name not in out[key]:
                out[key].append(name)

        def actor(ref: str) -> None:
            add("threat_actors", ref)
            for group in self.attributed_from.get(ref, []):
                if group.startswith("intrusion-set--"):
                    add("intrusion_sets", group)

        for ref in self.indicates.get(indicator_id, []):
            kind = ref.split("--", 1)[0]
            if kind == "intrusion-set":
                add("intrusion_sets", ref)
            elif kind in ("malware", "tool"):
                add("malware", ref)
            elif kind == "threat-actor":
                actor(ref)
            elif kind == "campaign":
                add("campaigns", ref)
                for target in self.attributed.get(ref, []):
                    if target.startswith("intrusion-set--"):
                        add("intrusion_sets", target)
                    elif target.startswith("threat-actor--"):
                        actor(target)
            elif kind == "attack-pattern":
                obj = self.by_id.get(ref)
                if obj is not None:
                    out["attack"].extend(a for a in _attack_ids(obj) if a not in out["attack"])
        for report in self.reports.get(indicator_id, []):
            name = report.get("name")
            if isinstance(name, str) and name not in out["reports"]:
                out["reports"].append(name)
            if not out["intrusion_sets"]:
                for ref in _strings(report.get("object_refs")):
                    if ref.startswith("intrusion-set--"):
                        add("intrusion_sets", ref)
        return out


def _stored_objects(con: duckdb.DuckDBPyConnection, ids: set[str]) -> dict[str, dict[str, Any]]:
    """Objects the file refers to but does not hold, from intel_objects."""
    if not ids:
        return {}
    rows = con.execute(
        "SELECT object_id, type, name, external_ids, object_json FROM intel_objects "
        "WHERE object_id IN (SELECT unnest($ids::VARCHAR[]))",
        {"ids": sorted(ids)},
    ).fetchall()
    out: dict[str, dict[str, Any]] = {}
    for object_id, kind, name, _external, text in rows:
        obj = json.loads(text) if text else {}
        if not isinstance(obj, dict):
            obj = {}
        obj.setdefault("id", object_id)
        obj.setdefault("type", kind)
        if name is not None:
            obj.setdefault("name", name)
        out[str(object_id)] = obj
    return out


#: The indicator properties we read, as Arrow types: the objects are converted by Arrow in one
#: call (no per-property Python), and the rest is SQL over the columns.
INDICATOR_STRUCT = pa.struct(
    [
        ("id", pa.string()),
        ("pattern", pa.string()),
        ("pattern_type", pa.string()),
        ("name", pa.string()),
        ("description", pa.string()),
        ("confidence", pa.int64()),
        ("created", pa.string()),
        ("modified", pa.string()),
        ("valid_from", pa.string()),
        ("valid_until", pa.string()),
        ("revoked", pa.bool_()),
        ("labels", pa.list_(pa.string())),
        ("indicator_types", pa.list_(pa.string())),
        (
            "kill_chain_phases",
            pa.list_(pa.struct([("kill_chain_name", pa.string()), ("phase_name", pa.string())])),
        ),
        (
            "external_references",
            pa.list_(pa.struct([("source_name", pa.string()), ("external_id", pa.string())])),
        ),
        ("object_marking_refs", pa.list_(pa.string())),
        ("created_by_ref", pa.string()),
        ("x_signalfire_type", pa.string()),
        ("x_signalfire_to_ids", pa.bool_()),
        ("x_signalfire_first_seen", pa.string()),
        ("x_signalfire_last_seen", pa.string()),
    ]
)
_LIST_PROPERTIES = ("labels", "indicator_types", "object_marking_refs")
_SCALARS = {
    pa.string(): str,
    pa.int64(): int,
    pa.bool_(): bool,
}


def _sanitized(obj: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """The properties of ``obj`` that have the expected types, and the names of the others."""
    clean: dict[str, Any] = {}
    dropped: list[str] = []
    for f in INDICATOR_STRUCT:
        value = obj.get(f.name)
        if value is None:
            continue
        kind = _SCALARS.get(f.type)
        if kind is not None:
            ok = isinstance(value, kind) and not (kind is int and isinstance(value, bool))
        elif pa.types.is_list(f.type) and pa.types.is_string(f.type.value_type):
            ok = isinstance(value, list) and all(isinstance(v, str) for v in value)
        else:
            ok = isinstance(value, list) and all(
                isinstance(v, dict)
                and all(isinstance(v.get(c.name), str | None) for c in f.type.value_type)
                for v in value
            )
        if ok:
            clean[f.name] = value
        else:
            dropped.append(f.name)
    return clean, dropped


def _indicator_table(
    indicators: list[dict[str, Any]], positions: list[int], staged: Staged
) -> pa.Table:
    try:
        array = pa.array(indicators, type=INDICATOR_STRUCT)
    except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, ValueError, OverflowError):
        # Some object has a property of the wrong type: convert object by object, keeping
        # what is well-typed, and say which properties were ignored.
        cleaned = []
        for pos, obj in zip(positions, indicators, strict=True):
            clean, dropped = _sanitized(obj)
            cleaned.append(clean)
            if dropped:
                staged.notes.append(
                    f"object {pos + 1} ({obj.get('id')}): ignored {', '.join(dropped)} "
                    "(not of the type STIX defines)"
                )
        array = pa.array(cleaned, type=INDICATOR_STRUCT)
    table = pa.Table.from_batches([pa.RecordBatch.from_struct_array(array)])
    return table.append_column("pos", pa.array(positions, type=pa.int64()))


def stage_objects(
    con: duckdb.DuckDBPyConnection,
    objects: Sequence[Any],
    source: str | None,
    *,
    default_source: str,
) -> Staged:
    """Stage STIX objects: indicators → ``sf_intel_stage`` rows, the rest → intel_objects rows."""
    staged = Staged("stix", records=len(objects))
    indicators: list[dict[str, Any]] = []
    positions: list[int] = []
    others: list[dict[str, Any]] = []
    for pos, obj in enumerate(objects):
        kind = obj.get("type") if isinstance(obj, dict) else None
        if kind == "indicator" and isinstance(obj.get("id"), str):
            # A string where STIX wants a list would be split into characters by Arrow.
            for name in _LIST_PROPERTIES:
                if isinstance(obj.get(name), str):
                    obj = {**obj, name: [obj[name]]}
            indicators.append(obj)
            positions.append(pos)
        elif isinstance(kind, str) and isinstance(obj.get("id"), str):
            others.append(obj)
        elif isinstance(obj, dict):
            object_id = obj.get("id")
            staged.errors.append(
                RecordError(
                    "a STIX object needs a string 'type' and 'id'",
                    line=pos + 1,
                    object_id=object_id if isinstance(object_id, str) else None,
                    raw=json.dumps(obj)[:2000],
                )
            )
        else:
            staged.errors.append(
                RecordError("not a JSON object", line=pos + 1, raw=json.dumps(obj)[:2000])
            )

    file_ids = {o["id"] for o in others}
    referenced: set[str] = set()
    for obj in others:
        for key in ("source_ref", "target_ref"):
            if isinstance(obj.get(key), str):
                referenced.add(obj[key])
    creators = {o.get("created_by_ref") for o in indicators}
    referenced |= {c for c in creators if isinstance(c, str)}
    links = _Links(others, _stored_objects(con, referenced - file_ids))

    tlp_of = dict(TLP_MARKINGS)
    for obj in others:
        if obj["type"] == "marking-definition":
            tlp = _tlp_of_marking(obj)
            if tlp is not None:
                tlp_of[obj["id"]] = tlp

    staged.objects = objects_table([_object_row(o, source or default_source) for o in others])
    if indicators:
        _stage_indicators(
            con,
            _indicator_table(indicators, positions, staged),
            links,
            tlp_of,
            creators,
            source,
            default_source,
            staged,
            objects,
        )
    return staged


def _sql_string(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _unescape_sql(column: str) -> str:
    return f"regexp_replace({column}, '\\\\([''\\\\])', '\\1', 'g')"


def _stage_indicators(
    con: duckdb.DuckDBPyConnection,
    table: pa.Table,
    links: _Links,
    tlp_of: dict[str, str],
    creators: set[Any],
    source: str | None,
    default_source: str,
    staged: Staged,
    objects: Sequence[Any],
) -> None:
    con.register("sf_stix_arrow", table)
    try:
        con.execute("CREATE OR REPLACE TEMP TABLE sf_stix_ind AS SELECT * FROM sf_stix_arrow")
    finally:
        con.unregister("sf_stix_arrow")
    for pos, object_id in con.execute(
        "SELECT pos, id FROM sf_stix_ind WHERE trim(coalesce(pattern, '')) = '' ORDER BY pos"
    ).fetchall():
        staged.errors.append(
            RecordError(
                "indicator without a pattern",
                line=int(pos) + 1,
                object_id=object_id,
                raw=json.dumps(objects[int(pos)])[:2000],
            )
        )
    # The fast path, over the whole column (the same expressions as patterns.fast_parse).
    value_re = _sql_string("^(?:" + patterns.FAST_VALUE_RE + ")$")
    hash_re = _sql_string("^(?:" + patterns.FAST_HASH_RE + ")$")
    con.execute(
        "CREATE OR REPLACE TEMP TABLE sf_stix_fast AS "
        "WITH m AS (SELECT pos, pattern, "
        f"regexp_extract(pattern, {value_re}, ['o', 'v']) AS fv, "
        f"regexp_extract(pattern, {hash_re}, ['o', 'q', 'b', 'v']) AS fh "
        "FROM sf_stix_ind WHERE coalesce(pattern_type, 'stix') = 'stix' "
        "AND trim(coalesce(pattern, '')) <> ''), "
        "h AS (SELECT *, coalesce(nullif(fh.q, ''), fh.b) AS hname, "
        "lower(replace(coalesce(nullif(fh.q, ''), fh.b), '-', '')) AS hkey FROM m) "
        "SELECT pos, CASE WHEN fv.o <> '' THEN CASE fv.o WHEN 'domain-name' THEN 'domain' "
        "WHEN 'url' THEN 'url' WHEN 'email-addr' THEN 'email' ELSE 'ip' END "
        "WHEN fh.o = 'file' THEN hkey WHEN fh.o <> '' THEN 'x509_' || hkey END AS type, "
        f"CASE WHEN fv.o <> '' THEN {_unescape_sql('fv.v')} "
        f"WHEN fh.o <> '' THEN {_unescape_sql('fh.v')} END AS raw_value, "
        "CASE WHEN fv.o <> '' THEN fv.o || ':value' "
        "WHEN fh.o <> '' THEN fh.o || ':hashes.' || hname END AS source_type "
        "FROM h WHERE fv.o <> '' OR (fh.o <> '' AND NOT (fh.o = 'x509-certificate' "
        "AND hkey = 'sha512'))"
    )
    # Everything else is parsed in Python (stix2-patterns; cached by pattern text).
    slow = con.execute(
        "SELECT pos, pattern, coalesce(pattern_type, 'stix'), x_signalfire_type FROM sf_stix_ind "
        "WHERE trim(coalesce(pattern, '')) <> '' "
        "AND pos NOT IN (SELECT pos FROM sf_stix_fast)"
    ).fetchall()
    terms = _slow_terms(slow)
    con.register("sf_stix_terms_arrow", terms)
    con.register("sf_stix_links_arrow", _links_table(links, table))
    con.register(
        "sf_stix_identities_arrow",
        pa.table(
            {
                "id": pa.array([c for c in creators if isinstance(c, str)], pa.string()),
                "name": pa.array(
                    [links.name(c) for c in creators if isinstance(c, str)], pa.string()
                ),
            }
        ),
    )
    con.register(
        "sf_stix_markings_arrow",
        pa.table({"id": pa.array(list(tlp_of)), "tlp": pa.array(list(tlp_of.values()))}),
    )
    attack_sources = ", ".join(_sql_string(s) for s in _ATTACK_SOURCES)
    try:
        con.execute(
            "INSERT INTO sf_intel_stage BY NAME "
            "WITH terms AS (SELECT pos, type, raw_value, source_type, NULL::BOOLEAN AS evaluable, "
            "NULL::VARCHAR AS reason FROM sf_stix_fast UNION ALL "
            "SELECT pos, type, raw_value, source_type, evaluable, reason "
            "FROM sf_stix_terms_arrow), "
            "refs AS (SELECT pos, unnest(object_marking_refs) AS ref, "
            "generate_subscripts(object_marking_refs, 1) AS n FROM sf_stix_ind), "
            "tlps AS (SELECT pos, arg_min(m.tlp, n) AS tlp FROM refs "
            "JOIN sf_stix_markings_arrow m ON m.id = refs.ref GROUP BY pos) "
            "SELECT t.pos, t.type, t.raw_value, t.source_type, 'stix' AS source_format, "
            "i.pattern, t.evaluable, t.reason, "
            "coalesce(i.x_signalfire_to_ids, true) AS to_ids, "
            "coalesce(i.revoked, false) AS revoked, "
            "coalesce($source::VARCHAR, c.name, $default::VARCHAR) AS source, "
            "i.id AS source_ref, i.name, i.description, "
            "CASE WHEN i.confidence BETWEEN 0 AND 100 THEN i.confidence END AS confidence, "
            "tlps.tlp, i.valid_from, i.valid_until, "
            "i.x_signalfire_first_seen AS first_seen, i.x_signalfire_last_seen AS last_seen, "
            "i.created, i.modified, "
            "list_distinct(list_concat(coalesce(i.labels, []), coalesce(i.indicator_types, [])))"
            " AS labels, "
            "list_distinct(list_concat(list_transform(list_filter(coalesce("
            "i.external_references, []), e -> e.source_name IN ("
            f"{attack_sources}) AND regexp_full_match(coalesce(e.external_id, ''), "
            "'T\\d{4}(\\.\\d{3})?')), e -> e.external_id), coalesce(l.attack, []))) AS attack, "
            "list_transform(coalesce(i.kill_chain_phases, []), "
            "p -> p.kill_chain_name || ':' || p.phase_name) AS kill_chain_phases, "
            "l.intrusion_sets, l.malware, l.threat_actors, l.campaigns, l.reports "
            "FROM terms t JOIN sf_stix_ind i USING (pos) "
            "LEFT JOIN tlps USING (pos) "
            "LEFT JOIN sf_stix_links_arrow l ON l.id = i.id "
            "LEFT JOIN sf_stix_identities_arrow c ON c.id = i.created_by_ref",
            {"source": source, "default": default_source},
        )
    finally:
        for name in (
            "sf_stix_terms_arrow",
            "sf_stix_links_arrow",
            "sf_stix_identities_arrow",
            "sf_stix_markings_arrow",
        ):
            con.unregister(name)
        con.execute("DROP TABLE IF EXISTS sf_stix_ind; DROP TABLE IF EXISTS sf_stix_fast")


def _slow_terms(rows: list[tuple[Any, ...]]) -> pa.Table:
    """Terms of the patterns the fast path did not take: (pos, type, value, path, ...)."""
    out: dict[str, list[Any]] = {
        k: [] for k in ("pos", "type", "raw_value", "source_type", "evaluable", "reason")
    }

    def add(
        pos: int, kind: str, value: str, path: str | None, ok: bool | None, why: str | None
    ) -> None:
        out["pos"].append(pos)
        out["type"].append(kind)
        out["raw_value"].append(value)
        out["source_type"].append(path)
        out["evaluable"].append(ok)
        out["reason"].append(why)

    for pos, pattern, pattern_type, custom_type in rows:
        if pattern_type != "stix":
            add(
                pos,
                f"pattern:{pattern_type}",
                pattern,
                None,
                False,
                f"a {pattern_type} pattern is not evaluated by indicator matching",
            )
            continue
        parsed = patterns.parse(pattern)
        for t in parsed.terms:
            if t.type == "other":
                kind = custom_type or "stix:other"
                if kind in TYPES:  # one of ours whose value STIX would not take (a bad hash)
                    add(pos, ALIASES.get(kind, kind), t.value, t.path, None, None)
                else:
                    add(pos, kind, t.value, t.path, False, foreign_reason(kind))
            else:
                add(pos, t.type, t.value, t.path, None, None)
        if parsed.reason is not None:
            add(pos, "stix_pattern", pattern, None, False, parsed.reason)
    return pa.table(
        {
            "pos": pa.array(out["pos"], pa.int64()),
            "type": pa.array(out["type"], pa.string()),
            "raw_value": pa.array(out["raw_value"], pa.string()),
            "source_type": pa.array(out["source_type"], pa.string()),
            "evaluable": pa.array(out["evaluable"], pa.bool_()),
            "reason": pa.array(out["reason"], pa.string()),
        }
    )


def _links_table(links: _Links, indicators: pa.Table) -> pa.Table:
    """Per linked indicator id: the names it is tied to (only indicators with links)."""
    ids = set(links.indicates) | set(links.reports)
    keys = ("intrusion_sets", "malware", "threat_actors", "campaigns", "reports", "attack")
    out: dict[str, list[Any]] = {k: [] for k in ("id", *keys)}
    present = set(indicators.column("id").to_pylist()) if ids else set()
    for indicator_id in sorted(ids & present):
        resolved = links.resolve(indicator_id)
        out["id"].append(indicator_id)
        for k in keys:
            out[k].append(resolved[k])
    return pa.table(
        {
            "id": pa.array(out["id"], pa.string()),
            **{k: pa.array(out[k], pa.list_(pa.string())) for k in keys},
        }
    )


def _object_row(obj: dict[str, Any], source: str) -> dict[str, Any]:
    name = obj.get("name")
    if not isinstance(name, str):
        value = obj.get("value")
        name = value if isinstance(value, str) else None
    return {
        "object_id": obj["id"],
        "type": obj["type"],
        "name": name,
        "aliases": _strings(obj.get("aliases")) + _strings(obj.get("x_mitre_aliases")),
        "external_ids": _external_ids(obj),
        "relationship_type": obj.get("relationship_type")
        if isinstance(obj.get("relationship_type"), str)
        else None,
        "source_ref": obj.get("source_ref") or obj.get("sighting_of_ref"),
        "target_ref": obj.get("target_ref"),
        "source": source,
        "object_json": json.dumps(obj, separators=(",", ":")),
        "created": obj.get("created") if isinstance(obj.get("created"), str) else None,
        "modified": obj.get("modified") if isinstance(obj.get("modified"), str) else None,
    }


def import_stix_objects(
    store: Store, objects: Sequence[dict[str, Any]], source: str | None = None
) -> FileSummary:
    """Import STIX objects (e.g. a TAXII collection's) into the store's indicators.

    Args:
        store: the store, open for writing.
        objects: STIX 2.x objects as parsed JSON.
        source: the source name of the indicators (else their creator's name).

    Raises:
        IntelError: the import failed; the store is as it was.
    """
    return IndicatorStore(store).import_stix_objects(objects, source, ImportOptions(source))
