"""MITRE ATT&CK (Enterprise and ICS): techniques, tactics, intrusion sets, software, mitigations
and campaigns, with the STIX relationships between them resolved to ATT&CK ids.

The package ships a compact copy of the bundles (``signalfire/data/attack.json.gz``), built with::

    python -m signalfire.intel.attack compact enterprise-attack.json ics-attack.json \\
        -o src/signalfire/data/attack.json.gz

``load_catalog()`` reads that copy; ``load_catalog([paths])`` parses full STIX 2.0 or 2.1
bundles instead (a newer ATT&CK than the one shipped). Nothing is ever downloaded.

Revoked and deprecated objects are kept, flagged, and left out of the counts of current
objects; a revoked id resolves to the object that replaced it.
"""

from __future__ import annotations

import argparse
import dataclasses
import gzip
import json
import re
import sys
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar

from signalfire import settings
from signalfire.errors import IntelError, SourceError

ENTERPRISE = "enterprise-attack"
ICS = "ics-attack"
MOBILE = "mobile-attack"
#: Domains in the order they are listed.
DOMAIN_ORDER = (ENTERPRISE, ICS, MOBILE)

#: Tag of the compact format; bump the number when its fields change.
COMPACT_FORMAT = "signalfire-attack-compact/1"
BUNDLED_RESOURCE = "attack.json.gz"

# ATT&CK marks its own objects with one of these external-reference sources (ICS techniques use
# "mitre-attack" too, so the source name does not say the domain).
_ATTACK_SOURCES = frozenset({"mitre-attack", "mitre-ics-attack", "mitre-mobile-attack"})
_KILL_CHAINS = {"mitre-attack": ENTERPRISE, "mitre-ics-attack": ICS, "mitre-mobile-attack": MOBILE}
_OBJECT_TYPES = frozenset(
    {
        "attack-pattern",
        "x-mitre-tactic",
        "intrusion-set",
        "malware",
        "tool",
        "course-of-action",
        "campaign",
        "x-mitre-asset",
        "x-mitre-matrix",
        "x-mitre-collection",
    }
)
# Chains of revoked-by are short (a technique merged twice); the bound only guards against a
# cycle in a hand-edited bundle.
_MAX_REVOCATIONS = 10

_LINK = re.compile(r"\[([^\]]*)\]\((?:[^()\s]|\([^()\s]*\))*\)")
_CITATION = re.compile(r"\s*\(Citation:[^()]*(?:\([^()]*\)[^()]*)*\)")
_CODE = re.compile(r"</?code>")
_PARAGRAPH = re.compile(r"\n\s*\n")


def first_paragraph(text: str) -> str:
    """The first paragraph of an ATT&CK description, as plain text.

    ATT&CK descriptions are Markdown with links to other ATT&CK pages and ``(Citation: ...)``
    markers; a terminal or a JSON consumer wants neither.
    """
    text = _CODE.sub("", _CITATION.sub("", _LINK.sub(r"\1", text)))
    return _PARAGRAPH.split(text.strip(), maxsplit=1)[0].strip()


@dataclass(frozen=True)
class Tactic:
    """An ATT&CK tactic (the adversary's goal): ``TA0011`` Command and Control."""

    id: str
    name: str
    shortname: str
    domain: str
    description: str = ""
    url: str = ""
    deprecated: bool = False
    revoked: bool = False

    @property
    def current(self) -> bool:
        """Neither revoked nor deprecated."""
        return not (self.deprecated or self.revoked)


@dataclass(frozen=True)
class Technique:
    """A technique or sub-technique (``T1071``, ``T1071.001``, ICS ``T0855``).

    ``tactics`` are kill-chain phase names (tactic shortnames) in ``domain``'s kill chain.
    """

    id: str
    name: str
    domain: str
    tactics: tuple[str, ...] = ()
    platforms: tuple[str, ...] = ()
    description: str = ""
    url: str = ""
    is_subtechnique: bool = False
    parent: str | None = None
    deprecated: bool = False
    revoked: bool = False
    revoked_by: str | None = None
    data_sources: tuple[str, ...] = ()
    mitigations: tuple[str, ...] = ()
    #: ICS assets the technique targets (ATT&CK for ICS ``targets`` relationships).
    targets: tuple[str, ...] = ()

    @property
    def current(self) -> bool:
        """Neither revoked nor deprecated."""
        return not (self.deprecated or self.revoked)


@dataclass(frozen=True)
class Group:
    """An intrusion set (``G0006`` APT1) with the techniques and software it is known to use."""

    id: str
    name: str
    aliases: tuple[str, ...] = ()
    domains: tuple[str, ...] = ()
    description: str = ""
    url: str = ""
    techniques: tuple[str, ...] = ()
    software: tuple[str, ...] = ()
    deprecated: bool = False
    revoked: bool = False
    revoked_by: str | None = None

    @property
    def current(self) -> bool:
        """Neither revoked nor deprecated."""
        return not (self.deprecated or self.revoked)


@dataclass(frozen=True)
class Software:
    """Malware or a tool (``S0002`` Mimikatz) with the techniques it implements."""

    id: str
    name: str
    type: str
    aliases: tuple[str, ...] = ()
    domains: tuple[str, ...] = ()
    platforms: tuple[str, ...] = ()
    description: str = ""
    url: str = ""
    techniques: tuple[str, ...] = ()
    deprecated: bool = False
    revoked: bool = False
    revoked_by: str | None = None

    @property
    def current(self) -> bool:
        """Neither revoked nor deprecated."""
        return not (self.deprecated or self.revoked)


