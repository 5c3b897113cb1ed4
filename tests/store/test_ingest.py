"""Ingest is idempotent, follows growing files, keeps every line, and migrates or refuses stores."""

from __future__ import annotations

import gzip
import os
import time
from pathlib import Path

import duckdb
import pytest

from signalfire import runner
from signalfire.errors import SchemaVersionError
from signalfire.model.schema import SCHEMA_VERSION
from signalfire.store import Store
from tests.sources.zeek_samples import zeek_tsv

FIELDS = ["ts", "uid", "id.orig_h", "id.orig_p", "id.resp_h", "id.resp_p", "proto"]
TYPES = ["time", "string", "addr", "port", "addr", "port", "enum"]


def _rows(start: int, n: int) -> list[list[str]]:
    return [
        [f"{1700000000 + i}.25", f"C{i}", "10.0.0.1", "1000", "10.0.0.2", "22", "tcp"]
        for i in range(start, start + n)
    ]


def _header() -> bytes:
    return zeek_tsv("conn", FIELDS, TYPES, []).rsplit(b"#close", 1)[0]


def _count(store: Store, table: str = "conn") -> int:
    return int(store.scalar(f"SELECT count(*) FROM {table}"))


def test_same_file_twice_adds_nothing(tmp_path: Path, store: Store) -> None:
    log = tmp_path / "conn.log"
    log.write_bytes(zeek_tsv("conn", FIELDS, TYPES, _rows(0, 100)))
    first = runner.ingest(store, [log])
    second = runner.ingest(store, [tmp_path])
    assert first.rows == {"conn": 100} and second.rows == {}
    assert second.to_json()["already_ingested"] == 1
    assert _count(store) == 100
    assert store.scalar("SELECT count(*) FROM ingest_log") == 1


def test_renamed_and_gzipped_copy_is_the_same_content(tmp_path: Path, store: Store) -> None:
    data = zeek_tsv("conn", FIELDS, TYPES, _rows(0, 50))
    (tmp_path / "conn.log").write_bytes(data)
    runner.ingest(store, [tmp_path / "conn.log"])
    archive = tmp_path / "2026-03-02" / "conn.00:00:00-01:00:00.log.gz"
    archive.parent.mkdir()
    archive.write_bytes(gzip.compress(data))
    summary = runner.ingest(store, [archive])
    assert summary.to_json()["already_ingested"] == 1 and _count(store) == 50


def test_growing_log_adds_only_new_lines(tmp_path: Path, store: Store) -> None:
    log = tmp_path / "conn.log"
    text = _header() + b"".join(("\t".join(r) + "\n").encode() for r in _rows(0, 30))
    log.write_bytes(text)
    assert runner.ingest(store, [log]).rows == {"conn": 30}
    more = b"".join(("\t".join(r) + "\n").encode() for r in _rows(30, 20))
    with log.open("ab") as fh:
        fh.write(more)
    summary = runner.ingest(store, [log])
    assert summary.rows == {"conn": 20} and summary.to_json()["appended"] == 1
    assert _count(store) == 50
    lines = [
        r[0] for r in store.con.execute("SELECT log_line FROM conn ORDER BY log_line").fetchall()
    ]
    assert lines == list(range(9, 59)), "line numbers continue across runs"
    assert runner.ingest(store, [log]).rows == {}


def test_live_partial_line_waits_old_partial_line_is_rejected(tmp_path: Path, store: Store) -> None:
    log = tmp_path / "conn.log"
    full = "\t".join(_rows(1, 1)[0])
    log.write_bytes(_header() + ("\t".join(_rows(0, 1)[0]) + "\n").encode() + full[:12].encode())
    summary = runner.ingest(store, [log])
    assert summary.rows == {"conn": 1} and summary.rejected == 0
    assert summary.outcomes[0].held_back_bytes == 12
    with log.open("ab") as fh:  # the writer finishes the line
        fh.write(full[12:].encode() + b"\n")
    assert runner.ingest(store, [log]).rows == {"conn": 1}
    assert _count(store) == 2
    # A file nobody has written for a while: its unterminated last line is a truncated record.
    stale = tmp_path / "stale.log"
    stale.write_bytes(_header().replace(b"conn", b"conn", 1) + full[:12].encode())
    old = time.time() - 3600
    os.utime(stale, (old, old))
    summary = runner.ingest(store, [stale])
    assert summary.rejected == 1
    assert "truncated" in store.scalar(
        "SELECT reason FROM rejects WHERE log_file_path = ?", [str(stale)]
    )


def test_newer_store_is_refused_older_is_migrated(tmp_path: Path) -> None:
    path = tmp_path / "s.duckdb"
    Store.open(path).close()
    con = duckdb.connect(str(path))
    con.execute(
        "UPDATE schema_meta SET value = ? WHERE key = 'schema_version'", [str(SCHEMA_VERSION + 1)]
    )
    con.close()
    with pytest.raises(SchemaVersionError, match="newer Signalfire"):
        Store.open(path)
    # A store from before versioning: no schema_meta, a table missing a column and one missing.
    old = tmp_path / "old.duckdb"
    con = duckdb.connect(str(old))
    con.execute('CREATE TABLE conn ("timestamp" TIMESTAMP, uid VARCHAR, source_ip VARCHAR)')
    con.execute("INSERT INTO conn VALUES ('2020-01-01', 'C1', '10.0.0.1')")
    con.close()
    with Store.open(old) as store:
        assert store.scalar("SELECT value FROM schema_meta WHERE key = 'schema_version'") == str(
            SCHEMA_VERSION
        )
        assert store.scalar("SELECT count(*) FROM conn WHERE destination_port IS NULL") == 1
        assert store.scalar("SELECT count(*) FROM dns") == 0


def test_a_failed_file_leaves_the_store_as_it_was(tmp_path: Path, store: Store) -> None:
    good = tmp_path / "a.log"
    good.write_bytes(zeek_tsv("conn", FIELDS, TYPES, _rows(0, 10)))
    broken = tmp_path / "b.log.gz"
    blob = gzip.compress(zeek_tsv("conn", FIELDS, TYPES, _rows(10, 5000)))
    broken.write_bytes(blob[: len(blob) // 2])  # a cut-off archive
    summary = runner.ingest(store, [tmp_path])
    failed = [o for o in summary.outcomes if o.error]
    assert [Path(o.path).name for o in failed] == ["b.log.gz"]
    assert "nothing of it was stored" in failed[0].error
    assert _count(store) == 10
    assert store.scalar("SELECT count(*) FROM ingest_log") == 1


def test_a_value_that_does_not_parse_is_rejected_and_the_rest_stored(
    tmp_path: Path, store: Store
) -> None:
    rows = _rows(0, 1000)
    rows[500][3] = "port-ish"  # a regular line (right field count) with a bad port
    log = tmp_path / "conn.log"
    log.write_bytes(zeek_tsv("conn", FIELDS, TYPES, rows))
    summary = runner.ingest(store, [log])
    assert summary.rows == {"conn": 999} and summary.rejected == 1
    line, offset, reason, raw = store.con.execute(
        "SELECT log_line, log_offset, reason, raw FROM rejects"
    ).fetchone()
    assert line == 509 and "id.orig_p = 'port-ish'" in reason
    assert raw == "\t".join(rows[500])
    assert log.read_bytes()[offset:].startswith(raw.encode())
