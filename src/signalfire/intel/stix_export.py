"""Export our indicators, sightings and alerts as one STIX 2.1 bundle.

Only standard STIX 2.1 objects are written, plus ``x_signalfire_*`` custom *properties* on
indicators where STIX has no property for a fact we must keep for a faithful round trip
(``to_ids`` false, the type of an indicator from another vocabulary, first/last seen), so the
bundle parses with ``stix2.parse(..., allow_custom=True)`` and ``signalfire intel import`` of
it gives the same indicators (same type, value and source, hence the same ids):

- each indicator → ``indicator`` with its pattern rebuilt from type and value (the original
  pattern for those that cannot be evaluated), its source as the ``identity`` in
  ``created_by_ref``, TLP as ``object_marking_refs``, ATT&CK ids as ``external_references``,
  and an ``indicates`` relationship to each intrusion set, malware, threat actor and campaign
  it is tied to (the stored STIX 2.1 object when we have one, else a minimal one by name);
- each sighting → ``sighting`` of that indicator, ``where_sighted_refs`` our identity;
- each alert → ``observed-data`` (the addresses and domain it is about, as SCOs), a
  ``sighting`` of an ``attack-pattern`` standing for the detection (with the alert's ATT&CK
  techniques as external references), and a ``note`` holding the alert's evidence.
"""

from __future__ import annotations

import ipaddress
import json
import uuid
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb

from signalfire.intel import patterns
from signalfire.intel.stix_import import TLP_MARKINGS

#: Namespace of the ids we derive (stable: exporting twice gives the same ids).
NAMESPACE = uuid.UUID("8f0b7d2e-6a51-4b43-9d0e-5f1c3a7e2b64")
#: STIX 2.1's namespace for deterministic cyber-observable ids.
SCO_NAMESPACE = uuid.UUID("00abedb4-aa42-466c-9c01-fed23315a9b7")
SIGNALFIRE_IDENTITY = "identity--" + str(uuid.uuid5(NAMESPACE, "identity:signalfire"))
EPOCH = "1970-01-01T00:00:00.000Z"
_TLP_IDS = {tlp: marking for marking, tlp in TLP_MARKINGS.items()}
_MAX_COUNT = 999_999_999  # STIX 2.1 caps sighting counts
_HASH_TYPES = ("md5", "sha1", "sha256", "sha512", "x509_md5", "x509_sha1", "x509_sha256")


def _sid(kind: str, key: str) -> str:
    return f"{kind}--{uuid.uuid5(NAMESPACE, f'{kind}:{key}')}"


def ts(moment: datetime | None) -> str | None:
    """A STIX timestamp (UTC, ``Z``, microseconds)."""
    if moment is None:
        return None
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass
class ExportSummary:
    """What an export wrote."""

    path: str
    objects: dict[str, int] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"path": self.path, "objects": sum(self.objects.values()), "by_type": self.objects}


def _rows(con: duckdb.DuckDBPyConnection, sql: str, params: Any = None) -> list[dict[str, Any]]:
    cursor = con.execute(sql, params or {})
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, r, strict=True)) for r in cursor.fetchall()]


class _Bundle:
    def __init__(self) -> None:
        self.objects: dict[str, dict[str, Any]] = {}

    def add(self, obj: dict[str, Any]) -> str:
        self.objects.setdefault(obj["id"], obj)
        return str(obj["id"])


def _identity(bundle: _Bundle, name: str, created: str) -> str:
    return bundle.add(
        {
            "type": "identity",
            "spec_version": "2.1",
            "id": _sid("identity", name) if name != "signalfire" else SIGNALFIRE_IDENTITY,
            "created": created,
            "modified": created,
            "name": name,
        }
    )


def _marking(bundle: _Bundle, tlp: str) -> str:
    if tlp in _TLP_IDS:
        import stix2

        marking = {
            "white": stix2.TLP_WHITE,
            "green": stix2.TLP_GREEN,
            "amber": stix2.TLP_AMBER,
            "red": stix2.TLP_RED,
        }[tlp]
        return bundle.add(json.loads(marking.serialize()))
    # TLP 2.0 levels (clear, amber+strict) as statement markings named as TLP 2.0 names them.
    return bundle.add(
        {
            "type": "marking-definition",
            "spec_version": "2.1",
            "id": _sid("marking-definition", tlp),
            "created": EPOCH,
            "name": f"TLP:{tlp.upper()}",
            "definition_type": "statement",
            "definition": {"statement": f"TLP:{tlp.upper()}"},
        }
    )


_LINK_TYPES = {
    "intrusion_sets": "intrusion-set",
    "malware": "malware",
    "threat_actors": "threat-actor",
    "campaigns": "campaign",
}


