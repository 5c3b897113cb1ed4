"""detect, alerts and analyze as a user runs them."""

from __future__ import annotations

import json
from pathlib import Path

from tests.cli.test_cli import run
from tests.sources.zeek_samples import zeek_tsv

FIELDS = ["ts", "uid", "id.orig_h", "id.orig_p", "id.resp_h", "id.resp_p", "proto", "duration"]
TYPES = ["time", "string", "addr", "port", "addr", "port", "enum", "interval"]
ALERT_KEYS = {
    "id",
    "detection",
    "severity",
    "score",
    "first_seen",
    "last_seen",
    "source_ip",
    "destination_ip",
    "destination_port",
    "destination_domain",
    "attack",
    "intrusion_set",
    "evidence",
}


def _logs(tmp_path: Path) -> Path:
    logs = tmp_path / "logs"
    logs.mkdir()
    rows = [
        ["1700000000.5", "Clong", "10.0.0.5", "40000", "198.51.100.9", "443", "tcp", "50000.0"],
        ["1700000100.5", "Cshort", "10.0.0.5", "40001", "198.51.100.9", "443", "tcp", "5.0"],
    ]
    (logs / "conn.log").write_bytes(zeek_tsv("conn", FIELDS, TYPES, rows))
    return logs


def test_analyze_then_alerts_json_lines(tmp_path: Path) -> None:
    db, report = str(tmp_path / "s.duckdb"), tmp_path / "report.html"
    result = run("--db", db, "analyze", str(_logs(tmp_path)), "--report", str(report), "--json")
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["detect"]["alerts"] >= 1 and summary["ingest"]["rows"] == {"conn": 2}
    html = report.read_text()
    assert "Long-lived connection" in html and "198.51.100.9" in html and "<script" not in html
    lines = run("--db", db, "alerts", "--json").stdout.splitlines()
    alerts = [json.loads(line) for line in lines]
    long = [a for a in alerts if a["detection"] == "network.long_connection"]
    assert len(long) == 1 and set(long[0]) == ALERT_KEYS
    assert long[0]["severity"] == "critical" and long[0]["evidence"]["duration_hours"] > 13
    again = json.loads(run("--db", db, "detect", "--json").stdout)
    assert again["new"] == 0, "re-running must not add alerts"
    assert len(run("--db", db, "alerts", "--json").stdout.splitlines()) == len(lines)


def test_internal_networks_option_is_validated(tmp_path: Path) -> None:
    db = str(tmp_path / "s.duckdb")
    run("--db", db, "ingest", str(_logs(tmp_path)))
    bad = run("--db", db, "detect", "--internal", "10.0.0.0/33")
    assert bad.returncode == 3 and "CIDR" in bad.stderr
    env_bad = run("--db", db, "detect", env={"SIGNALFIRE_INTERNAL_NETWORKS": "nonsense"})
    assert env_bad.returncode == 3
    ok = run("--db", db, "detect", "--internal", "10.0.0.0/8", "--internal", "192.0.2.0/24")
    assert ok.returncode == 0, ok.stderr
    unknown = run("--db", db, "detect", "--only", "network.nope")
    assert unknown.returncode == 3 and "unknown detection" in unknown.stderr