@dataclass(frozen=True)
class Mitigation:
    """A mitigation (``M1031`` Network Intrusion Prevention)."""

    id: str
    name: str
    domains: tuple[str, ...] = ()
    url: str = ""
    deprecated: bool = False
    revoked: bool = False

    @property
    def current(self) -> bool:
        """Neither revoked nor deprecated."""
        return not (self.deprecated or self.revoked)


@dataclass(frozen=True)
class Campaign:
    """A campaign (``C0028``), the groups it is attributed to and what it used."""

    id: str
    name: str
    domains: tuple[str, ...] = ()
    description: str = ""
    url: str = ""
    groups: tuple[str, ...] = ()
    techniques: tuple[str, ...] = ()
    software: tuple[str, ...] = ()
    first_seen: str | None = None
    last_seen: str | None = None
    deprecated: bool = False
    revoked: bool = False
    revoked_by: str | None = None

    @property
    def current(self) -> bool:
        """Neither revoked nor deprecated."""
        return not (self.deprecated or self.revoked)


@dataclass(frozen=True)
class Source:
    """One ATT&CK domain the catalog was built from."""

    domain: str
    name: str
    #: The ATT&CK release (``x-mitre-collection``), when the bundle says it.
    version: str | None = None
    #: The latest ``modified`` timestamp of the domain's objects: how recent the data is.
    modified: str = ""
    file: str = ""


@dataclass(frozen=True)
class SearchHit:
    """One object found by ``AttackCatalog.search``."""

    kind: str
    id: str
    name: str
    domains: tuple[str, ...]
    current: bool
    #: What matched: ``id``, ``name``, ``alias`` or ``description``.
    matched: str


_KINDS: dict[str, type[Any]] = {
    "tactics": Tactic,
    "techniques": Technique,
    "groups": Group,
    "software": Software,
    "mitigations": Mitigation,
    "campaigns": Campaign,
}
_T = TypeVar("_T")


def _rank_current(items: Iterable[_T]) -> list[_T]:
    return sorted(items, key=lambda x: not getattr(x, "current", True))


