"""The CLI as a user runs it: `signalfire` in a subprocess."""

from __future__ import annotations

import gzip
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb

from tests.sources.zeek_samples import zeek_tsv

FIELDS = ["ts", "uid", "id.orig_h", "id.orig_p", "id.resp_h", "id.resp_p", "proto", "orig_bytes"]
TYPES = ["time", "string", "addr", "port", "addr", "port", "enum", "count"]


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "signalfire", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=300,
        check=False,
    )


def _log(path: Path, n: int, start: int = 0) -> Path:
    rows = [
        [f"{1700000000 + i}.5", f"C{i}", "10.0.0.1", "40000", "192.0.2.7", "443", "tcp", str(i)]
        for i in range(start, start + n)
    ]
    path.write_bytes(zeek_tsv("conn", FIELDS, TYPES, rows))
    return path


def test_ingest_json_summary_and_status(tmp_path: Path) -> None:
    db = str(tmp_path / "s.duckdb")
    logs = tmp_path / "logs"
    logs.mkdir()
    _log(logs / "conn.log", 25)
    (logs / "notes.txt").write_text("hello\n")
    result = run("--db", db, "ingest", "--json", str(logs))
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert {k: summary[k] for k in ("files", "rows", "rejected", "already_ingested")} == {
        "files": 2,
        "rows": {"conn": 25},
        "rejected": 1,
        "already_ingested": 0,
    }
    again = json.loads(run("--db", db, "ingest", "--json", str(logs)).stdout)
    assert again["already_ingested"] == 2 and again["rows"] == {}
    status = run("--db", db, "status", "--json")
    assert status.returncode == 0
    info = json.loads(status.stdout)
    conn = next(t for t in info["tables"] if t["table"] == "conn")
    assert conn["rows"] == 25 and conn["first"].startswith("2023-11-14")
    assert info["rejects"]["lines"] == 1
    human = run("--db", db, "status")
    assert "conn" in human.stdout and "rejected lines" in human.stdout


def test_errors_are_one_line_with_documented_exit_codes(tmp_path: Path) -> None:
    db = str(tmp_path / "s.duckdb")
    missing = run("--db", db, "ingest", str(tmp_path / "nope"))
    assert missing.returncode == 4
    assert missing.stderr.strip().count("\n") == 0 and "no such file" in missing.stderr
    assert "Traceback" not in missing.stderr
    # A file that cannot be read at all (a gzip cut short) fails the run: exit 4, the others
    # of the run are kept.
    broken = tmp_path / "cut.log.gz"
    broken.write_bytes(gzip.compress(_log(tmp_path / "whole.log", 50).read_bytes())[:60])
    failed = run("--db", db, "ingest", str(broken), str(tmp_path / "whole.log"))
    assert failed.returncode == 4, failed.stdout + failed.stderr
    assert "cut.log.gz: failed" in failed.stdout + failed.stderr
    debug = run("--debug", "--db", db, "ingest", str(tmp_path / "nope"))
    assert debug.returncode == 4 and "Traceback" in debug.stderr
    no_store = run("--db", str(tmp_path / "none.duckdb"), "status")
    assert no_store.returncode == 5 and "ingest some logs first" in no_store.stderr
    usage = run("ingest")
    assert usage.returncode == 2
    bad_setting = run(
        "--db", db, "ingest", str(tmp_path), env={"SIGNALFIRE_INGEST_CHUNK_BYTES": "lots"}
    )
    assert bad_setting.returncode == 3 and "SIGNALFIRE_INGEST_CHUNK_BYTES" in bad_setting.stderr


def test_store_from_a_newer_version_is_refused(tmp_path: Path) -> None:
    db = tmp_path / "s.duckdb"
    assert run("--db", str(db), "ingest", str(_log(tmp_path / "c.log", 3))).returncode == 0
    con = duckdb.connect(str(db))
    con.execute("UPDATE schema_meta SET value = '999' WHERE key = 'schema_version'")
    con.close()
    result = run("--db", str(db), "status")
    assert result.returncode == 5 and "newer Signalfire" in result.stderr


def _read_position(pid: int, target: Path) -> int | None:
    """How far the process has read ``target`` (from /proc/PID/fdinfo), None if not open."""
    fd_dir = Path(f"/proc/{pid}/fd")
    try:
        for fd in fd_dir.iterdir():
            try:
                if Path(os.readlink(fd)) == target:
                    for line in (Path(f"/proc/{pid}/fdinfo") / fd.name).read_text().splitlines():
                        if line.startswith("pos:"):
                            return int(line.split()[1])
            except OSError:
                continue
    except OSError:
        return None
    return None


def test_sigkill_half_way_leaves_the_store_as_before_that_file(tmp_path: Path) -> None:
    db = tmp_path / "s.duckdb"
    logs = tmp_path / "logs"
    logs.mkdir()
    _log(logs / "a.log", 100)
    big = _log(logs / "b.log", 400_000, start=100)
    size = big.stat().st_size
    proc = subprocess.Popen(
        [sys.executable, "-m", "signalfire", "--db", str(db), "ingest", str(logs)],
        env={**os.environ, "SIGNALFIRE_INGEST_CHUNK_BYTES": str(256 << 10)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    killed_at = None
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        pos = _read_position(proc.pid, big.resolve())
        if pos is not None and size * 0.3 < pos < size * 0.9:
            os.kill(proc.pid, signal.SIGKILL)
            killed_at = pos
            break
        time.sleep(0.005)
    proc.wait()
    assert killed_at is not None, "the ingest finished before it could be killed half-way"
    con = duckdb.connect(str(db), read_only=True)
    assert con.execute("SELECT count(*) FROM conn").fetchone() == (100,)
    orphans = "SELECT count(*) FROM conn WHERE ingest_id NOT IN (SELECT ingest_id FROM ingest_log)"
    assert con.execute(orphans).fetchone() == (0,)
    assert con.execute("SELECT count(*) FROM ingest_log").fetchone() == (1,)
    con.close()
    again = run("--db", str(db), "ingest", "--json", str(logs))
    summary = json.loads(again.stdout)
    assert summary["rows"] == {"conn": 400_000} and summary["already_ingested"] == 1
