"""MISP events, feeds and PyMISP's test events (../shared/data/intel/misp)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from signalfire.intel.indicators import FileSummary, ImportOptions, IndicatorStore
from signalfire.intel.misp_import import classify_galaxy
from signalfire.store import Store

pytestmark = pytest.mark.shared_data


@pytest.fixture(scope="module")
def misp(shared_data: Path) -> Path:
    return shared_data / "intel" / "misp"


def import_one(store: Store, path: Path, **options: Any) -> FileSummary:
    summary = IndicatorStore(store).import_paths([path], ImportOptions(**options))
    assert len(summary.files) == 1
    return summary.files[0]


def rows(store: Store, where: str = "true") -> list[dict[str, Any]]:
    cursor = store.con.execute(f"SELECT * FROM indicators WHERE {where} ORDER BY type, value")
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, r, strict=True)) for r in cursor.fetchall()]


def event_of(path: Path) -> dict[str, Any]:
    document = json.loads(path.read_text())
    return document.get("Event", document)


def attributes_of(event: dict[str, Any]) -> list[dict[str, Any]]:
    return list(event.get("Attribute", [])) + [
        a for o in event.get("Object", []) for a in o.get("Attribute", [])
    ]


@pytest.mark.parametrize(
    "name",
    [
        "misp_event.json",
        "events/galaxy_1.json",
        "events/long_event.json",
        "events/mainly_objects_1.json",
        "events/sighting_1.json",
        "feed-event/57c4445b-c548-4654-af0b-4be3950d210f.json",
        "mispevent_testfiles/existing_event.json",
        "mispevent_testfiles/shadow.json",
    ],
)
def test_every_attribute_is_imported(store: Store, misp: Path, name: str) -> None:
    path = misp / name
    attributes = attributes_of(event_of(path))
    summary = import_one(store, path)
    assert summary.error is None and summary.format == "misp"
    assert summary.records == len(attributes)
    assert not summary.errors
    got = rows(store)
    # Every attribute's uuid is among the indicators' sources (a composite one, such as
    # domain|ip, in two of them); no indicator comes from anywhere else.
    assert {ref for r in got for ref in r["source_refs"]} == {a["uuid"] for a in attributes}
    assert {r["source_format"] for r in got} == {"misp"}
    to_ids = {a["uuid"]: bool(a["to_ids"]) for a in attributes}
    for r in got:
        assert r["to_ids"] == any(to_ids[ref] for ref in r["source_refs"])


def test_types_tags_and_galaxies(store: Store, misp: Path) -> None:
    import_one(store, misp / "events" / "galaxy_1.json")
    got = {(r["type"], r["value"]): r for r in rows(store)}
    assert {r["tlp"] for r in got.values()} == {"white"}
    assert {r["source"] for r in got.values()} == {"CIRCL"}
    sha1 = got[("sha1", "d63ff86f05b6f2fb86abf0dcd16cd2008fa3c158")]
    assert sha1["intrusion_sets"] == ["APT1", "APT12"]  # misp-galaxy:mitre-intrusion-set
    assert sha1["attack"] == ["T1098"]  # the attribute's mitre attack-pattern galaxy
    assert sha1["malware"] == ["ANDROIDOS_ANSERVER.A", "BACKSPACE"]
    assert 'circl:incident-classification="malware"' in sha1["labels"]
    assert sha1["reports"] == [
        "OSINT - PUBG Ransomware Decrypts Your Files If You Play PlayerUnknown's Battlegrounds"
    ]
    # The event's sha256 attribute and its file object's: one indicator, stated twice.
    sha256 = got[("sha256", "3208efe96d14f5a6a2840daecbead6b0f4d73c5a05192a1a8eef8b50bbfb4bc1")]
    assert sha256["evaluable"] and len(sha256["source_refs"]) == 2
    links = [r for (t, _), r in got.items() if t == "misp:link"]
    assert len(links) == 2 and not any(r["evaluable"] or r["to_ids"] for r in links)
    assert all(
        r["unevaluable_reason"] == "type 'misp:link' is not one signalfire matches" for r in links
    )


def test_threat_actor_galaxy_and_objects(store: Store, misp: Path) -> None:
    summary = import_one(store, misp / "mispevent_testfiles" / "existing_event.json")
    got = rows(store)
    assert all(r["intrusion_sets"] == ["Sofacy"] for r in got)  # misp-galaxy:threat-actor
    assert all("X-Agent" in r["malware"] and "CHOPSTICK" in r["malware"] for r in got)
    # domain-ip objects: their ip-dst attributes are addresses, linked to their object.
    event = event_of(misp / "mispevent_testfiles" / "existing_event.json")
    expected = {
        a["value"]
        for o in event["Object"]
        if o["name"] == "domain-ip"
        for a in o["Attribute"]
        if a["type"] == "ip-dst"
    }
    ips = [r for r in got if r["type"] == "ipv4"]
    assert {r["value"] for r in ips} == expected and len(expected) == 11  # 12, one twice
    assert all(json.loads(r["context"])["object_name"] == "domain-ip" for r in ips)
    assert summary.indicators == len(got)


def test_sightings_refresh_last_seen_and_expire(store: Store, misp: Path) -> None:
    import_one(store, misp / "events" / "sighting_1.json")
    got = {r["value"]: r for r in rows(store)}
    seen = got["ooiasjdnqjwbeasdasd.com"]
    assert str(seen["last_seen"]) == "2019-02-27 07:52:30"  # sighting of 1551253950
    assert seen["decay_from"] == seen["last_seen"]
    expired = got["diqjwhebseqhbasdh.com"]
    assert str(expired["valid_until"]) == "2019-02-27 07:52:48"  # expiration sighting
    assert json.loads(expired["context"])["false_positive_sightings"] == 1
    assert got["eqowiesajenqweasd.com"]["malware"] == ["Gozi"]  # misp-galaxy:banker


def test_deleted_and_context_attributes(store: Store, misp: Path) -> None:
    import_one(store, misp / "mispevent_testfiles" / "attribute_del.json", source="t")
    (deleted,) = rows(store)
    assert deleted["revoked"] and deleted["type"] == "file_name"
    assert IndicatorStore(store).list_indicators() == []
    import_one(store, misp / "misp_event.json")
    url = rows(store, "type = 'url'")[0]
    assert url["value"] == "http://fake.website.com/malware/is/here" and not url["to_ids"]
    assert url["source"] == "ORGNAME"
    assert 'ecsirt:malicious-code="ransomware"' in url["labels"]


def test_files_that_are_not_events_fail_cleanly(store: Store, misp: Path) -> None:
    intel = IndicatorStore(store)
    summary = intel.import_paths(
        [
            misp / "mispevent_testfiles" / "galaxy.json",
            misp / "mispevent_testfiles" / "event_obj_tag.json",
            misp / "mispevent_testfiles" / "simple.json",
        ]
    )
    errors = [f.error or "" for f in summary.files]
    assert "neither a STIX bundle or object nor a MISP event" in errors[0]
    assert "not a MISP event pymisp can load" in errors[1]
    assert "neither" in errors[2]
    assert store.scalar("SELECT count(*) FROM indicators") == 0


def test_a_feed_directory(store: Store, misp: Path, tmp_path: Path) -> None:
    from pymisp.tools.feed import feed_meta_generator

    feed = tmp_path / "circl-feed"
    feed.mkdir()
    events = [
        misp / "feed-event" / "57c4445b-c548-4654-af0b-4be3950d210f.json",
        misp / "events" / "long_event.json",
    ]
    for path in events:
        shutil.copy(path, feed / f"{event_of(path)['uuid']}.json")
    feed_meta_generator(feed)  # PyMISP writes manifest.json and hashes.csv
    summary = IndicatorStore(store).import_paths([tmp_path])
    assert [f.format for f in summary.files] == ["misp", "misp"]
    assert not summary.failed and not any(f.notes for f in summary.files)
    expected = sum(len(attributes_of(event_of(p))) for p in events)
    assert summary.total("records") == expected == 9 + 370
    assert {r["source"] for r in rows(store)} == {"CIRCL"}

    # A value hashes.csv lists but an event file lacks is reported.
    with (feed / "hashes.csv").open("a") as f:
        f.write("0123456789abcdef0123456789abcdef,57c4445b-c548-4654-af0b-4be3950d210f\n")
    manifest = json.loads((feed / "manifest.json").read_text())
    manifest["00000000-0000-4000-8000-000000000000"] = {"info": "gone"}
    (feed / "manifest.json").write_text(json.dumps(manifest))
    again = IndicatorStore(store).import_paths([feed])
    notes = [n for f in again.files for n in f.notes]
    assert any("hashes.csv lists 1 value(s)" in n for n in notes)
    assert any("whose file is missing" in n for n in notes)
    assert again.total("new") == 0


@pytest.mark.parametrize(
    ("galaxy", "value", "expected"),
    [
        ("threat-actor", "APT1", ("intrusion_sets", "APT1")),
        ("mitre-intrusion-set", "APT12 - G0005", ("intrusion_sets", "APT12")),
        ("mitre-enterprise-attack-intrusion-set", "APT28 - G0007", ("intrusion_sets", "APT28")),
        ("mitre-malware", "BACKSPACE - S0031", ("malware", "BACKSPACE")),
        ("tool", "X-Agent", ("malware", "X-Agent")),
        ("malpedia", "SamSam", ("malware", "SamSam")),
        ("mitre-attack-pattern", "Permission Groups Discovery - T1069", ("attack", "T1069")),
        ("mitre-attack-pattern", "Sub - T1566.001", ("attack", "T1566.001")),
        ("guidelines", "Leak of confidential information", None),
        ("mitre-course-of-action", "Account Discovery Mitigation - T1087", None),
    ],
)
def test_galaxy_clusters(galaxy: str, value: str, expected: tuple[str, str] | None) -> None:
    assert classify_galaxy(galaxy, value) == expected