class AttackCatalog:
    """ATT&CK loaded in memory: immutable; every lookup is a dictionary access.

    Build one with ``load_catalog``. Ids are ATT&CK ids (``T1071``, ``TA0011``, ``G0006``,
    ``S0002``, ``M1031``, ``C0028``); the relationships of the STIX bundles are resolved to them.
    """

    def __init__(
        self,
        *,
        tactics: Sequence[Tactic],
        techniques: Sequence[Technique],
        groups: Sequence[Group],
        software: Sequence[Software],
        mitigations: Sequence[Mitigation] = (),
        campaigns: Sequence[Campaign] = (),
        sources: Sequence[Source] = (),
    ) -> None:
        self.tactics: tuple[Tactic, ...] = tuple(tactics)
        self.techniques: tuple[Technique, ...] = tuple(techniques)
        self.groups: tuple[Group, ...] = tuple(groups)
        self.software_list: tuple[Software, ...] = tuple(software)
        self.mitigations: tuple[Mitigation, ...] = tuple(mitigations)
        self.campaigns: tuple[Campaign, ...] = tuple(campaigns)
        self.sources: tuple[Source, ...] = tuple(sources)

        self._tactic_by_id = {t.id.upper(): t for t in self.tactics}
        self._tactic_by_phase: dict[tuple[str, str], Tactic] = {}
        for tactic in _rank_current(self.tactics):
            self._tactic_by_phase.setdefault((tactic.domain, tactic.shortname), tactic)
        self._technique_by_id = {t.id.upper(): t for t in self.techniques}
        self._group_by_id = {g.id.upper(): g for g in self.groups}
        self._software_by_id = {s.id.upper(): s for s in self.software_list}
        self._mitigation_by_id = {m.id.upper(): m for m in self.mitigations}
        self._campaign_by_id = {c.id.upper(): c for c in self.campaigns}

        subtechniques: dict[str, list[str]] = defaultdict(list)
        for technique in self.techniques:
            if technique.parent:
                subtechniques[technique.parent].append(technique.id)
        self._subtechniques = {k: tuple(sorted(v)) for k, v in subtechniques.items()}
        self._groups_by_technique = _invert((g.id, g.techniques) for g in self.groups)
        self._groups_by_software = _invert((g.id, g.software) for g in self.groups)
        self._software_by_technique = _invert((s.id, s.techniques) for s in self.software_list)
        self._campaigns_by_group = _invert((c.id, c.groups) for c in self.campaigns)
        self._group_names = _name_index((g.name, g.aliases, g.id) for g in self.groups)
        self._software_names = _name_index((s.name, s.aliases, s.id) for s in self.software_list)

    def __repr__(self) -> str:
        return (
            f"AttackCatalog({len(self.techniques)} techniques, {len(self.tactics)} tactics, "
            f"{len(self.groups)} groups, {len(self.software_list)} software)"
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, AttackCatalog):
            return NotImplemented
        return all(getattr(self, k) == getattr(other, k) for k in (*_ATTRS.values(), "sources"))

    __hash__ = None  # type: ignore[assignment]

    # -- lookups ---------------------------------------------------------------------------

    def technique(self, technique_id: str) -> Technique | None:
        """The technique with this id exactly (revoked and deprecated ones included)."""
        return self._technique_by_id.get(technique_id.strip().upper())

    def resolve_technique(self, technique_id: str) -> tuple[Technique, str | None] | None:
        """The technique for an id, following revocations to the one that replaced it.

        Returns:
            ``(technique, note)``; the note says why the technique is not the one asked for, or
            that it is deprecated; ``None`` if ATT&CK has no such id.
        """
        technique = self.technique(technique_id)
        if technique is None:
            return None
        asked = technique
        for _ in range(_MAX_REVOCATIONS):
            if (
                not technique.revoked_by
                or technique.revoked_by.upper() not in self._technique_by_id
            ):
                break
            technique = self._technique_by_id[technique.revoked_by.upper()]
        note = None
        if technique is not asked:
            note = (
                f"{asked.id} ({asked.name}) was revoked in ATT&CK; it is now "
                f"{technique.id} ({technique.name})"
            )
        elif technique.revoked:
            note = f"{asked.id} ({asked.name}) was revoked in ATT&CK without a replacement"
        elif technique.deprecated:
            note = f"{asked.id} ({asked.name}) is deprecated in ATT&CK"
        return technique, note

    def tactic(self, query: str, domain: str | None = None) -> Tactic | None:
        """A tactic by id (``TA0011``), shortname (``command-and-control``) or name.

        A shortname such as ``execution`` exists in Enterprise and ICS: ``domain`` chooses;
        without it Enterprise comes first.
        """
        key = query.strip()
        found = self._tactic_by_id.get(key.upper())
        if found is not None:
            return found
        folded = key.casefold().replace(" ", "-")
        domains = [domain] if domain else list(DOMAIN_ORDER) + sorted(self.domains)
        for d in domains:
            found = self._tactic_by_phase.get((d, folded))
            if found is not None:
                return found
        return None

    def tactics_of(self, technique: Technique) -> tuple[Tactic, ...]:
        """The tactics of a technique, in the order of its domain's matrix."""
        found = [self._tactic_by_phase.get((technique.domain, p)) for p in technique.tactics]
        order = {t.id: i for i, t in enumerate(self.tactics)}
        return tuple(sorted((t for t in found if t is not None), key=lambda t: order[t.id]))

    def find_groups(self, query: str) -> list[Group]:
        """Groups whose id, name or an alias is ``query`` (case-insensitive), best first.

        Best is: id, then name, then alias; current before revoked or deprecated. Aliases are
        not unique in ATT&CK (``UAC-0056`` names two groups).
        """
        return self._find(query, self._group_by_id, self._group_names)

    def group(self, query: str) -> Group | None:
        """The best match of ``find_groups``, following a revocation to its replacement."""
        found = self.find_groups(query)
        if not found:
            return None
        group = found[0]
        for _ in range(_MAX_REVOCATIONS):
            if not group.revoked_by or group.revoked_by.upper() not in self._group_by_id:
                break
            group = self._group_by_id[group.revoked_by.upper()]
        return group

    def find_software(self, query: str) -> list[Software]:
        """Software whose id, name or an alias is ``query`` (case-insensitive), best first."""
        return self._find(query, self._software_by_id, self._software_names)

    def software(self, query: str) -> Software | None:
        """The best match of ``find_software``, following a revocation to its replacement."""
        found = self.find_software(query)
        if not found:
            return None
        item = found[0]
        for _ in range(_MAX_REVOCATIONS):
            if not item.revoked_by or item.revoked_by.upper() not in self._software_by_id:
                break
            item = self._software_by_id[item.revoked_by.upper()]
        return item

    def mitigation(self, mitigation_id: str) -> Mitigation | None:
        """The mitigation with this id."""
        return self._mitigation_by_id.get(mitigation_id.strip().upper())

    def campaign(self, campaign_id: str) -> Campaign | None:
        """The campaign with this id."""
        return self._campaign_by_id.get(campaign_id.strip().upper())

    def subtechniques(self, technique_id: str) -> tuple[Technique, ...]:
        """The sub-techniques of a technique (current and not), by id."""
        ids = self._subtechniques.get(technique_id.strip().upper(), ())
        return tuple(self._technique_by_id[i.upper()] for i in ids)

    def techniques_of_group(
        self, query: str, *, include_software: bool = False
    ) -> tuple[Technique, ...]:
        """The techniques a group is known to use, sorted by id.

        Args:
            query: the group's id, name or alias.
            include_software: also the techniques of the software the group uses (what the
                group could do, not what it was seen doing).

        Raises:
            IntelError: no group matches the query.
        """
        group = self.group(query)
        if group is None:
            raise IntelError(
                f"ATT&CK has no group {query!r}; find it with `signalfire attack search {query}`"
            )
        ids = set(group.techniques)
        if include_software:
            for software_id in group.software:
                software = self._software_by_id.get(software_id.upper())
                if software is not None:
                    ids.update(software.techniques)
        return tuple(self._technique_by_id[i.upper()] for i in sorted(ids))

    def groups_using(self, technique_id: str, *, subtechniques: bool = True) -> tuple[Group, ...]:
        """Current groups that use a technique (or, with ``subtechniques``, any of its
        sub-techniques), sorted by name."""
        ids = {technique_id.upper()}
        if subtechniques:
            ids.update(self._subtechniques.get(technique_id.upper(), ()))
        found = {g for i in ids for g in self._groups_by_technique.get(i.upper(), ())}
        groups = (self._group_by_id[g.upper()] for g in found)
        return tuple(sorted((g for g in groups if g.current), key=lambda g: g.name.casefold()))

    def software_using(
        self, technique_id: str, *, subtechniques: bool = True
    ) -> tuple[Software, ...]:
        """Current software implementing a technique (or any of its sub-techniques)."""
        ids = {technique_id.upper()}
        if subtechniques:
            ids.update(self._subtechniques.get(technique_id.upper(), ()))
        found = {s for i in ids for s in self._software_by_technique.get(i.upper(), ())}
        items = (self._software_by_id[s.upper()] for s in found)
        return tuple(sorted((s for s in items if s.current), key=lambda s: s.name.casefold()))

    def groups_using_software(self, software_id: str) -> tuple[Group, ...]:
        """Current groups known to use a piece of software, sorted by name."""
        found = self._groups_by_software.get(software_id.strip().upper(), ())
        groups = (self._group_by_id[g.upper()] for g in found)
        return tuple(sorted((g for g in groups if g.current), key=lambda g: g.name.casefold()))

    def campaigns_of_group(self, group_id: str) -> tuple[Campaign, ...]:
        """Campaigns attributed to a group, by id."""
        found = self._campaigns_by_group.get(group_id.strip().upper(), ())
        return tuple(sorted((self._campaign_by_id[c.upper()] for c in found), key=lambda c: c.id))

    def techniques_in_tactic(self, tactic: Tactic) -> tuple[Technique, ...]:
        """Current techniques and sub-techniques of a tactic, by id."""
        return tuple(
            t
            for t in self.techniques
            if t.current and t.domain == tactic.domain and tactic.shortname in t.tactics
        )

    def search(self, text: str, limit: int | None = None) -> list[SearchHit]:
        """Objects whose id, name, alias or description contains ``text`` (case-insensitive).

        Exact id and name matches come first, then names and aliases that contain the text,
        then descriptions; current objects before revoked or deprecated ones.
        """
        needle = text.strip().casefold()
        if not needle:
            return []
        ranked: list[tuple[int, bool, str, SearchHit]] = []
        for kind, item in self._all_items():
            names = [item.name, *getattr(item, "aliases", ())]
            folded = [n.casefold() for n in names]
            if item.id.casefold() == needle:
                rank, matched = 0, "id"
            elif folded[0] == needle:
                rank, matched = 1, "name"
            elif needle in folded[1:]:
                rank, matched = 2, "alias"
            elif needle in folded[0] or item.id.casefold().startswith(needle):
                rank, matched = 3, "name"
            elif any(needle in n for n in folded[1:]):
                rank, matched = 4, "alias"
            elif needle in getattr(item, "description", "").casefold():
                rank, matched = 5, "description"
            else:
                continue
            domains = getattr(item, "domains", None) or (item.domain,)
            hit = SearchHit(kind, item.id, item.name, tuple(domains), item.current, matched)
            ranked.append((rank, not item.current, item.id, hit))
        ranked.sort(key=lambda r: r[:3])
        hits = [r[3] for r in ranked]
        return hits if limit is None else hits[:limit]

    def check_technique_ids(self, ids: Iterable[str]) -> list[str]:
        """What is wrong with a list of technique ids (empty when they all name current
        techniques): unknown, revoked (with the replacement) or deprecated."""
        problems = []
        for technique_id in ids:
            technique = self.technique(technique_id)
            if technique is None or technique.id != technique_id:
                problems.append(
                    f"{technique_id!r} is not an ATT&CK technique id (they look like T1071, "
                    "T1071.001 or T0855)"
                )
                continue
            resolved = self.resolve_technique(technique_id)
            if resolved is not None and resolved[1] is not None:
                problems.append(resolved[1])
        return problems

    # -- summaries -------------------------------------------------------------------------

    @property
    def domains(self) -> tuple[str, ...]:
        """The domains the catalog holds, Enterprise first."""
        found = {t.domain for t in self.techniques} | {t.domain for t in self.tactics}
        return tuple(sorted(found, key=_domain_key))

    def counts(self) -> dict[str, dict[str, int]]:
        """Current (not revoked, not deprecated) objects per domain and kind."""
        out: dict[str, dict[str, int]] = {}
        for domain in self.domains:
            techniques = [t for t in self.techniques if t.domain == domain and t.current]
            out[domain] = {
                "techniques": sum(1 for t in techniques if not t.is_subtechnique),
                "subtechniques": sum(1 for t in techniques if t.is_subtechnique),
                "tactics": sum(1 for t in self.tactics if t.domain == domain and t.current),
                "groups": sum(1 for g in self.groups if domain in g.domains and g.current),
                "software": sum(1 for s in self.software_list if domain in s.domains and s.current),
                "mitigations": sum(
                    1 for m in self.mitigations if domain in m.domains and m.current
                ),
                "campaigns": sum(1 for c in self.campaigns if domain in c.domains and c.current),
            }
        return out

    # -- compact form ----------------------------------------------------------------------

    def to_compact(self) -> dict[str, Any]:
        """A JSON-able dict of the catalog, fields equal to their defaults left out."""
        out: dict[str, Any] = {"format": COMPACT_FORMAT}
        for key, attr in _ATTRS.items():
            out[key] = [_compact_record(item) for item in getattr(self, attr)]
        out["sources"] = [_compact_record(s) for s in self.sources]
        return out

    @classmethod
    def from_compact(cls, data: Mapping[str, Any], origin: str = "") -> AttackCatalog:
        """The catalog ``to_compact`` wrote.

        Raises:
            IntelError: the data is not in the compact format of this version.
        """
        if data.get("format") != COMPACT_FORMAT:
            raise IntelError(
                f"{origin or 'the ATT&CK data'} is in format {data.get('format')!r}, not "
                f"{COMPACT_FORMAT!r}; rebuild it with `python -m signalfire.intel.attack compact`"
            )
        try:
            kinds = {key: [_record(_KINDS[key], r) for r in data[key]] for key in _ATTRS}
            sources = [_record(Source, r) for r in data.get("sources", [])]
        except (KeyError, TypeError) as exc:
            raise IntelError(
                f"{origin or 'the ATT&CK data'} is damaged ({exc!r}); rebuild it with "
                "`python -m signalfire.intel.attack compact`"
            ) from exc
        return cls(sources=sources, **kinds)

    # -- internals -------------------------------------------------------------------------

    def _all_items(self) -> Iterable[tuple[str, Any]]:
        for kind, attr in (
            ("technique", "techniques"),
            ("tactic", "tactics"),
            ("group", "groups"),
            ("software", "software_list"),
            ("mitigation", "mitigations"),
            ("campaign", "campaigns"),
        ):
            for item in getattr(self, attr):
                yield kind, item

    @staticmethod
    def _find(
        query: str, by_id: Mapping[str, Any], names: Mapping[str, list[tuple[int, str]]]
    ) -> list[Any]:
        key = query.strip()
        found: list[tuple[int, bool, str, Any]] = []
        exact = by_id.get(key.upper())
        if exact is not None:
            found.append((0, not exact.current, exact.id, exact))
        for rank, item_id in names.get(key.casefold(), ()):
            item = by_id[item_id.upper()]
            if item is not exact:
                found.append((rank, not item.current, item.id, item))
        found.sort(key=lambda f: f[:3])
        return [f[3] for f in found]


