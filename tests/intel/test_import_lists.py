"""Zeek intel files, CSV and text lists: the simulator's feed and hand-written edge cases."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pytest

from signalfire.intel.indicators import FileSummary, ImportOptions, IndicatorStore
from signalfire.simulate import SimulationConfig, SimulationResult, run_simulation
from signalfire.store import Store


@pytest.fixture(scope="module")
def sim(tmp_path_factory: pytest.TempPathFactory) -> SimulationResult:
    # One operator and an hour: every attack (hence every indicator) is still injected.
    config = SimulationConfig(seed=11, hours=1, operators=1, hosts_per_operator=20)
    return run_simulation(config, tmp_path_factory.mktemp("sim"))


def import_one(store: Store, path: Path, **options: Any) -> FileSummary:
    summary = IndicatorStore(store).import_paths([path], ImportOptions(**options))
    assert len(summary.files) == 1
    return summary.files[0]


def rows(store: Store, where: str = "true") -> list[dict[str, Any]]:
    cursor = store.con.execute(f"SELECT * FROM indicators WHERE {where} ORDER BY type, value")
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, r, strict=True)) for r in cursor.fetchall()]


def test_the_simulator_feed_imports_from_both_files(store: Store, sim: SimulationResult) -> None:
    intel_file = sim.out_dir / "indicators" / "known_bad.intel"
    csv_file = sim.out_dir / "indicators" / "known_bad.csv"
    with csv_file.open() as f:
        listed = list(csv.DictReader(f))
    zeek = import_one(store, intel_file)
    assert zeek.format == "zeek" and zeek.error is None and not zeek.errors
    assert zeek.new == zeek.records == len(listed) > 10
    got = rows(store)
    assert {r["value"] for r in got} == {row["indicator"] for row in listed}
    kinds = {row["indicator"]: row["type"] for row in listed}
    for r in got:
        assert r["type"] == {"ipv4-addr": "ipv4", "domain-name": "domain"}[kinds[r["value"]]]
        assert r["source"] == "signalfire-sim-feed" and r["evaluable"] and r["to_ids"]
    descriptions = {row["indicator"]: row["description"] for row in listed}
    assert all(r["description"] == descriptions[r["value"]] for r in got)
    # The CSV lists the same feed: the same indicators (same ids), nothing new.
    from_csv = import_one(store, csv_file)
    assert from_csv.format == "csv" and (from_csv.new, from_csv.records) == (0, len(listed))
    assert from_csv.updated + from_csv.unchanged == len(listed)
    assert len(rows(store)) == len(listed)
    # All of them alert now (freshly listed) and the ranges of the addresses are set.
    active = IndicatorStore(store).list_indicators()
    assert len(active) == len(listed)
    assert all(r["range_start"] is not None for r in got if r["type"] == "ipv4")


def test_zeek_intel_types_meta_fields_and_bad_lines(store: Store, tmp_path: Path) -> None:
    path = tmp_path / "mixed.intel"
    path.write_text(
        "#separator \\x09\n"
        "#fields\tindicator_type\tindicator\tmeta.source\tmeta.desc\tmeta.url\tmeta.cif_confidence\n"
        "Intel::ADDR\t2001:DB8::7\tfeed-a\tv6 host\thttp://ref.example/1\t85\n"
        "Intel::SUBNET\t198.51.100.0/24\tfeed-a\tnet\t-\t-\n"
        "Intel::FILE_HASH\t" + "A" * 64 + "\tfeed-a\t-\t-\t-\n"
        "Intel::FILE_HASH\t" + "b" * 40 + "\tfeed-a\t-\t-\t-\n"
        "Intel::CERT_HASH\t" + "c" * 40 + "\tfeed-a\t-\t-\t-\n"
        "Intel::URL\twww.Evil.example/dl.php\tfeed-a\t-\t-\t-\n"
        "Intel::EMAIL\tPhish@Evil.example\t-\t-\t-\t-\n"
        "Intel::JA3_FINGERPRINT\tabc\tfeed-a\t-\t-\t-\n"
        "only two\tfields\n"
        "# a comment\n"
        "Intel::ADDR\t203.0.113.5\tfeed-b\tx\t-\t-\textra\n"
    )
    summary = import_one(store, path)
    assert summary.records == 10
    assert [(e.line, e.raw) for e in summary.errors] == [
        (11, "only two\tfields"),
        (13, "Intel::ADDR\t203.0.113.5\tfeed-b\tx\t-\t-\textra"),
    ]
    got = {r["value"]: r for r in rows(store)}
    assert got["2001:db8::7"]["type"] == "ipv6" and got["2001:db8::7"]["confidence"] == 85
    assert json.loads(got["2001:db8::7"]["context"]) == {
        "meta.url": "http://ref.example/1",
        "meta.cif_confidence": "85",
    }
    assert got["198.51.100.0/24"]["type"] == "ipv4_cidr"
    assert got["a" * 64]["type"] == "sha256" and got["b" * 40]["type"] == "sha1"
    assert got["c" * 40]["type"] == "x509_sha1"
    assert got["www.evil.example/dl.php"]["type"] == "url"
    assert got["phish@evil.example"]["source"] == "mixed"  # no meta.source: the file's name
    unknown = got["abc"]
    assert unknown["type"] == "zeek:Intel::JA3_FINGERPRINT" and not unknown["evaluable"]
    assert summary.unevaluable == 1


def test_a_file_without_fields_header_is_refused(store: Store, tmp_path: Path) -> None:
    path = tmp_path / "x.intel"
    path.write_text("#fields\tvalue\ttype\n1.2.3.4\tIntel::ADDR\n")
    summary = IndicatorStore(store).import_paths([path])
    assert "lacks indicator, indicator_type" in str(summary.failed[0].error)


def test_csv_headers(store: Store, tmp_path: Path) -> None:
    threatfox = tmp_path / "threatfox.csv"
    threatfox.write_text(
        "################################################################\n"
        "# ThreatFox IOCs: CSV export                                   #\n"
        '# "first_seen_utc","ioc_value","ioc_type","malware_printable","confidence_level","tags"\n'
        '"2026-03-01 10:00:00","evil.example","domain","Cobalt Strike","75","c2;cs"\n'
        '"2026-03-01 11:00:00","192.0.2.44:443","ip:port","Cobalt Strike","100","c2"\n'
        '"2026-03-01 12:00:00","http://evil.example/x","url","AgentTesla","50",""\n'
    )
    summary = import_one(store, threatfox, source="threatfox")
    assert summary.records == 3 and not summary.errors
    got = {r["value"]: r for r in rows(store)}
    domain = got["evil.example"]
    assert (domain["type"], domain["confidence"], domain["malware"]) == (
        "domain",
        75,
        ["Cobalt Strike"],
    )
    assert domain["labels"] == ["c2", "cs"] and str(domain["first_seen"]) == "2026-03-01 10:00:00"
    assert got["192.0.2.44:443"]["type"] == "csv:ip:port" and not got["192.0.2.44:443"]["evaluable"]
    assert got["http://evil.example/x"]["type"] == "url"

    typed = tmp_path / "typed.csv"
    typed.write_text("sha256,note\n" + "d" * 64 + ",dropper\n" + "e" * 64 + ",loader\n")
    import_one(store, typed)
    assert {r["type"] for r in rows(store, "source = 'typed'")} == {"sha256"}
    assert json.loads(rows(store, "source = 'typed'")[0]["context"]) == {"note": "dropper"}

    bare = tmp_path / "bare.csv"
    bare.write_text("203.0.113.7,scanner\nbad.example,phishing\n")
    import_one(store, bare)
    assert {(r["type"], r["value"]) for r in rows(store, "source = 'bare'")} == {
        ("ipv4", "203.0.113.7"),
        ("domain", "bad.example"),
    }

    broken = tmp_path / "broken.csv"
    broken.write_text('indicator,type\n192.0.2.1,ip\n192.0.2.2,ip,extra\n"unclosed,ip\n192.0.2.3\n')
    result = import_one(store, broken)
    # The unclosed quote runs to the end of the file: one rejected record, kept whole.
    assert [(e.line, e.raw) for e in result.errors] == [
        (3, "192.0.2.2,ip,extra"),
        (4, '"unclosed,ip\n192.0.2.3\n'),
    ]
    assert result.records == 3 and result.indicators == 1


def test_text_lists(store: Store, tmp_path: Path) -> None:
    drop = tmp_path / "drop.txt"
    drop.write_text(
        "; Spamhaus DROP List 2026/03/01\n"
        "1.10.16.0/20 ; SBL256894\n"
        "2.56.192.0/22 ; SBL459831\n"
        "\n"
        "# hashes and names too\n" + "f" * 32 + "\n"
        "evil.example.\n"
        "http://evil.example/payload.bin\n"
    )
    summary = import_one(store, drop)
    assert summary.format == "text" and summary.records == 5
    got = {r["value"]: r for r in rows(store)}
    assert got["1.10.16.0/20"]["type"] == "ipv4_cidr"
    assert got["1.10.16.0/20"]["description"] == "SBL256894"
    assert got["f" * 32]["type"] == "md5"
    assert got["evil.example"]["type"] == "domain"
    assert got["http://evil.example/payload.bin"]["type"] == "url"

    prose = tmp_path / "notes.txt"
    prose.write_text("This is not a list.\nIt has sentences in it,\nand nothing else.\n")
    refused = IndicatorStore(store).import_paths([prose])
    assert "does not look like an indicator list" in str(refused.failed[0].error)
    forced = import_one(store, prose, format="text")
    assert forced.error is None and forced.records == 3  # the user said it is a list


def test_a_directory_walk_skips_other_files(store: Store, tmp_path: Path) -> None:
    (tmp_path / "feeds").mkdir()
    (tmp_path / "feeds" / "a.txt").write_text("192.0.2.1\n")
    (tmp_path / "feeds" / "README").write_text("Feeds we pull every night.\n")
    (tmp_path / "feeds" / "LICENSE.md").write_text("MIT\n")
    summary = IndicatorStore(store).import_paths([tmp_path])
    assert [Path(f.path).name for f in summary.files] == ["a.txt"]
