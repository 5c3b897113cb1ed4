"""What network.exfiltration counts: each connection once, and the bytes the packets carried.
The golden case (a workstation uploading 2 GB to 198.51.100.9 in one hour) rewritten the ways
real logs repeat and inflate connections."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from signalfire import runner
from signalfire.store import Store
from signalfire.store.alerts import list_alerts

GOLDEN = Path(__file__).parent / "network.exfiltration" / "input"
EXFIL = "network.exfiltration"


def _alerts(db: Path, *logs: Path) -> list[dict[str, Any]]:
    with Store.open(db) as store:
        summary = runner.ingest(store, list(logs))
        assert summary.rejected == 0 and not summary.count("failed")
        # Every file's rows are stored (the copy is not recognised as already ingested).
        assert summary.rows["conn"] == sum(
            sum(not line.startswith("#") for line in (log / "conn.log").read_text().splitlines())
            for log in logs
        )
        runner.detect(store, internal=["10.0.0.0/8"], only=[EXFIL])
        return list_alerts(store.con, detection=[EXFIL])


def _conn_lines() -> list[str]:
    return (GOLDEN / "conn.log").read_text().splitlines()


def test_a_log_ingested_twice_counts_each_connection_once(tmp_path: Path) -> None:
    once = _alerts(tmp_path / "once.duckdb", GOLDEN)
    # The same connections under another name (a rotated copy: only its #open line differs,
    # so the ingest cannot tell it is the same file).
    again = tmp_path / "again"
    again.mkdir()
    lines = [
        "#open\t2026-03-03-00-00-00" if line.startswith("#open") else line for line in _conn_lines()
    ]
    (again / "conn.log").write_text("\n".join(lines) + "\n")
    twice = _alerts(tmp_path / "twice.duckdb", GOLDEN, again)
    assert len(once) == len(twice) == 1
    for key in ("bytes", "peak_bytes", "connections"):
        assert twice[0]["evidence"][key] == once[0]["evidence"][key], key
    # Three uploads of 200 MB, once each.
    assert once[0]["evidence"]["bytes"] == 600_000_000


def _with_ip_bytes(tmp_path: Path, upload_ip_bytes: int | None) -> Path:
    """The golden logs with Zeek's orig_ip_bytes column: payload + 40 bytes of headers on
    every row, or ``upload_ip_bytes`` on the upload's rows (a capture gap: Zeek's payload,
    from sequence numbers, far above what the packets carried)."""
    out = tmp_path / f"ip-bytes-{upload_ip_bytes}"
    out.mkdir()
    (out / "ssl.log").write_bytes((GOLDEN / "ssl.log").read_bytes())
    lines = []
    for line in _conn_lines():
        if line.startswith("#fields"):
            line += "\torig_ip_bytes"
        elif line.startswith("#types"):
            line += "\tcount"
        elif not line.startswith("#"):
            fields = line.split("\t")
            payload = int(fields[9]) if fields[9] != "-" else 0
            upload = fields[2] == "10.0.3.7" and fields[4] == "198.51.100.9"
            ip_bytes = upload_ip_bytes if upload and upload_ip_bytes is not None else payload + 40
            line += f"\t{ip_bytes}"
        lines.append(line)
    (out / "conn.log").write_text("\n".join(lines) + "\n")
    return out


def test_bytes_are_those_the_packets_carried(tmp_path: Path) -> None:
    counted = _alerts(tmp_path / "counted.duckdb", _with_ip_bytes(tmp_path, None))
    assert [(a["source_ip"], a["destination_ip"]) for a in counted] == [
        ("10.0.3.7", "198.51.100.9")
    ]
    # 200 MB of payload per connection by sequence numbers, 500 kB in the packets: no upload.
    inflated = _alerts(tmp_path / "inflated.duckdb", _with_ip_bytes(tmp_path, 500_000))
    assert inflated == []