_ATTRS = {
    "tactics": "tactics",
    "techniques": "techniques",
    "groups": "groups",
    "software": "software_list",
    "mitigations": "mitigations",
    "campaigns": "campaigns",
}


def _domain_key(domain: str) -> tuple[int, str]:
    return (DOMAIN_ORDER.index(domain) if domain in DOMAIN_ORDER else len(DOMAIN_ORDER), domain)


def _invert(pairs: Iterable[tuple[str, Sequence[str]]]) -> dict[str, tuple[str, ...]]:
    out: dict[str, list[str]] = defaultdict(list)
    for source, targets in pairs:
        for target in targets:
            out[target.upper()].append(source)
    return {k: tuple(v) for k, v in out.items()}


def _name_index(
    entries: Iterable[tuple[str, Sequence[str], str]],
) -> dict[str, list[tuple[int, str]]]:
    # Rank 1: the name; rank 2: an alias (ATT&CK lists the name among the aliases too).
    index: dict[str, list[tuple[int, str]]] = defaultdict(list)
    for name, aliases, item_id in entries:
        index[name.casefold()].append((1, item_id))
        for alias in aliases:
            if alias.casefold() != name.casefold():
                index[alias.casefold()].append((2, item_id))
    return dict(index)


_DEFAULTS: dict[type[Any], dict[str, Any]] = {}
_TUPLE_FIELDS: dict[type[Any], frozenset[str]] = {}


