"""ATT&CK: the catalog against the real Enterprise and ICS bundles in ../shared/data, the
bundled compact copy, lookups, bad input, and ``signalfire attack`` as a user runs it.

Expected values are computed here from the bundles by plain JSON parsing, independently of
``signalfire.intel.attack``.
"""

from __future__ import annotations

import gzip
import json
import os
import re
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import pytest

from signalfire import settings
from signalfire.cli import exit_codes
from signalfire.detections import ALL_DETECTIONS
from signalfire.detections.registry import detection
from signalfire.errors import DetectionError, IntelError, SourceError
from signalfire.intel.attack import (
    AttackCatalog,
    bundled_catalog,
    configured_catalog,
    first_paragraph,
    load_catalog,
    parse_bundles,
    write_compact,
)
from tests.cli.test_cli import run

BUNDLES = {"enterprise-attack": "enterprise-attack.json", "ics-attack": "ics-attack.json"}

Objects = dict[str, list[dict[str, Any]]]


@pytest.fixture(scope="session")
def attack_dir(shared_data: Path) -> Path:
    folder = shared_data / "intel" / "attack"
    missing = [name for name in BUNDLES.values() if not (folder / name).is_file()]
    if missing:
        message = f"ATT&CK bundles {missing} not found in {folder}"
        if os.environ.get("SIGNALFIRE_REQUIRE_DATA") == "1":
            pytest.fail(message + "; SIGNALFIRE_REQUIRE_DATA=1 requires them")
        pytest.skip(message)
    return folder


@pytest.fixture(scope="session")
def raw(attack_dir: Path) -> Objects:
    """domain -> the bundle's objects, as plain JSON."""
    return {d: json.loads((attack_dir / f).read_text())["objects"] for d, f in BUNDLES.items()}


@pytest.fixture(scope="session")
def full(attack_dir: Path) -> AttackCatalog:
    return parse_bundles([attack_dir / f for f in BUNDLES.values()])


def _current(obj: dict[str, Any]) -> bool:
    return not obj.get("revoked", False) and not obj.get("x_mitre_deprecated", False)


def _attack_id(obj: dict[str, Any]) -> str:
    ids = [
        r["external_id"] for r in obj["external_references"] if r["source_name"] == "mitre-attack"
    ]
    return str(ids[0])


def _expected_counts(objects: list[dict[str, Any]]) -> dict[str, int]:
    by_stix = {o["id"]: o for o in objects}  # an object listed twice counts once
    current = [o for o in by_stix.values() if _current(o)]
    kinds = Counter(o["type"] for o in current)
    patterns = [o for o in current if o["type"] == "attack-pattern"]
    return {
        "techniques": sum(1 for o in patterns if not o.get("x_mitre_is_subtechnique", False)),
        "subtechniques": sum(1 for o in patterns if o.get("x_mitre_is_subtechnique", False)),
        "tactics": kinds["x-mitre-tactic"],
        "groups": kinds["intrusion-set"],
        "software": kinds["malware"] + kinds["tool"],
    }


@pytest.mark.shared_data
@pytest.mark.parametrize("source", ["full bundles", "bundled copy"])
def test_counts_match_the_bundles(source: str, raw: Objects, full: AttackCatalog) -> None:
    catalog = full if source == "full bundles" else bundled_catalog()
    counts = catalog.counts()
    assert set(counts) == set(BUNDLES)
    for domain, objects in raw.items():
        expected = _expected_counts(objects)
        assert {k: counts[domain][k] for k in expected} == expected, domain
    # The figures of the release in ../shared/data (objects modified up to 2025-11-12): a parser
    # that dropped a whole kind would agree with itself, not with these.
    assert counts["enterprise-attack"]["techniques"] == 216
    assert counts["enterprise-attack"]["subtechniques"] == 475
    assert counts["enterprise-attack"]["tactics"] == 14
    assert counts["ics-attack"]["techniques"] == 83
    assert counts["ics-attack"]["tactics"] == 12


@pytest.mark.shared_data
def test_bundled_copy_is_the_full_bundles(full: AttackCatalog, tmp_path: Path) -> None:
    # Rebuild the copy shipped in the package: `python -m signalfire.intel.attack compact ...`
    assert bundled_catalog() == full, "src/signalfire/data/attack.json.gz is stale: rebuild it"
    out = tmp_path / "attack.json.gz"
    write_compact(full, out)
    assert load_catalog([out]) == full
    assert json.loads(gzip.decompress(out.read_bytes()))["format"].startswith("signalfire")


def test_bundled_catalog_is_read_once() -> None:
    assert bundled_catalog() is bundled_catalog() is load_catalog() is load_catalog([])