class _Linked:
    """Objects (by type and name) to link indicators to: stored 2.1 objects or minimal ones."""

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self.stored: dict[tuple[str, str], dict[str, Any]] = {}
        for row in _rows(
            con,
            "SELECT type, name, aliases, object_json, created, modified FROM intel_objects "
            "WHERE type IN ('intrusion-set', 'malware', 'tool', 'threat-actor', 'campaign') "
            "AND name IS NOT NULL ORDER BY modified",
        ):
            obj = json.loads(row["object_json"]) if row["object_json"] else {}
            for name in [row["name"], *(row["aliases"] or [])]:
                self.stored[(row["type"], str(name).lower())] = obj

    def get(self, kind: str, name: str) -> dict[str, Any]:
        """A minimal, valid STIX 2.1 object for a name (the stored object's id when known)."""
        kinds = ("malware", "tool") if kind == "malware" else (kind,)
        found = next((o for k in kinds if (o := self.stored.get((k, name.lower())))), {})
        created = found.get("created") if isinstance(found.get("created"), str) else EPOCH
        modified = found.get("modified") if isinstance(found.get("modified"), str) else created
        obj: dict[str, Any] = {
            "type": "tool" if found.get("type") == "tool" else kind,
            "spec_version": "2.1",
            "id": found["id"] if isinstance(found.get("id"), str) else _sid(kind, name),
            "created": created,
            "modified": max(str(modified), str(created)),
            "name": name,
        }
        if obj["type"] == "malware":
            obj["is_family"] = found.get("is_family", True) is not False
        aliases = [a for a in found.get("aliases") or [] if isinstance(a, str)]
        if aliases and obj["type"] in (
            "intrusion-set",
            "threat-actor",
            "campaign",
            "malware",
            "tool",
        ):
            obj["aliases"] = aliases
        return obj


def _indicator(
    row: dict[str, Any], export_id: str, source_ref: str, tlp_ref: str | None
) -> dict[str, Any]:
    # STIX requires created (and modified >= created); dateless lists have only modified.
    created = ts(row["created"]) or ts(row["modified"]) or ts(row["imported_at"])
    modified = ts(row["modified"]) or created
    valid_from = ts(row["valid_from"]) or created
    kind = str(row["type"])
    obj: dict[str, Any] = {
        "type": "indicator",
        "spec_version": "2.1",
        "id": export_id,
        "created": created,
        "modified": max(str(modified), str(created)),
        "created_by_ref": source_ref,
        "pattern_type": "stix",
        "valid_from": valid_from,
    }
    if kind == "stix_pattern":
        obj["pattern"] = row["pattern"] or row["value"]
    elif kind.startswith("pattern:"):
        obj["pattern_type"] = kind.split(":", 1)[1]
        obj["pattern"] = row["value"]
    else:
        # stix2 rejects a hash pattern whose value is not a digest of that length: such values
        # (kept, not evaluable) travel in the custom observable with their type alongside.
        invalid_hash = not row["evaluable"] and kind in _HASH_TYPES
        if patterns.has_stix_form(kind) and not invalid_hash:
            obj["pattern"] = patterns.build(kind, str(row["value"]))
        else:
            obj["pattern"] = patterns.build("other", str(row["value"]))
            obj["x_signalfire_type"] = kind
    for key in ("name", "description"):
        if row[key]:
            obj[key] = row[key]
    valid_until = ts(row["valid_until"])
    if valid_until is not None and valid_until > str(valid_from):
        obj["valid_until"] = valid_until
    if row["confidence"] is not None:
        obj["confidence"] = int(row["confidence"])
    if row["labels"]:
        obj["labels"] = list(row["labels"])
    if row["kill_chain_phases"]:
        phases = []
        for phase in row["kill_chain_phases"]:
            name, _, phase_name = str(phase).partition(":")
            if name and phase_name:
                phases.append({"kill_chain_name": name, "phase_name": phase_name})
        if phases:
            obj["kill_chain_phases"] = phases
    if row["attack"]:
        obj["external_references"] = [
            {"source_name": "mitre-attack", "external_id": t} for t in row["attack"]
        ]
    if tlp_ref:
        obj["object_marking_refs"] = [tlp_ref]
    if row["revoked"]:
        obj["revoked"] = True
    if not row["to_ids"]:
        obj["x_signalfire_to_ids"] = False
    if row["first_seen"] is not None:
        obj["x_signalfire_first_seen"] = ts(row["first_seen"])
    if row["last_seen"] is not None:
        obj["x_signalfire_last_seen"] = ts(row["last_seen"])
    return obj