def _field_info(cls: type[Any]) -> tuple[dict[str, Any], frozenset[str]]:
    if cls not in _DEFAULTS:
        fields = dataclasses.fields(cls)
        _DEFAULTS[cls] = {f.name: f.default for f in fields if f.default is not dataclasses.MISSING}
        _TUPLE_FIELDS[cls] = frozenset(f.name for f in fields if str(f.type).startswith("tuple"))
    return _DEFAULTS[cls], _TUPLE_FIELDS[cls]


def _compact_record(item: Any) -> dict[str, Any]:
    defaults, _ = _field_info(type(item))
    out = {}
    for field in dataclasses.fields(item):
        value = getattr(item, field.name)
        if field.name in defaults and value == defaults[field.name]:
            continue
        out[field.name] = list(value) if isinstance(value, tuple) else value
    return out


def _record(cls: type[_T], data: Mapping[str, Any]) -> _T:
    _, tuples = _field_info(cls)
    return cls(**{k: tuple(v) if k in tuples else v for k, v in data.items()})


# -- parsing full STIX bundles -----------------------------------------------------------------


def _attack_ref(obj: Mapping[str, Any]) -> tuple[str, str] | None:
    for ref in obj.get("external_references", ()):
        if ref.get("source_name") in _ATTACK_SOURCES and ref.get("external_id"):
            return str(ref["external_id"]), str(ref.get("url", ""))
    return None