@pytest.mark.shared_data
@pytest.mark.parametrize(
    "query", ["APT1", "apt1", "G0006", "g0006", "Comment Crew", "COMMENT PANDA"]
)
def test_group_by_id_name_or_alias(query: str, raw: Objects) -> None:
    catalog = bundled_catalog()
    group = catalog.group(query)
    assert group is not None and group.id == "G0006" and group.name == "APT1"
    assert {"Comment Crew", "Comment Group", "Comment Panda"} <= set(group.aliases)
    # What the bundle's `uses` relationships say APT1 uses.
    objects = {o["id"]: o for o in raw["enterprise-attack"]}
    apt1 = next(o for o in objects.values() if o.get("name") == "APT1")
    used = [
        objects[r["target_ref"]]
        for r in objects.values()
        if r["type"] == "relationship"
        and r["relationship_type"] == "uses"
        and r["source_ref"] == apt1["id"]
    ]
    techniques = {_attack_id(o) for o in used if o["type"] == "attack-pattern"}
    software = {_attack_id(o) for o in used if o["type"] in ("malware", "tool")}
    assert set(group.techniques) == techniques
    assert set(group.software) == software
    assert {"T1566.001", "T1003.001", "T1550.002", "T1583.001"} <= set(group.techniques)
    assert {"S0002", "S0012"} <= set(group.software)  # Mimikatz, PoisonIvy
    listed = {t.id for t in catalog.techniques_of_group(query)}
    assert listed == techniques
    assert listed < {t.id for t in catalog.techniques_of_group(query, include_software=True)}


def test_ambiguous_alias_prefers_name_and_lists_the_rest() -> None:
    catalog = bundled_catalog()
    # "Thrip" is G0076's name and an alias of G0030 (Lotus Blossom).
    assert [g.id for g in catalog.find_groups("thrip")] == ["G0076", "G0030"]
    # "UAC-0056" is an alias of two groups: both are found.
    assert {g.id for g in catalog.find_groups("UAC-0056")} == {"G1003", "G1031"}
    assert catalog.group("no such group") is None
    with pytest.raises(IntelError, match="attack search"):
        catalog.techniques_of_group("no such group")


@pytest.mark.shared_data
def test_subtechniques_of_t1071(raw: Objects) -> None:
    catalog = bundled_catalog()
    technique = catalog.technique("T1071")
    assert technique is not None and technique.name == "Application Layer Protocol"
    assert not technique.is_subtechnique and technique.domain == "enterprise-attack"
    assert [t.id for t in catalog.tactics_of(technique)] == ["TA0011"]
    subs = [t.id for t in catalog.subtechniques("T1071")]
    objects = {o["id"]: o for o in raw["enterprise-attack"]}
    parent = next(o for o in objects.values() if o.get("name") == "Application Layer Protocol")
    expected = sorted(
        _attack_id(objects[r["source_ref"]])
        for r in objects.values()
        if r["type"] == "relationship"
        and r["relationship_type"] == "subtechnique-of"
        and r["target_ref"] == parent["id"]
    )
    assert subs == expected
    assert subs[:4] == ["T1071.001", "T1071.002", "T1071.003", "T1071.004"]
    web = catalog.technique("t1071.001")
    assert web is not None and web.parent == "T1071" and web.is_subtechnique
    assert web.name == "Web Protocols"


def test_ics_technique_and_tactic() -> None:
    catalog = bundled_catalog()
    technique = catalog.technique("T0855")
    assert technique is not None
    assert technique.name == "Unauthorized Command Message"
    assert technique.domain == "ics-attack"
    assert technique.tactics == ("impair-process-control",)
    tactic = catalog.tactics_of(technique)[0]
    assert (tactic.id, tactic.name, tactic.domain) == (
        "TA0106",
        "Impair Process Control",
        "ics-attack",
    )
    assert "Programmable Logic Controller (PLC)" in technique.targets
    assert technique in catalog.techniques_in_tactic(tactic)
    # "execution" is a tactic of both matrices.
    assert catalog.tactic("execution") == catalog.tactic("TA0002")
    ics_execution = catalog.tactic("Execution", domain="ics-attack")
    assert ics_execution is not None and ics_execution.id == "TA0104"
    # Groups shared by Enterprise and ICS are one group in both domains.
    sandworm = catalog.group("Sandworm Team")
    assert sandworm is not None and set(sandworm.domains) == {"enterprise-attack", "ics-attack"}
    assert any(t.startswith("T08") for t in sandworm.techniques)


