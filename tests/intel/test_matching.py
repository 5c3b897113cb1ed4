"""Indicator matching as an analyst runs it (the CLI in a subprocess): a STIX threat report
imported, logs that touch its infrastructure, alerts that name the intrusion set; an allowlist
entry that withdraws past alerts and suppresses future ones; sightings recorded."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from signalfire import runner
from signalfire.detections import execute
from signalfire.intel.attack import bundled_catalog
from signalfire.store import Store
from tests.cli.test_cli import run
from tests.sources.zeek_samples import zeek_tsv

CONN_FIELDS = ["ts", "uid", "id.orig_h", "id.orig_p", "id.resp_h", "id.resp_p", "proto"]
CONN_TYPES = ["time", "string", "addr", "port", "addr", "port", "enum"]
DNS_FIELDS = [*CONN_FIELDS, "query", "answers"]
DNS_TYPES = [*CONN_TYPES, "string", "vector[string]"]


def _logs(tmp_path: Path) -> Path:
    """A workstation resolving and calling APT1's infrastructure, and one that does not, five
    days after the report's indicators were published (2015-05-15): intelligence that old has
    decayed to nothing by now (MISP's model), so the logs are of the report's time."""
    logs = tmp_path / "logs"
    logs.mkdir()
    dns = [
        [
            "1432080000.1",
            "Dapt",
            "10.9.0.5",
            "53000",
            "10.9.0.1",
            "53",
            "udp",
            "update.hugesoft.org",
            "223.167.4.5",
        ],
        [
            "1432080001.1",
            "Dok",
            "10.9.0.6",
            "53001",
            "10.9.0.1",
            "53",
            "udp",
            "www.example.com",
            "93.184.216.34",
        ],
    ]
    conn = [
        ["1432080002.1", "Capt", "10.9.0.5", "50000", "223.167.4.5", "443", "tcp"],
        ["1432080003.1", "Cok", "10.9.0.6", "50001", "93.184.216.34", "443", "tcp"],
    ]
    (logs / "dns.log").write_bytes(zeek_tsv("dns", DNS_FIELDS, DNS_TYPES, dns))
    (logs / "conn.log").write_bytes(zeek_tsv("conn", CONN_FIELDS, CONN_TYPES, conn))
    return logs


def _alerts(db: Path) -> list[dict[str, Any]]:
    out = run("--db", str(db), "alerts", "--json", "--detection", "intel.indicator_match")
    assert out.returncode == 0, out.stderr
    return [json.loads(line) for line in out.stdout.splitlines()]


@pytest.mark.shared_data
def test_apt1_report_names_apt1_and_allowlist_withdraws(shared_data: Path, tmp_path: Path) -> None:
    db = tmp_path / "s.duckdb"
    report = shared_data / "intel" / "stix-examples" / "threat-reports" / "apt1.json"
    for args in (
        ("ingest", str(_logs(tmp_path))),
        ("intel", "import", str(report)),
        ("detect", "--only", "intel.indicator_match"),
    ):
        done = run("--db", str(db), *args)
        assert done.returncode == 0, (args, done.stdout, done.stderr)
    alerts = _alerts(db)
    # The domain hugesoft.org (a parent of the name looked up) and the network 223.166.0.0/15
    # (which holds the address it resolved to and was called): both indicate APT1.
    by_indicator = {a["evidence"]["indicator"]: a for a in alerts}
    assert set(by_indicator) == {"hugesoft.org", "223.166.0.0/15"}
    domain = by_indicator["hugesoft.org"]
    assert domain["source_ip"] == "10.9.0.5"
    assert domain["destination_domain"] == "hugesoft.org"
    assert domain["evidence"]["observed"] == "update.hugesoft.org"
    assert domain["evidence"]["matched"] == "parent domain"
    network = by_indicator["223.166.0.0/15"]
    assert network["destination_ip"] == "223.167.4.5"
    assert network["evidence"]["matched"] == "cidr"
    for alert in alerts:
        assert alert["intrusion_set"] == "APT1 (G0006)"
        # The report gives no technique for these indicators: APT1's own, from ATT&CK (23 in
        # the shipped ATT&CK, among them spearphishing attachments).
        assert alert["attack"] == sorted(bundled_catalog().group("G0006").techniques)
        assert "T1566.001" in alert["attack"]
        assert alert["severity"] in ("high", "critical")
    assert not any(a["source_ip"] == "10.9.0.6" for a in alerts)
    with Store.open(db, read_only=True) as store:
        sighted = store.con.execute("SELECT count(DISTINCT indicator_id) FROM sightings").fetchone()
    assert sighted == (2,)

    # Allowlisting the name withdraws its alert (and sighting) and keeps the other.
    done = run("--db", str(db), "intel", "allow", "hugesoft.org", "--reason", "sinkholed")
    assert done.returncode == 0, done.stderr
    done = run("--db", str(db), "detect", "--only", "intel.indicator_match")
    assert done.returncode == 0, done.stderr
    left = _alerts(db)
    assert [a["evidence"]["indicator"] for a in left] == ["223.166.0.0/15"]
    with Store.open(db, read_only=True) as store:
        sighted = store.con.execute("SELECT count(DISTINCT indicator_id) FROM sightings").fetchone()
    assert sighted == (1,)


def test_match_runs_only_when_indicators_are_stored(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Without indicators the match cannot raise anything: the runner skips its query (76 s
    # over 100 M conn rows) and still withdraws what it raised before, as a run would.
    db = tmp_path / "s.duckdb"
    assert run("--db", str(db), "ingest", str(_logs(tmp_path))).returncode == 0
    executed: list[str] = []
    real_build = execute.build

    def spy(spec: Any, *args: Any) -> Any:
        # Building may already query (the match caches its hits): count builds, not runs.
        executed.append(spec.id)
        return real_build(spec, *args)

    monkeypatch.setattr(execute, "build", spy)
    wanted = ["intel.indicator_match", "network.long_connection"]
    with Store.open(db) as store:
        summary = runner.detect(store, only=wanted)
    assert executed == ["network.long_connection"]
    assert summary.to_json()["detections"]["intel.indicator_match"]["alerts"] == 0

    bad = tmp_path / "bad.txt"
    bad.write_text("223.167.4.5\n")
    assert run("--db", str(db), "intel", "import", str(bad)).returncode == 0
    executed.clear()
    with Store.open(db) as store:
        summary = runner.detect(store, only=wanted)
        assert executed == wanted
        assert summary.to_json()["detections"]["intel.indicator_match"]["alerts"] == 1

        # The indicators gone, the match is skipped again and its alert withdrawn.
        store.con.execute("DELETE FROM indicators")
        executed.clear()
        runner.detect(store, only=wanted)
        assert executed == ["network.long_connection"]
        left = store.scalar("SELECT count(*) FROM alerts WHERE detection = 'intel.indicator_match'")
    assert left == 0