def _flags(obj: Mapping[str, Any]) -> tuple[bool, bool]:
    return bool(obj.get("x_mitre_deprecated", False)), bool(obj.get("revoked", False))


def _read_json(path: Path) -> Any:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise SourceError(
            f"cannot read ATT&CK bundle {path}: {exc.strerror or exc}; check the path "
            "(or leave out --bundle / SIGNALFIRE_ATTACK_BUNDLES to use the bundled copy)"
        ) from exc
    try:
        if raw[:2] == b"\x1f\x8b":
            raw = gzip.decompress(raw)
        return json.loads(raw)
    except (OSError, EOFError, ValueError) as exc:
        raise IntelError(
            f"{path} is not JSON ({exc}); give a STIX bundle of ATT&CK such as "
            "enterprise-attack.json or ics-attack.json from github.com/mitre/cti"
        ) from exc


def _bundle_domain(path: Path, objects: Sequence[Mapping[str, Any]]) -> str:
    """The ATT&CK domain of a bundle: its matrix or collection says it; else its objects do."""
    for obj in objects:
        if obj.get("type") in ("x-mitre-matrix", "x-mitre-collection"):
            ref = _attack_ref(obj)
            if ref is not None and ref[0].endswith("-attack"):
                return ref[0]
    votes: Counter[str] = Counter()
    for obj in objects:
        if obj.get("type") == "attack-pattern":
            votes.update(obj.get("x_mitre_domains", ())[:1])
            for phase in obj.get("kill_chain_phases", ()):
                if phase.get("kill_chain_name") in _KILL_CHAINS:
                    votes[_KILL_CHAINS[phase["kill_chain_name"]]] += 1
    if not votes:
        raise IntelError(
            f"{path} is a STIX bundle but holds no ATT&CK techniques; give the "
            "enterprise-attack.json or ics-attack.json bundle of ATT&CK (github.com/mitre/cti "
            "or github.com/mitre-attack/attack-stix-data)"
        )
    return votes.most_common(1)[0][0]


def _bundle_objects(path: Path, data: Any) -> tuple[str, list[dict[str, Any]], Source]:
    # STIX 2.0 bundles carry spec_version on the bundle, 2.1 bundles on each object; both are
    # read alike since ATT&CK's own fields (x_mitre_*) are the same in both.
    if not isinstance(data, dict) or data.get("type") != "bundle":
        raise IntelError(
            f'{path} is not a STIX bundle (no top-level "type": "bundle"); give a STIX 2.0 '
            "or 2.1 bundle of ATT&CK such as enterprise-attack.json from github.com/mitre/cti"
        )
    objects = data.get("objects")
    if not isinstance(objects, list) or not all(isinstance(o, dict) for o in objects):
        raise IntelError(
            f"{path} is a STIX bundle without a list of objects; give a complete ATT&CK bundle"
        )
    spec = {str(o.get("spec_version", data.get("spec_version", "2.0"))) for o in objects}
    if not spec <= {"2.0", "2.1"}:
        raise IntelError(
            f"{path} is STIX {', '.join(sorted(spec))}; only STIX 2.0 and 2.1 bundles are read"
        )
    domain = _bundle_domain(path, objects)
    name, version = domain, None
    for obj in objects:
        if obj.get("type") == "x-mitre-collection":
            version = obj.get("x_mitre_version")
            name = str(obj.get("name", name))
        elif obj.get("type") == "x-mitre-matrix" and name == domain:
            name = str(obj.get("name", name))
    modified = max((str(o.get("modified", "")) for o in objects), default="")
    return domain, objects, Source(domain, name, version, modified, path.name)


def parse_bundles(paths: Sequence[Path]) -> AttackCatalog:
    """Build a catalog from full ATT&CK STIX bundles (one per domain; STIX 2.0 or 2.1).

    An object present in several bundles (intrusion sets and software shared by Enterprise and
    ICS) is merged: the most recently modified copy wins and its domains are the bundles'.

    Raises:
        SourceError: a path cannot be read.
        IntelError: a file is not a STIX bundle of ATT&CK.
    """
    return _parse_loaded([(Path(p), _read_json(Path(p))) for p in paths])


def _parse_loaded(loaded: Sequence[tuple[Path, Any]]) -> AttackCatalog:
    if not loaded:
        raise IntelError(
            "no ATT&CK bundle given; give enterprise-attack.json and/or ics-attack.json"
        )
    merged: dict[str, dict[str, Any]] = {}
    domains_of: dict[str, set[str]] = defaultdict(set)
    matrix_order: list[str] = []
    sources = []
    for path, data in loaded:
        domain, objects, source = _bundle_objects(path, data)
        sources.append(source)
        for obj in objects:
            stix_id = obj.get("id")
            if not isinstance(stix_id, str):
                continue
            kind = obj.get("type")
            if kind == "x-mitre-matrix":
                matrix_order.extend(obj.get("tactic_refs", ()))
            if kind not in _OBJECT_TYPES and kind != "relationship":
                continue
            domains_of[stix_id].add(domain)
            old = merged.get(stix_id)
            if old is None or str(obj.get("modified", "")) > str(old.get("modified", "")):
                merged[stix_id] = obj
    return _build(merged, domains_of, matrix_order, sources)


