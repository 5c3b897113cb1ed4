"""Import MISP events (event JSON, REST search results, feed directories) with ``pymisp``.

Every attribute becomes a stage row — the event's own attributes and those of its objects —
including the ones signalfire cannot match (``link``, ``text``, ``regkey|value``, …: kept with
type ``misp:<type>`` and evaluable false, so nothing the event said is lost). Composite types
give the part we match (``filename|md5`` → the MD5, named after the file; ``ip-dst|port`` → the
address, port in the context; ``domain|ip`` → both).

Decisions:

- ``to_ids`` false (MISP: "context, not for detection") → kept with ``to_ids`` false: listed and
  usable to enrich an alert, never alerting on its own. Same confidence: it is not less true,
  it is just not meant to fire.
- a deleted attribute → revoked (kept, never alerting).
- tags: ``tlp:*`` → TLP (an attribute's own beats its event's); ``misp-galaxy:threat-actor``
  and the MITRE intrusion-set galaxies → intrusion sets; malware, tool, malpedia, ransomware,
  banker, … galaxies → malware; ``mitre-attack-pattern`` galaxies → ATT&CK ids; other tags →
  labels. ``osint:certainty="N"`` and ``estimative-language:confidence-in-analytic-judgment``
  give the base confidence.
- sightings: the last sighting refreshes ``last_seen`` (which is what MISP's decay counts
  from); an expiration sighting sets ``valid_until``; false-positive sightings are counted in
  the context.
- the event's title goes to ``reports`` (a MISP event is what STIX calls a report); the source
  is ``--source``, else the event's creator organisation (``Orgc``), else the file or feed name.

A feed directory is ``manifest.json`` (the events, by uuid), ``<uuid>.json`` per event and
``hashes.csv`` (md5 of every attribute value, with its event uuid): the events listed are
imported one file (one transaction) each, and each event is checked against hashes.csv — a
value hashes.csv lists but the event file lacks means a truncated or stale file, and is reported.
"""

from __future__ import annotations

import copy
import csv
import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from signalfire.errors import IntelError
from signalfire.intel.indicators import ALIASES, ImportOptions, RecordError, StageBuilder, Staged
from signalfire.intel.stix_import import foreign_reason

_TLP = re.compile(r"tlp:\s*([a-z+-]+)\Z", re.IGNORECASE)
_GALAXY = re.compile(r'misp-galaxy:([^=]+)="(.*)"\Z')
_CERTAINTY = re.compile(r'osint:certainty="(\d{1,3})"\Z')
_ESTIMATIVE = re.compile(r'estimative-language:confidence-in-analytic-judgment="([a-z]+)"\Z')
_ESTIMATES = {"high": 90, "moderate": 60, "low": 30}
_ATTACK_IN = re.compile(r"\b(T\d{4}(?:\.\d{3})?)\b")
_MITRE_SUFFIX = re.compile(r"\s+-\s+[GSTCM]\d{4}(?:\.\d{3})?\Z")

_INTRUSION_GALAXIES = {"threat-actor", "microsoft-activity-group", "mitre-ics-groups"}
_MALWARE_GALAXIES = {
    "malpedia",
    "ransomware",
    "banker",
    "stealer",
    "rat",
    "backdoor",
    "botnet",
    "android",
    "exploit-kit",
    "cryptominers",
    "tds",
    "tool",
}


def classify_galaxy(galaxy: str, value: str) -> tuple[str, str] | None:
    """(column, name) for a galaxy cluster: intrusion_sets, malware or attack; None if none.

    ``APT1 - G0006`` (the MITRE galaxies' naming) gives ``APT1``.
    """
    g = galaxy.lower()
    if "attack-pattern" in g or g in ("mitre-ics-techniques", "mitre-mobile-attack-technique"):
        m = _ATTACK_IN.search(value)
        return ("attack", m.group(1)) if m else None
    name = _MITRE_SUFFIX.sub("", value).strip()
    if g in _INTRUSION_GALAXIES or "intrusion-set" in g:
        return "intrusion_sets", name
    if g in _MALWARE_GALAXIES or "malware" in g or g.endswith("-tool") or g == "mitre-tool":
        return "malware", name
    return None