def _sco(kind: str, value: str) -> dict[str, Any]:
    contributing = json.dumps({"value": value}, separators=(",", ":"), ensure_ascii=False)
    return {
        "type": kind,
        "spec_version": "2.1",
        "id": f"{kind}--{uuid.uuid5(SCO_NAMESPACE, contributing)}",
        "value": value,
    }


def _address_sco(value: str | None) -> dict[str, Any] | None:
    if not value:
        return None
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        return None
    return _sco("ipv4-addr" if address.version == 4 else "ipv6-addr", str(address))


def export_bundle(
    con: duckdb.DuckDBPyConnection,
    *,
    sources: Sequence[str] | None = None,
    types: Sequence[str] | None = None,
    include_alerts: bool = True,
    include_sightings: bool = True,
) -> dict[str, Any]:
    """The STIX 2.1 bundle of the store's indicators (optionally only some), sightings, alerts."""
    bundle = _Bundle()
    where, params = ["true"], {}
    if sources:
        where.append("source IN (SELECT unnest($sources::VARCHAR[]))")
        params["sources"] = list(sources)
    if types:
        where.append("type IN (SELECT unnest($types::VARCHAR[]))")
        params["types"] = list(types)
    rows = _rows(
        con,
        "SELECT *, count(*) OVER (PARTITION BY source_ref) AS ref_rows FROM indicators "
        f"WHERE {' AND '.join(where)} ORDER BY source, type, value",
        params,
    )
    linked = _Linked(con)
    export_ids: dict[str, str] = {}
    first_import = min((r["imported_at"] for r in rows if r["imported_at"]), default=None)
    signalfire_created = ts(first_import) or EPOCH
    for row in rows:
        ref = row["source_ref"]
        if isinstance(ref, str) and ref.startswith("indicator--") and row["ref_rows"] == 1:
            export_id = ref
        else:
            export_id = _sid("indicator", str(row["indicator_id"]))
        export_ids[str(row["indicator_id"])] = export_id
        source_ref = _identity(bundle, str(row["source"]), ts(row["imported_at"]) or EPOCH)
        tlp_ref = _marking(bundle, str(row["tlp"])) if row["tlp"] else None
        indicator = _indicator(row, export_id, source_ref, tlp_ref)
        bundle.add(indicator)
        for column, kind in _LINK_TYPES.items():
            for name in row[column] or []:
                target = bundle.add(linked.get(kind, str(name)))
                bundle.add(
                    {
                        "type": "relationship",
                        "spec_version": "2.1",
                        "id": _sid("relationship", f"{export_id}|indicates|{target}"),
                        "created": indicator["created"],
                        "modified": indicator["modified"],
                        "relationship_type": "indicates",
                        "source_ref": export_id,
                        "target_ref": target,
                    }
                )
    if include_sightings or include_alerts:
        _identity(bundle, "signalfire", signalfire_created)
    if include_sightings:
        _add_sightings(con, bundle, export_ids)
    if include_alerts:
        _add_alerts(con, bundle)
    ordered = sorted(bundle.objects.values(), key=lambda o: (_ORDER.get(o["type"], 5), o["id"]))
    digest = uuid.uuid5(NAMESPACE, "|".join(o["id"] for o in ordered))
    return {"type": "bundle", "id": f"bundle--{digest}", "objects": ordered}


_ORDER = {"marking-definition": 0, "identity": 1, "indicator": 3, "relationship": 4}


def _add_sightings(
    con: duckdb.DuckDBPyConnection, bundle: _Bundle, export_ids: dict[str, str]
) -> None:
    for row in _rows(con, "SELECT * FROM sightings ORDER BY sighting_id"):
        target = export_ids.get(str(row["indicator_id"]))
        if target is None:
            continue
        created = ts(row["created_at"]) or EPOCH
        sighting: dict[str, Any] = {
            "type": "sighting",
            "spec_version": "2.1",
            "id": _sid("sighting", str(row["sighting_id"])),
            "created": created,
            "modified": max(ts(row["updated_at"]) or created, created),
            "created_by_ref": SIGNALFIRE_IDENTITY,
            "sighting_of_ref": target,
            "where_sighted_refs": [SIGNALFIRE_IDENTITY],
            "count": min(int(row["count"] or 0), _MAX_COUNT),
            "description": f"{row['observed_value']} in {row['event_table']}.{row['event_column']}",
        }
        if row["first_seen"] is not None:
            sighting["first_seen"] = ts(row["first_seen"])
        if row["last_seen"] is not None and (
            row["first_seen"] is None or row["last_seen"] >= row["first_seen"]
        ):
            sighting["last_seen"] = ts(row["last_seen"])
        if row["alert_id"]:
            sighting["external_references"] = [
                {"source_name": "signalfire", "external_id": str(row["alert_id"])}
            ]
        bundle.add(sighting)