def _build(
    merged: Mapping[str, dict[str, Any]],
    domains_of: Mapping[str, set[str]],
    matrix_order: Sequence[str],
    sources: Sequence[Source],
) -> AttackCatalog:
    # STIX id -> ATT&CK id and url, for the objects ATT&CK names.
    ids: dict[str, tuple[str, str]] = {}
    for stix_id, obj in merged.items():
        if obj["type"] != "relationship":
            ref = _attack_ref(obj)
            if ref is not None:
                ids[stix_id] = ref

    def domains(stix_id: str) -> tuple[str, ...]:
        return tuple(sorted(domains_of[stix_id], key=_domain_key))

    uses: dict[str, set[str]] = defaultdict(set)
    parent: dict[str, str] = {}
    revoked_by: dict[str, str] = {}
    mitigated_by: dict[str, set[str]] = defaultdict(set)
    attributed: dict[str, set[str]] = defaultdict(set)
    targets: dict[str, set[str]] = defaultdict(set)
    for rel in merged.values():
        if rel["type"] != "relationship" or any(_flags(rel)):
            continue
        source, target = rel.get("source_ref", ""), rel.get("target_ref", "")
        if source not in merged or target not in merged:
            continue  # a relationship to an object of another domain's bundle not loaded
        kind = rel.get("relationship_type")
        if kind == "uses":
            uses[source].add(target)
        elif kind == "subtechnique-of":
            parent[source] = target
        elif kind == "revoked-by":
            revoked_by[source] = target
        elif kind == "mitigates":
            mitigated_by[target].add(source)
        elif kind == "attributed-to":
            attributed[source].add(target)
        elif kind == "targets":
            targets[source].add(target)

    def id_of(stix_id: str | None) -> str | None:
        return ids[stix_id][0] if stix_id in ids else None

    def used(stix_id: str, *types: str) -> tuple[str, ...]:
        found = {
            ids[t][0] for t in uses.get(stix_id, ()) if t in ids and merged[t]["type"] in types
        }
        return tuple(sorted(found))

    tactics: dict[str, Tactic] = {}
    techniques: dict[str, Technique] = {}
    groups: dict[str, Group] = {}
    software: dict[str, Software] = {}
    mitigations: dict[str, Mitigation] = {}
    campaigns: dict[str, Campaign] = {}
    order = {stix_id: i for i, stix_id in enumerate(matrix_order)}
    for stix_id, obj in sorted(merged.items(), key=lambda kv: order.get(kv[0], len(order))):
        if stix_id not in ids:
            continue
        attack_id, url = ids[stix_id]
        deprecated, revoked = _flags(obj)
        kind = obj["type"]
        name = str(obj.get("name", attack_id))
        description = first_paragraph(str(obj.get("description", "")))
        if kind == "x-mitre-tactic":
            item: Any = Tactic(
                attack_id,
                name,
                str(obj.get("x_mitre_shortname", name.lower().replace(" ", "-"))),
                domains(stix_id)[0],
                description,
                url,
                deprecated,
                revoked,
            )
            _keep(tactics, item)
        elif kind == "attack-pattern":
            phases = obj.get("kill_chain_phases", ())
            chains = [
                _KILL_CHAINS[p["kill_chain_name"]]
                for p in phases
                if p.get("kill_chain_name") in _KILL_CHAINS
            ]
            item = Technique(
                id=attack_id,
                name=name,
                domain=chains[0] if chains else domains(stix_id)[0],
                tactics=tuple(dict.fromkeys(str(p["phase_name"]) for p in phases)),
                platforms=tuple(obj.get("x_mitre_platforms", ())),
                description=description,
                url=url,
                is_subtechnique=bool(obj.get("x_mitre_is_subtechnique", False)),
                parent=id_of(parent.get(stix_id)),
                deprecated=deprecated,
                revoked=revoked,
                revoked_by=id_of(revoked_by.get(stix_id)),
                data_sources=tuple(obj.get("x_mitre_data_sources", ())),
                mitigations=tuple(
                    sorted({ids[m][0] for m in mitigated_by.get(stix_id, ()) if m in ids})
                ),
                targets=tuple(
                    sorted({str(merged[a].get("name", "")) for a in targets.get(stix_id, ())})
                ),
            )
            _keep(techniques, item)
        elif kind == "intrusion-set":
            item = Group(
                id=attack_id,
                name=name,
                aliases=tuple(obj.get("aliases", ())),
                domains=domains(stix_id),
                description=description,
                url=url,
                techniques=used(stix_id, "attack-pattern"),
                software=used(stix_id, "malware", "tool"),
                deprecated=deprecated,
                revoked=revoked,
                revoked_by=id_of(revoked_by.get(stix_id)),
            )
            _keep(groups, item)
        elif kind in ("malware", "tool"):
            item = Software(
                id=attack_id,
                name=name,
                type=kind,
                aliases=tuple(obj.get("x_mitre_aliases", ())),
                domains=domains(stix_id),
                platforms=tuple(obj.get("x_mitre_platforms", ())),
                description=description,
                url=url,
                techniques=used(stix_id, "attack-pattern"),
                deprecated=deprecated,
                revoked=revoked,
                revoked_by=id_of(revoked_by.get(stix_id)),
            )
            _keep(software, item)
        elif kind == "course-of-action":
            _keep(
                mitigations, Mitigation(attack_id, name, domains(stix_id), url, deprecated, revoked)
            )
        elif kind == "campaign":
            item = Campaign(
                id=attack_id,
                name=name,
                domains=domains(stix_id),
                description=description,
                url=url,
                groups=tuple(sorted({ids[g][0] for g in attributed.get(stix_id, ()) if g in ids})),
                techniques=used(stix_id, "attack-pattern"),
                software=used(stix_id, "malware", "tool"),
                first_seen=obj.get("first_seen"),
                last_seen=obj.get("last_seen"),
                deprecated=deprecated,
                revoked=revoked,
                revoked_by=id_of(revoked_by.get(stix_id)),
            )
            _keep(campaigns, item)
    if not techniques:
        raise IntelError(
            "the bundles hold no ATT&CK techniques; give enterprise-attack.json and/or "
            "ics-attack.json from github.com/mitre/cti"
        )
    tactic_list = sorted(tactics.values(), key=lambda t: _domain_key(t.domain))
    return AttackCatalog(
        tactics=tactic_list,
        techniques=sorted(techniques.values(), key=lambda t: t.id),
        groups=sorted(groups.values(), key=lambda g: g.id),
        software=sorted(software.values(), key=lambda s: s.id),
        mitigations=sorted(mitigations.values(), key=lambda m: m.id),
        campaigns=sorted(campaigns.values(), key=lambda c: c.id),
        sources=sorted(sources, key=lambda s: _domain_key(s.domain)),
    )