@pytest.mark.shared_data
def test_revoked_technique_resolves_to_its_replacement(raw: Objects) -> None:
    catalog = bundled_catalog()
    objects = {o["id"]: o for o in raw["enterprise-attack"]}
    revocations = {
        _attack_id(objects[r["source_ref"]]): _attack_id(objects[r["target_ref"]])
        for r in objects.values()
        if r["type"] == "relationship"
        and r["relationship_type"] == "revoked-by"
        and objects[r["source_ref"]]["type"] == "attack-pattern"
    }
    assert len(revocations) > 100
    for old, new in revocations.items():
        technique = catalog.technique(old)
        assert technique is not None and technique.revoked and not technique.current
        resolved = catalog.resolve_technique(old)
        assert resolved is not None
        replacement, note = resolved
        assert replacement.current, old
        assert note is not None and old in note
        # One hop, unless the replacement was itself revoked later.
        assert replacement.id == new or catalog.technique(new).revoked  # type: ignore[union-attr]
    powershell, note = catalog.resolve_technique("T1086")  # type: ignore[misc]
    assert powershell.id == "T1059.001" and note is not None and "T1059.001" in note
    assert catalog.resolve_technique("T9999") is None


def test_search() -> None:
    catalog = bundled_catalog()
    assert catalog.search("T1071")[0].id == "T1071"
    hit = catalog.search("comment crew")[0]
    assert (hit.kind, hit.id, hit.matched) == ("group", "G0006", "alias")
    assert catalog.search("mimikatz")[0].id == "S0002"
    assert {h.kind for h in catalog.search("modbus")} >= {"technique"}
    assert catalog.search("   ") == []
    assert len(catalog.search("protocol", limit=3)) == 3


def test_first_paragraph_is_plain_text() -> None:
    text = (
        "[APT1](https://attack.mitre.org/groups/G0006) uses <code>net use</code> "
        "(Citation: Mandiant APT1)(Citation: Other (2013)).\n\nSecond paragraph."
    )
    assert first_paragraph(text) == "APT1 uses net use."


# -- every detection's ids exist -------------------------------------------------------------


def test_every_detection_names_current_attack_techniques() -> None:
    catalog = bundled_catalog()
    assert ALL_DETECTIONS
    for spec in ALL_DETECTIONS.values():
        assert spec.attack and catalog.check_technique_ids(spec.attack) == [], spec.id


@pytest.mark.parametrize(
    ("attack", "message"),
    [
        (("T9999",), "not an ATT&CK technique id"),
        (("t1071",), "not an ATT&CK technique id"),
        (("T1086",), "T1059.001"),  # revoked: the message names the replacement
        (("T1064",), "deprecated"),
        ((), "no ATT&CK technique id"),
    ],
)
def test_registry_rejects_unknown_or_revoked_ids(attack: tuple[str, ...], message: str) -> None:
    with pytest.raises(DetectionError, match=message):
        detection(id="test.bad_attack", title="x", attack=attack, inputs=("conn",), severity="low")(
            lambda conn: conn
        )
    assert "test.bad_attack" not in ALL_DETECTIONS


# -- loading: STIX 2.1, bad input, the setting ---------------------------------------------------


@pytest.mark.shared_data
def test_stix21_bundle_reads_like_stix20(attack_dir: Path, tmp_path: Path) -> None:
    # STIX 2.1 puts spec_version on every object instead of on the bundle.
    bundle = json.loads((attack_dir / "ics-attack.json").read_text())
    del bundle["spec_version"]
    for obj in bundle["objects"]:
        obj["spec_version"] = "2.1"
    path = tmp_path / "ics-attack-2.1.json.gz"
    path.write_bytes(gzip.compress(json.dumps(bundle).encode()))
    v21 = load_catalog([path])
    v20 = load_catalog([attack_dir / "ics-attack.json"])
    assert v21.techniques == v20.techniques and v21.groups == v20.groups
    assert v21.counts() == v20.counts()
    assert v21.counts()["ics-attack"]["techniques"] == 83


def test_bad_input(tmp_path: Path) -> None:
    cases = {
        "notes.txt": b"not json at all",
        "object.json": b'{"a": 1}',
        "indicators.json": json.dumps(
            {"type": "bundle", "id": "bundle--1", "objects": [{"type": "indicator", "id": "i--1"}]}
        ).encode(),
        "stix3.json": json.dumps(
            {"type": "bundle", "objects": [{"type": "x", "id": "x--1", "spec_version": "3.0"}]}
        ).encode(),
    }
    for name, content in cases.items():
        path = tmp_path / name
        path.write_bytes(content)
        with pytest.raises(IntelError, match=re.escape(str(path))):
            load_catalog([path])
    with pytest.raises(SourceError, match="cannot read"):
        load_catalog([tmp_path / "missing.json"])