def _add_alerts(con: duckdb.DuckDBPyConnection, bundle: _Bundle) -> None:
    alerts = _rows(con, "SELECT * FROM alerts ORDER BY alert_id")
    techniques: dict[str, list[str]] = {}
    titles: dict[str, str] = {}
    for alert in alerts:
        known = techniques.setdefault(alert["detection"], [])
        known.extend(t for t in alert["attack"] or [] if t not in known)
        titles.setdefault(alert["detection"], alert["title"] or alert["detection"])
    patterns_of: dict[str, str] = {}
    for detection, attack in sorted(techniques.items()):
        patterns_of[detection] = bundle.add(
            {
                "type": "attack-pattern",
                "spec_version": "2.1",
                "id": _sid("attack-pattern", f"detection:{detection}"),
                "created": EPOCH,
                "modified": EPOCH,
                "name": titles[detection],
                "description": f"What the Signalfire detection {detection} looks for.",
                "external_references": [
                    {"source_name": "signalfire", "external_id": detection},
                    *({"source_name": "mitre-attack", "external_id": t} for t in attack),
                ],
            }
        )
    for alert in alerts:
        first = alert["first_seen"] or alert["created_at"]
        last = max(alert["last_seen"] or first, first) if first else None
        created = ts(alert["created_at"]) or ts(first) or EPOCH
        scos = [
            s
            for s in (
                _address_sco(alert["source_ip"]),
                _address_sco(alert["destination_ip"]),
                _sco("domain-name", str(alert["destination_domain"]).lower())
                if alert["destination_domain"]
                else None,
            )
            if s is not None
        ]
        refs = [bundle.add(s) for s in scos]
        observed_id = None
        if refs and first is not None:
            observed_id = bundle.add(
                {
                    "type": "observed-data",
                    "spec_version": "2.1",
                    "id": _sid("observed-data", str(alert["alert_id"])),
                    "created": created,
                    "modified": max(ts(alert["updated_at"]) or created, created),
                    "created_by_ref": SIGNALFIRE_IDENTITY,
                    "first_observed": ts(first),
                    "last_observed": ts(last),
                    "number_observed": 1,
                    "object_refs": list(dict.fromkeys(refs)),
                }
            )
        sighting: dict[str, Any] = {
            "type": "sighting",
            "spec_version": "2.1",
            "id": _sid("sighting", f"alert:{alert['alert_id']}"),
            "created": created,
            "modified": max(ts(alert["updated_at"]) or created, created),
            "created_by_ref": SIGNALFIRE_IDENTITY,
            "sighting_of_ref": patterns_of[alert["detection"]],
            "where_sighted_refs": [SIGNALFIRE_IDENTITY],
            "count": 1,
            "description": alert["title"] or alert["detection"],
            "confidence": round(float(alert["score"] or 0) * 100),
            "labels": [f"severity:{alert['severity']}", f"detection:{alert['detection']}"],
            "external_references": [
                {
                    "source_name": "signalfire",
                    "external_id": str(alert["alert_id"]),
                    "description": str(alert["entity"] or ""),
                }
            ],
        }
        if first is not None:
            sighting["first_seen"] = ts(first)
            sighting["last_seen"] = ts(last)
        if observed_id is not None:
            sighting["observed_data_refs"] = [observed_id]
        sighting_id = bundle.add(sighting)
        evidence = alert["evidence"]
        if evidence:
            bundle.add(
                {
                    "type": "note",
                    "spec_version": "2.1",
                    "id": _sid("note", f"alert:{alert['alert_id']}"),
                    "created": created,
                    "modified": created,
                    "created_by_ref": SIGNALFIRE_IDENTITY,
                    "abstract": f"Evidence of {alert['detection']} alert {alert['alert_id']}",
                    "content": evidence if isinstance(evidence, str) else json.dumps(evidence),
                    "object_refs": [sighting_id],
                }
            )


def write_bundle(bundle: dict[str, Any], path: Path) -> ExportSummary:
    """Write a bundle as JSON (atomically: a crash never leaves half a file)."""
    tmp = path.with_name(path.name + ".partial")
    with tmp.open("w", encoding="utf-8") as f:
        json.dump(bundle, f, ensure_ascii=False, indent=1)
        f.write("\n")
    tmp.replace(path)
    return ExportSummary(str(path), dict(Counter(o["type"] for o in bundle["objects"])))


def object_types(objects: Iterable[dict[str, Any]]) -> dict[str, int]:
    """Objects per STIX type."""
    return dict(Counter(o["type"] for o in objects))