def _keep(index: dict[str, Any], item: Any) -> None:
    # An ATT&CK id is reused only by a deprecated object (the old mitigations numbered like
    # techniques are course-of-action objects, but S0017 names both BISCUIT and a deprecated
    # ICS entry): the current object keeps the id.
    old = index.get(item.id)
    if old is None or (item.current and not old.current):
        index[item.id] = item


# -- loading -----------------------------------------------------------------------------------


def _read_compact(raw: bytes, origin: str) -> AttackCatalog:
    try:
        data = json.loads(gzip.decompress(raw) if raw[:2] == b"\x1f\x8b" else raw)
    except (OSError, EOFError, ValueError) as exc:
        raise IntelError(
            f"{origin} cannot be read ({exc}); reinstall Signalfire or rebuild it with "
            "`python -m signalfire.intel.attack compact`"
        ) from exc
    return AttackCatalog.from_compact(data, origin)


@cache
def bundled_catalog() -> AttackCatalog:
    """The ATT&CK copy shipped with the package (read once per process)."""
    resource = resources.files("signalfire.data").joinpath(BUNDLED_RESOURCE)
    return _read_compact(resource.read_bytes(), f"the bundled {BUNDLED_RESOURCE}")


def load_catalog(paths: Sequence[Path | str] | None = None) -> AttackCatalog:
    """The ATT&CK catalog: the bundled copy, or the bundles at ``paths``.

    Args:
        paths: full ATT&CK STIX bundles (STIX 2.0 or 2.1, optionally gzipped), or a compact
            file written by ``compact``; ``None`` or empty for the bundled copy.

    Raises:
        SourceError: a path cannot be read.
        IntelError: a file is not an ATT&CK bundle.
    """
    if not paths:
        return bundled_catalog()
    loaded = [(Path(p), _read_json(Path(p))) for p in paths]
    if len(loaded) == 1:
        path, data = loaded[0]
        if isinstance(data, dict) and "format" in data and data.get("type") != "bundle":
            return AttackCatalog.from_compact(data, str(path))
    return _parse_loaded(loaded)


def configured_catalog(
    bundles: Sequence[Path] = (), environ: Mapping[str, str] | None = None
) -> AttackCatalog:
    """The catalog a command uses: ``bundles`` if given, else the ``attack_bundles`` setting
    (``SIGNALFIRE_ATTACK_BUNDLES``), else the bundled copy."""
    paths: Sequence[Path] = bundles or settings.get("attack_bundles", environ)
    return load_catalog(paths or None)


def write_compact(catalog: AttackCatalog, out: Path) -> int:
    """Write the compact, gzipped form of a catalog; return its size in bytes.

    The bytes depend only on the catalog (sorted keys, no timestamp in the gzip header), so
    rebuilding from the same bundles changes nothing.
    """
    text = json.dumps(catalog.to_compact(), ensure_ascii=False, separators=(",", ":"))
    data = gzip.compress(text.encode(), compresslevel=9, mtime=0)
    out.write_bytes(data)
    return len(data)


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m signalfire.intel.attack compact BUNDLE... -o OUT``: build the bundled copy."""
    parser = argparse.ArgumentParser(prog="python -m signalfire.intel.attack")
    commands = parser.add_subparsers(dest="command", required=True)
    compact = commands.add_parser("compact", help="write the compact copy of ATT&CK bundles")
    compact.add_argument("bundles", nargs="+", type=Path)
    compact.add_argument("-o", "--out", type=Path, required=True)
    args = parser.parse_args(argv)
    catalog = parse_bundles(args.bundles)
    size = write_compact(catalog, args.out)
    for domain, counts in catalog.counts().items():
        summary = ", ".join(f"{n} {k}" for k, n in counts.items())
        print(f"{domain}: {summary}", file=sys.stderr)
    print(f"wrote {args.out} ({size:,} bytes)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