def test_attack_bundles_setting(tmp_path: Path) -> None:
    env = {"SIGNALFIRE_ATTACK_BUNDLES": f"a.json,{tmp_path}/b.json{os.pathsep}c.json"}
    assert settings.get("attack_bundles", env) == (
        Path("a.json"),
        tmp_path / "b.json",
        Path("c.json"),
    )
    assert settings.get("attack_bundles", {}) == ()
    assert configured_catalog(environ={}) is bundled_catalog()
    bad = tmp_path / "bad.json"
    bad.write_text("{}")
    with pytest.raises(IntelError, match=re.escape(str(bad))):
        configured_catalog(environ={"SIGNALFIRE_ATTACK_BUNDLES": str(bad)})
    # An explicit --bundle wins over the setting.
    good = tmp_path / "attack.json.gz"
    write_compact(bundled_catalog(), good)
    chosen = configured_catalog([good], environ={"SIGNALFIRE_ATTACK_BUNDLES": str(bad)})
    assert chosen == bundled_catalog() and chosen is not bundled_catalog()


# -- the CLI ---------------------------------------------------------------------------------


def test_cli_show_technique() -> None:
    result = run("attack", "show", "T1071")
    assert result.returncode == 0, result.stderr
    for text in ("Application Layer Protocol", "Command and Control (TA0011)", "T1071.001"):
        assert text in result.stdout
    assert "network.beaconing" in result.stdout  # one of our detections covers it
    data = json.loads(run("attack", "show", "T1071", "--json").stdout)
    assert data["technique"]["id"] == "T1071"
    assert [s["id"] for s in data["subtechniques"]][:2] == ["T1071.001", "T1071.002"]
    assert "network.beaconing" in {d["id"] for d in data["detections"]}
    assert len(data["groups"]) > 10


def test_cli_group_json() -> None:
    result = run("attack", "group", "APT1", "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["group"]["id"] == "G0006"
    assert "Comment Crew" in data["group"]["aliases"]
    by_tactic = {
        g["tactic"]["id"]: [t["id"] for t in g["techniques"]] for g in data["techniques_by_tactic"]
    }
    assert "T1566.001" in by_tactic["TA0001"]  # Spearphishing Attachment under Initial Access
    assert "S0002" in {s["id"] for s in data["software"]}


def test_cli_unknown_id_and_bad_bundle(tmp_path: Path) -> None:
    result = run("attack", "show", "T9999")
    assert result.returncode == exit_codes.OTHER
    assert "no technique 'T9999'" in result.stderr and "attack search" in result.stderr
    assert "Traceback" not in result.stderr
    bad = tmp_path / "bad.json"
    bad.write_text("[]")
    result = run("attack", "group", "APT1", "--bundle", str(bad))
    assert result.returncode == exit_codes.OTHER and "not a STIX bundle" in result.stderr
    result = run("attack", "group", "APT1", "--bundle", str(tmp_path / "missing.json"))
    assert result.returncode == exit_codes.SOURCE


@pytest.mark.shared_data
def test_cli_with_a_users_bundle(attack_dir: Path) -> None:
    result = run(
        "attack", "show", "T0855", "--json", "--bundle", str(attack_dir / "ics-attack.json")
    )
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["tactics"] == [{"id": "TA0106", "name": "Impair Process Control"}]
    assert "ics.unexpected_command" in {d["id"] for d in data["detections"]}
    # Only the ICS bundle was given: Enterprise techniques are not there.
    result = run("attack", "show", "T1071", "--bundle", str(attack_dir / "ics-attack.json"))
    assert result.returncode == exit_codes.OTHER


def test_cli_coverage_and_search() -> None:
    data = json.loads(run("attack", "coverage", "--json").stdout)
    assert data["not_in_catalog"] == []
    by_tactic = {t["id"]: {c["id"] for c in t["covered"]} for t in data["tactics"]}
    assert "T1071" in by_tactic["TA0011"] and "T0855" in by_tactic["TA0106"]
    named: defaultdict[str, set[str]] = defaultdict(set)
    for spec in ALL_DETECTIONS.values():
        for technique in spec.attack:
            named[technique.split(".")[0]].add(spec.id)
    covered = {c["id"] for t in data["tactics"] for c in t["covered"]}
    assert covered == set(named)
    hits = json.loads(run("attack", "search", "Comment Crew", "--json").stdout)["hits"]
    assert hits[0]["id"] == "G0006"
