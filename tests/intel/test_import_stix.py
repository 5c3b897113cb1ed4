"""STIX 2.1 bundles from the OASIS examples (../shared/data/intel/stix-examples)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from signalfire.intel.indicators import FileSummary, ImportOptions, IndicatorStore
from signalfire.intel.stix_import import import_stix_objects
from signalfire.store import Store

pytestmark = pytest.mark.shared_data


@pytest.fixture(scope="module")
def examples(shared_data: Path) -> Path:
    return shared_data / "intel" / "stix-examples"


def import_one(store: Store, path: Path, **options: Any) -> FileSummary:
    summary = IndicatorStore(store).import_paths([path], ImportOptions(**options))
    assert not summary.failed, summary.failed[0].error
    return summary.files[0]


def rows(store: Store, where: str = "true") -> list[dict[str, Any]]:
    cursor = store.con.execute(f"SELECT * FROM indicators WHERE {where} ORDER BY type, value")
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, r, strict=True)) for r in cursor.fetchall()]


def test_apt1_indicators_are_tied_to_the_apt1_intrusion_set(store: Store, examples: Path) -> None:
    path = examples / "threat-reports" / "apt1.json"
    bundle = json.loads(path.read_text())
    indicators = [o for o in bundle["objects"] if o["type"] == "indicator"]
    summary = import_one(store, path)
    assert summary.records == len(bundle["objects"]) == 76
    assert summary.objects == 76 - len(indicators) == 64
    got = rows(store)
    # One row per indicator: 4 HTRAN CIDRs, 3 FQDNs, 3 MD5s (Appendix E), and the 2
    # certificates, whose patterns AND issuer with serial: kept, not evaluable.
    assert len(got) == len(indicators) == 12
    assert {(r["type"], r["value"]) for r in got if r["evaluable"]} == {
        ("ipv4_cidr", "223.166.0.0/15"),
        ("ipv4_cidr", "58.246.0.0/15"),
        ("ipv4_cidr", "112.64.0.0/15"),
        ("ipv4_cidr", "139.226.0.0/15"),
        ("domain", "hugesoft.org"),
        ("domain", "arrowservice.net"),
        ("domain", "msnhome.org"),
        ("md5", "001dd76872d80801692ff942308c64e6"),
        ("md5", "002325a0a67fded0381b5648d7fe9b8e"),
        ("md5", "00dbb9e1c09dbdafb360f3163ba5a3de"),
    }
    certificates = [r for r in got if not r["evaluable"]]
    assert [r["type"] for r in certificates] == ["stix_pattern", "stix_pattern"]
    assert all("AND of comparisons" in r["unevaluable_reason"] for r in certificates)
    assert summary.unevaluable == 2
    # Every one is APT1's: the FQDNs through Ugly Gorilla (indicates → threat actor, whom
    # APT1 is attributed to), the others through the APT1 report that lists them.
    assert all(r["intrusion_sets"] == ["APT1"] for r in got)
    by_value = {r["value"]: r for r in got}
    assert by_value["hugesoft.org"]["threat_actors"] == ["Ugly Gorilla"]
    assert by_value["223.166.0.0/15"]["malware"] == ["HUC Packet Transmit Tool (HTRAN)"]
    assert by_value["223.166.0.0/15"]["kill_chain_phases"] == [
        "mandiant-attack-lifecycle-model:establish-foothold"
    ]
    assert by_value["223.166.0.0/15"]["range_start"] == (223 << 24) + (166 << 16)
    assert by_value["223.166.0.0/15"]["range_end"] == (223 << 24) + (167 << 16) + 65535
    assert all(r["reports"] == ["APT1: Exposing One of China's Cyber Espionage Units"] for r in got)
    assert {r["source"] for r in got} == {"apt1"}
    assert (
        by_value["hugesoft.org"]["source_ref"] == "indicator--3f3ff9f1-bb4e-4392-89e5-1991179042ba"
    )
    assert by_value["hugesoft.org"]["labels"] == ["malicious-activity"]
    objects = dict(
        store.con.execute("SELECT type, count(*) FROM intel_objects GROUP BY 1").fetchall()
    )
    assert objects == {
        "relationship": 30,
        "tool": 10,
        "attack-pattern": 7,
        "malware": 6,
        "threat-actor": 5,
        "identity": 4,
        "intrusion-set": 1,
        "report": 1,
    }
    aliases = store.con.execute(
        "SELECT aliases FROM intel_objects WHERE type = 'intrusion-set'"
    ).fetchone()
    assert aliases == (["Comment Crew", "Comment Group", "Shady Rat"],)


def test_poisonivy_or_patterns_give_one_indicator_per_value(store: Store, examples: Path) -> None:
    path = examples / "threat-reports" / "poisonivy.json"
    bundle = json.loads(path.read_text())
    patterns = [o["pattern"] for o in bundle["objects"] if o["type"] == "indicator"]
    literals = {v for p in patterns for v in re.findall(r"= '([^']*)'", p)}
    summary = import_one(store, path)
    got = rows(store)
    assert len(patterns) == 25
    assert {r["value"] for r in got} == literals
    assert summary.indicators == len(literals) == 45
    # 113.10.246.30 is in four of the OR patterns: one indicator, stated by all four.
    shared = next(r for r in got if r["value"] == "113.10.246.30")
    assert len(shared["source_refs"]) == 4
    # "domain autuo.xicp.net" (sic) is kept, not evaluable.
    bad = next(r for r in got if r["value"] == "domain autuo.xicp.net")
    assert not bad["evaluable"] and bad["unevaluable_reason"] == "not a valid domain name"
    assert summary.unevaluable == 1
    assert {r["type"] for r in got} == {"domain", "ipv4", "file_name"}
    # Malware and campaigns: the targets of the `indicates` relationships of every indicator
    # that states the value (worked out here from the JSON, independently of the importer).
    names = {o["id"]: o.get("name") for o in bundle["objects"]}
    targets: dict[str, set[str]] = {}
    for o in bundle["objects"]:
        if o["type"] == "relationship" and o["relationship_type"] == "indicates":
            targets.setdefault(o["source_ref"], set()).add(o["target_ref"])
    for r in got:
        refs = {t for ref in r["source_refs"] for t in targets.get(ref, ())}
        assert set(r["malware"]) == {names[t] for t in refs if t.startswith("malware--")}
        assert set(r["campaigns"]) == {names[t] for t in refs if t.startswith("campaign--")}
    assert sum(1 for r in got if r["malware"]) == 42
    assert {c for r in got for c in r["campaigns"]} == {"admin@338", "menuPass", "th3bug"}


def test_the_other_examples(store: Store, examples: Path) -> None:
    campaign = import_one(store, examples / "indicator-to-campaign-relationship.json")
    assert campaign.indicators == 1
    assert rows(store)[0]["campaigns"] == ["Operation Omega"]

    c2 = import_one(store, examples / "indicators-for-C2-with-COA.json")
    assert c2.indicators == 2 and c2.objects == 6
    got = rows(
        store, "source_ref LIKE 'indicator--%' AND source <> 'indicator-to-campaign-relationship'"
    )
    assert {r["source"] for r in got} == {"The MITRE Corporation - DHS Support Team"}
    assert {r["type"] for r in got} == {"ipv4", "sha256"}
    assert all(r["malware"] for r in got)

    email = import_one(store, examples / "malicious-email-indicator-with-attachment.json")
    assert (email.indicators, email.unevaluable) == (2, 2)
    assert all("MATCHES" in r for r in email.unevaluable_reasons)

    infrastructure = import_one(store, examples / "infrastructure.json")
    assert (infrastructure.indicators, infrastructure.objects) == (0, 10)

    single = import_one(store, examples / "interop-objectmarking-test.json")
    assert (single.records, single.objects) == (1, 1)

    c2ip = import_one(store, examples / "indicator-for-c2-ip-address.json", source="c2-feed")
    assert c2ip.new == 1
    assert rows(store, "source = 'c2-feed'")[0]["value"] == "10.0.0.0"


def test_the_taxii_entry_point(store: Store, examples: Path) -> None:
    bundle = json.loads((examples / "threat-reports" / "apt1.json").read_text())
    summary = import_stix_objects(store, bundle["objects"], "taxii:example/apt1")
    assert summary.indicators == 12 and summary.error is None
    assert {r["source"] for r in rows(store)} == {"taxii:example/apt1"}
    again = import_stix_objects(store, bundle["objects"], "taxii:example/apt1")
    assert (again.new, again.updated, again.unchanged) == (0, 0, 12)
