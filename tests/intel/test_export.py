"""STIX 2.1 export: valid for stix2's parser, and importing it gives the same indicators."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
import stix2

from signalfire.intel import stix_export
from signalfire.intel.indicators import ImportOptions, IndicatorStore
from signalfire.store import Store

NOW = datetime.now(UTC).replace(tzinfo=None, microsecond=0)

#: What must survive the round trip (valid_from, created and modified are filled in by the
#: export when a source gave none: STIX requires them; reports are not exported).
COMPARED = (
    "indicator_id",
    "type",
    "value",
    "source",
    "evaluable",
    "unevaluable_reason",
    "to_ids",
    "revoked",
    "confidence",
    "tlp",
    "valid_until",
    "first_seen",
    "last_seen",
    "coalesce(modified, created)",
    "decay_from",
    "name",
    "description",
    "list_sort(labels)",
    "list_sort(attack)",
    "list_sort(kill_chain_phases)",
    "list_sort(intrusion_sets)",
    "list_sort(malware)",
    "list_sort(threat_actors)",
    "list_sort(campaigns)",
    "range_start",
    "range_end",
    "range_start_hex",
    "range_end_hex",
)


def indicators(store: Store) -> dict[str, tuple[Any, ...]]:
    got = store.con.execute(f"SELECT {', '.join(COMPARED)} FROM indicators").fetchall()
    return {row[0]: row for row in got}


def add_alert_and_sighting(store: Store) -> None:
    store.con.execute(
        "INSERT INTO alerts BY NAME SELECT 'a1' AS alert_id, 'network.beaconing' AS detection, "
        "'Periodic outbound connections' AS title, 'high' AS severity, 0.87 AS score, "
        "$first AS first_seen, $last AS last_seen, $first AS window_start, "
        "'10.0.0.5->192.0.2.1' AS entity, '10.0.0.5' AS source_ip, '192.0.2.1' AS "
        "destination_ip, 443 AS destination_port, 'Evil.Example' AS destination_domain, "
        "['T1071', 'T1573'] AS attack, NULL AS intrusion_set, "
        '\'{"intervals": 12, "jitter": 0.02}\'::JSON AS evidence, $last AS created_at, '
        "$last AS updated_at",
        {"first": NOW - timedelta(hours=5), "last": NOW - timedelta(hours=1)},
    )
    indicator_id = store.scalar("SELECT min(indicator_id) FROM indicators WHERE type = 'ipv4'")
    IndicatorStore(store).record_sightings(
        pa.table(
            {
                "indicator_id": [indicator_id],
                "alert_id": ["a1"],
                "observed_value": ["192.0.2.1"],
                "event_table": ["conn"],
                "event_column": ["destination_ip"],
                "first_seen": [NOW - timedelta(hours=5)],
                "last_seen": [NOW - timedelta(hours=1)],
                "count": [12],
            }
        )
    )


def write_inputs(tmp: Path) -> list[Path]:
    intel = tmp / "local.intel"
    intel.write_text(
        "#fields\tindicator\tindicator_type\tmeta.source\tmeta.desc\n"
        "192.0.2.1\tIntel::ADDR\tlocal\tC2\n"
        "2001:db8::/48\tIntel::SUBNET\tlocal\tbad net\n"
        "bad.example\tIntel::DOMAIN\tlocal\t-\n"
        "t13d1516h2_8daaf6152771_b186095e22b6\tIntel::JA4\tlocal\t-\n"
    )
    listing = tmp / "list.csv"
    listing.write_text(
        "indicator,type,tlp,tags\n"
        + "a" * 32
        + ",md5,amber+strict,x;y\n"
        + "z" * 64
        + ",sha256,red,\n"
        + "e7d705a3286e19ea42f587b344ee6865,ja3,green,\n"
    )
    return [intel, listing]


def test_export_parses_and_imports_back_the_same(store: Store, tmp_path: Path) -> None:
    intel = IndicatorStore(store)
    summary = intel.import_paths(write_inputs(tmp_path))
    assert not summary.failed
    intel.import_paths([tmp_path / "list.csv"], ImportOptions(source="other", confidence=55))
    add_alert_and_sighting(store)
    bundle = stix_export.export_bundle(store.con)
    parsed = stix2.parse(bundle, allow_custom=True)
    kinds = {o.type for o in parsed.objects}
    assert {"indicator", "identity", "sighting", "observed-data", "attack-pattern", "note"} <= kinds
    assert {"ipv4-addr", "domain-name", "marking-definition"} <= kinds

    path = tmp_path / "export.json"
    stix_export.write_bundle(bundle, path)
    with Store.open(tmp_path / "again.duckdb") as again:
        result = IndicatorStore(again).import_paths([path])
        assert not result.failed and result.total("errors") == 0
        assert indicators(again) == indicators(store)
    # The export is deterministic: the same store gives the same bytes.
    assert stix_export.export_bundle(store.con) == bundle


def test_alerts_and_sightings_as_standard_objects(store: Store, tmp_path: Path) -> None:
    IndicatorStore(store).import_paths(write_inputs(tmp_path))
    add_alert_and_sighting(store)
    objects = {o["id"]: o for o in stix_export.export_bundle(store.con)["objects"]}
    by_type: dict[str, list[dict[str, Any]]] = {}
    for o in objects.values():
        by_type.setdefault(o["type"], []).append(o)
    alert = next(
        s for s in by_type["sighting"] if s["id"].startswith("sighting--") and "labels" in s
    )
    detection = objects[alert["sighting_of_ref"]]
    assert detection["type"] == "attack-pattern"
    assert {r["external_id"] for r in detection["external_references"]} == {
        "network.beaconing",
        "T1071",
        "T1573",
    }
    assert alert["confidence"] == 87 and "severity:high" in alert["labels"]
    observed = objects[alert["observed_data_refs"][0]]
    values = {objects[r]["value"] for r in observed["object_refs"]}
    assert values == {"10.0.0.5", "192.0.2.1", "evil.example"}
    note = next(o for o in by_type["note"] if alert["id"] in o["object_refs"])
    assert json.loads(note["content"]) == {"intervals": 12, "jitter": 0.02}
    hit = next(s for s in by_type["sighting"] if "labels" not in s)
    assert objects[hit["sighting_of_ref"]]["type"] == "indicator"
    assert hit["count"] == 12 and hit["description"] == "192.0.2.1 in conn.destination_ip"


@pytest.mark.shared_data
def test_round_trip_of_the_shared_intelligence(
    store: Store, tmp_path: Path, shared_data: Path
) -> None:
    data = shared_data / "intel"
    intel = IndicatorStore(store)
    summary = intel.import_paths(
        [
            data / "stix-examples" / "threat-reports",
            data / "stix-examples" / "indicators-for-C2-with-COA.json",
            data / "stix-examples" / "malicious-email-indicator-with-attachment.json",
            data / "misp" / "events",
            data / "misp" / "misp_event.json",
            data / "misp" / "mispevent_testfiles" / "attribute_del.json",
        ]
    )
    assert not summary.failed
    path = tmp_path / "all.json"
    stix_export.write_bundle(stix_export.export_bundle(store.con), path)
    stix2.parse(json.loads(path.read_text()), allow_custom=True)
    with Store.open(tmp_path / "again.duckdb") as again:
        result = IndicatorStore(again).import_paths([path])
        assert not result.failed and result.total("errors") == 0
        mine, theirs = indicators(store), indicators(again)
        assert mine.keys() == theirs.keys()
        assert mine == theirs
        apt1 = again.con.execute(
            "SELECT count(*) FROM indicators WHERE list_contains(intrusion_sets, 'APT1')"
        ).fetchone()
        assert apt1 is not None and apt1[0] >= 12