class _TagFacts:
    """What a list of tags (and galaxy clusters) says."""

    def __init__(self, tags: list[str], clusters: list[tuple[str, str]]) -> None:
        self.tlp: str | None = None
        self.confidence: int | None = None
        self.labels: list[str] = []
        found: dict[str, list[str]] = {"intrusion_sets": [], "malware": [], "attack": []}
        for tag in tags:
            m = _TLP.match(tag.strip())
            if m:
                self.tlp = m.group(1).lower()
                continue
            g = _GALAXY.match(tag.strip())
            if g:
                clusters.append((g.group(1), g.group(2)))
                continue
            c = _CERTAINTY.match(tag.strip())
            if c and int(c.group(1)) <= 100:
                self.confidence = int(c.group(1))
            e = _ESTIMATIVE.match(tag.strip())
            if e and e.group(1) in _ESTIMATES:
                self.confidence = _ESTIMATES[e.group(1)]
            if tag not in self.labels:
                self.labels.append(tag)
        for galaxy, value in clusters:
            kind = classify_galaxy(galaxy, value)
            if kind is not None and kind[1] not in found[kind[0]]:
                found[kind[0]].append(kind[1])
        self.intrusion_sets = found["intrusion_sets"]
        self.malware = found["malware"]
        self.attack = found["attack"]


def _tags(entity: Any) -> list[str]:
    return [str(t.name) for t in getattr(entity, "tags", []) or [] if getattr(t, "name", None)]


def _clusters(entity: Any) -> list[tuple[str, str]]:
    out = []
    for galaxy in getattr(entity, "galaxies", []) or []:
        for cluster in getattr(galaxy, "clusters", []) or []:
            value = getattr(cluster, "value", None)
            if isinstance(value, str):
                out.append((str(getattr(galaxy, "type", "")), value))
    return out


def _iso(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return str(value.astimezone(UTC).isoformat())
    if hasattr(value, "isoformat"):
        return str(value.isoformat())
    text = str(value).strip()
    if text.isdigit():  # epoch seconds, as MISP writes timestamps and sightings
        return datetime.fromtimestamp(int(text), UTC).isoformat()
    return text or None


def _merge(*lists: list[str]) -> list[str]:
    return list(dict.fromkeys(x for lst in lists for x in lst))


def _events_of(document: Any, where: str) -> list[dict[str, Any]]:
    if isinstance(document, dict) and isinstance(document.get("response"), list):
        items = document["response"]
    elif isinstance(document, list):
        items = document
    else:
        items = [document]
    events = []
    for item in items:
        if isinstance(item, dict) and isinstance(item.get("Event"), dict):
            events.append(item["Event"])
        elif isinstance(item, dict):
            events.append(item)
        else:
            raise IntelError(f"{where}: not a MISP event (a JSON object with an 'Event')")
    return events


def stage_event_file(path: Path, source: str | None, default_source: str | None = None) -> Staged:
    """Stage a MISP event file (one event, ``{"Event": ...}``, or a REST ``response`` list).

    Raises:
        IntelError: the file is not JSON or pymisp cannot load an event in it.
    """
    try:
        with path.open("rb") as f:
            document = json.load(f)
    except ValueError as exc:
        raise IntelError(f"{path}: not valid JSON ({exc}); fix or re-download the file") from exc
    staged = Staged("misp")
    builder = StageBuilder()
    for raw in _events_of(document, str(path)):
        _stage_event(raw, str(path), source, default_source or path.stem, builder, staged)
    staged.rows = builder.table()
    return staged


def load_event(raw: dict[str, Any], where: str) -> Any:
    """A ``pymisp.MISPEvent`` from an event's JSON.

    Raises:
        IntelError: pymisp refuses it.
    """
    from pymisp import MISPEvent
    from pymisp.exceptions import PyMISPError

    event = MISPEvent()
    try:
        event.load(copy.deepcopy(raw))  # pymisp pops keys from the dicts it is given
    except (PyMISPError, KeyError, TypeError, ValueError) as exc:
        raise IntelError(
            f"{where}: not a MISP event pymisp can load ({type(exc).__name__}: {exc}); "
            "export the event again from MISP"
        ) from exc
    return event


def _raw_attributes(raw: dict[str, Any]) -> list[tuple[dict[str, Any] | None, dict[str, Any]]]:
    """(raw object or None, raw attribute) in the order pymisp loads them."""
    out: list[tuple[dict[str, Any] | None, dict[str, Any]]] = [
        (None, a) for a in raw.get("Attribute") or [] if isinstance(a, dict)
    ]
    for obj in raw.get("Object") or []:
        if isinstance(obj, dict):
            out.extend((obj, a) for a in obj.get("Attribute") or [] if isinstance(a, dict))
    return out


def _stage_event(
    raw: dict[str, Any],
    where: str,
    source: str | None,
    default_source: str,
    builder: StageBuilder,
    staged: Staged,
) -> None:
    event = load_event(raw, where)
    orgc = getattr(getattr(event, "Orgc", None), "name", None)
    event_source = source or (orgc if isinstance(orgc, str) and orgc else None) or default_source
    event_facts = _TagFacts(_tags(event), _clusters(event))
    info = getattr(event, "info", None)
    event_uuid = raw.get("uuid") if isinstance(raw.get("uuid"), str) else None
    event_time = _iso(
        getattr(event, "timestamp", None) or getattr(event, "publish_timestamp", None)
    )
    event_date = _iso(getattr(event, "date", None))
    loaded = list(event.attributes) + [a for o in event.objects for a in o.attributes]
    raws = _raw_attributes(raw)
    if len(raws) != len(loaded):  # pymisp dropped or added some: uuids cannot be paired
        raws = [(None, {})] * len(loaded)
    for attribute, (raw_object, raw_attribute) in zip(loaded, raws, strict=True):
        staged.records += 1
        kind = getattr(attribute, "type", None)
        value = getattr(attribute, "value", None)
        uuid = raw_attribute.get("uuid") if isinstance(raw_attribute.get("uuid"), str) else None
        if not isinstance(kind, str) or value is None or str(value).strip() == "":
            staged.errors.append(
                RecordError(
                    "attribute without a type or value",
                    object_id=uuid,
                    raw=json.dumps(raw_attribute, default=str)[:2000],
                )
            )
            continue
        facts = _TagFacts(_tags(attribute), _clusters(attribute))
        first_seen = _iso(getattr(attribute, "first_seen", None))
        last_seen = _iso(getattr(attribute, "last_seen", None))
        valid_until = None
        false_positives = 0
        for sighting in getattr(attribute, "sightings", []) or []:
            when = _iso(getattr(sighting, "date_sighting", None))
            kind_of = str(getattr(sighting, "type", "0"))
            if when is None:
                continue
            if kind_of == "0":
                last_seen = max(last_seen or when, when)
                first_seen = min(first_seen or when, when)
            elif kind_of == "2":
                valid_until = when
            elif kind_of == "1":
                false_positives += 1
        context: dict[str, Any] = {
            "misp_type": kind,
            "category": getattr(attribute, "category", None),
            "event_uuid": event_uuid,
        }
        if raw_object is not None:
            context["object_name"] = raw_object.get("name")
            context["object_relation"] = getattr(attribute, "object_relation", None)
        if false_positives:
            context["false_positive_sightings"] = false_positives
        common = {
            "source_type": kind,
            "source_format": "misp",
            "to_ids": bool(getattr(attribute, "to_ids", False)),
            "revoked": bool(getattr(attribute, "deleted", False)),
            "source": event_source,
            "source_ref": uuid,
            "description": getattr(attribute, "comment", None) or None,
            "confidence": facts.confidence
            if facts.confidence is not None
            else event_facts.confidence,
            "tlp": facts.tlp or event_facts.tlp,
            "valid_until": valid_until,
            "first_seen": first_seen,
            "last_seen": last_seen,
            "created": event_date,
            "modified": _iso(getattr(attribute, "timestamp", None)) or event_time,
            "labels": _merge(event_facts.labels, facts.labels),
            "attack": _merge(event_facts.attack, facts.attack),
            "intrusion_sets": _merge(event_facts.intrusion_sets, facts.intrusion_sets),
            "malware": _merge(event_facts.malware, facts.malware),
            "reports": [info] if isinstance(info, str) and info else [],
        }
        for our_type, part, name, extra in _parts(kind, str(value)):
            row_context = {k: v for k, v in {**context, **extra}.items() if v is not None}
            builder.add(
                pos=len(builder),
                type=our_type,
                raw_value=part,
                name=name,
                evaluable=False if our_type.startswith("misp:") else None,
                reason=foreign_reason(our_type) if our_type.startswith("misp:") else None,
                context=json.dumps(row_context, default=str),
                **common,
            )


_HASH_PARTS = {"md5", "sha1", "sha256", "sha512"}


def _parts(kind: str, value: str) -> list[tuple[str, str, str | None, dict[str, Any]]]:
    """(our type, value, name, extra context) for each matchable part of an attribute."""
    if "|" in kind:
        left_kind, right_kind = kind.split("|", 1)
        left, sep, right = value.partition("|")
        if sep:
            if kind == "domain|ip":
                return [("domain", left, None, {}), ("ip", right, None, {})]
            if right_kind == "port" and left_kind in ("ip-src", "ip-dst", "hostname", "domain"):
                return [(ALIASES[left_kind], left, None, {"port": right})]
            if left_kind == "filename" and right_kind in _HASH_PARTS:
                return [(right_kind, right, left, {"file_name": left})]
        return [(f"misp:{kind}", value, None, {})]
    our = ALIASES.get(kind)
    if our is None:
        return [(f"misp:{kind}", value, None, {})]
    return [(our, value, None, {})]


class MispFeed:
    """A MISP feed directory: ``manifest.json``, ``<uuid>.json`` events and ``hashes.csv``."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.preamble_notes: list[str] = []
        try:
            manifest = json.loads((path / "manifest.json").read_text(encoding="utf-8"))
        except ValueError as exc:
            raise IntelError(
                f"{path / 'manifest.json'}: not valid JSON ({exc}); re-download the feed"
            ) from exc
        if not isinstance(manifest, dict):
            raise IntelError(f"{path / 'manifest.json'}: not a MISP feed manifest (an object)")
        self.manifest: dict[str, Any] = manifest
        self.hashes: dict[str, set[str]] = {}
        hashes = path / "hashes.csv"
        if hashes.is_file():
            with hashes.open(encoding="utf-8", newline="") as f:
                for row in csv.reader(f):
                    if len(row) >= 2:
                        self.hashes.setdefault(row[1].strip(), set()).add(row[0].strip().lower())
        missing = [u for u in manifest if not (path / f"{u}.json").is_file()]
        if missing:
            self.preamble_notes.append(
                f"{path}: manifest.json lists {len(missing)} event(s) whose file is missing "
                f"(e.g. {missing[0]}.json); re-download the feed"
            )

    def event_files(self) -> list[Path]:
        """The event files: those the manifest lists, then any other ``*.json`` beside them."""
        listed = [self.path / f"{u}.json" for u in self.manifest]
        present = [p for p in listed if p.is_file()]
        others = sorted(
            p
            for p in self.path.glob("*.json")
            if p.name != "manifest.json" and p not in set(listed)
        )
        if others:
            self.preamble_notes.append(
                f"{self.path}: {len(others)} event file(s) not in manifest.json imported too"
            )
        return present + others

    def stage_event(self, path: Path, source: str | None, options: ImportOptions) -> Staged:
        """Stage one event of the feed and check it against hashes.csv."""
        staged = stage_event_file(path, source, default_source=self.path.name)
        if self.hashes:
            with path.open("rb") as f:
                events = _events_of(json.load(f), str(path))
            for raw in events:
                uuid = raw.get("uuid")
                expected = self.hashes.get(str(uuid), set())
                if not expected:
                    continue
                got = {h.lower() for h in load_event(raw, str(path)).attributes_hashes("md5")}
                lacking = expected - got
                if lacking:
                    staged.notes.append(
                        f"{path}: hashes.csv lists {len(lacking)} value(s) of event {uuid} "
                        "that the event file lacks (truncated or stale file?)"
                    )
        return staged
