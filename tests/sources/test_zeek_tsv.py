"""Table-driven tests of the Zeek TSV reader."""

from __future__ import annotations

import gzip
import json
from datetime import datetime

import pytest

from signalfire.sources.zeek_tsv import NO_HEADER
from tests.sources.helpers import parse_bytes
from tests.sources.zeek_samples import zeek_tsv

CONN_FIELDS = [
    "ts",
    "uid",
    "id.orig_h",
    "id.orig_p",
    "id.resp_h",
    "id.resp_p",
    "proto",
    "duration",
    "orig_bytes",
    "local_orig",
    "tunnel_parents",
]
CONN_TYPES = [
    "time",
    "string",
    "addr",
    "port",
    "addr",
    "port",
    "enum",
    "interval",
    "count",
    "bool",
    "set[string]",
]
ROW = [
    "1517336042.090842",
    "Cabc",
    "10.0.0.1",
    "51234",
    "8.8.8.8",
    "53",
    "udp",
    "0.069982",
    "61",
    "T",
    "(empty)",
]


def _extra(row: dict[str, object]) -> dict[str, object]:
    """The row's `extra` JSON as a dict ({} when NULL)."""
    return json.loads(row["extra"]) if row["extra"] is not None else {}  # type: ignore[arg-type]


def _one(data: bytes, table: str = "conn") -> dict[str, object]:
    _, tables, rejects = parse_bytes(data)
    assert rejects.num_rows == 0, rejects.to_pylist()
    rows = tables[table].to_pylist()
    assert len(rows) == 1
    return rows[0]


def test_basic_conn_row_is_typed() -> None:
    row = _one(zeek_tsv("conn", CONN_FIELDS, CONN_TYPES, [ROW]))
    assert row["timestamp"] == datetime(2018, 1, 30, 18, 14, 2, 90842)
    assert row["source_ip"] == "10.0.0.1" and row["source_port"] == 51234
    assert row["destination_port"] == 53 and row["network_transport"] == "udp"
    assert row["event_duration"] == pytest.approx(0.069982)
    assert row["source_bytes"] == 61 and row["source_local"] is True
    assert row["tunnel_parents"] == []
    assert row["event_dataset"] == "conn" and row["ingest_id"] == 1
    assert row["log_line"] == 9 and row["uid"] == "Cabc"


@pytest.mark.parametrize(
    ("field", "raw", "column", "expected"),
    [
        ("duration", "-", "event_duration", None),
        ("orig_bytes", "-", "source_bytes", None),
        ("local_orig", "F", "source_local", False),
        ("local_orig", "-", "source_local", None),
        ("tunnel_parents", "-", "tunnel_parents", None),
        ("tunnel_parents", "CUid1,CUid2", "tunnel_parents", ["CUid1", "CUid2"]),
        ("uid", "(empty)", "uid", ""),
        ("uid", "a\\x09b", "uid", "a\tb"),
        ("uid", "caf\\xc3\\xa9", "uid", "café"),
        ("uid", "\\x2d", "uid", "-"),
    ],
)
def test_unset_empty_sets_and_escapes(field: str, raw: str, column: str, expected: object) -> None:
    row = list(ROW)
    row[CONN_FIELDS.index(field)] = raw
    assert _one(zeek_tsv("conn", CONN_FIELDS, CONN_TYPES, [row]))[column] == expected


def test_any_field_order_and_extra_columns() -> None:
    order = list(reversed(range(len(CONN_FIELDS))))
    fields = [CONN_FIELDS[i] for i in order] + ["label", "_node_name"]
    types = [CONN_TYPES[i] for i in order] + ["string", "string"]
    row = [ROW[i] for i in order] + ["Malicious CC", "-"]
    out = _one(zeek_tsv("conn", fields, types, [row]))
    assert out["source_port"] == 51234 and out["source_bytes"] == 61
    assert _extra(out) == {"label": "Malicious CC"}  # unset extras are not stored


def test_other_separator_and_unset_markers() -> None:
    data = (
        b"#separator ,\n#set_separator,;\n#empty_field,EMPTY\n#unset_field,NONE\n#path,conn\n"
        b"#fields,ts,uid,id.orig_h,tunnel_parents\n#types,time,string,addr,set[string]\n"
        b"1.5,C1,10.0.0.1,a;b\n2.5,C2,NONE,EMPTY\n"
    )
    _, tables, rejects = parse_bytes(data)
    assert rejects.num_rows == 0
    rows = tables["conn"].to_pylist()
    # Markers other than '-' and '(empty)' are honoured for sets too.
    assert rows[0]["tunnel_parents"] == ["a", "b"]
    assert rows[1]["source_ip"] is None
    assert rows[1]["tunnel_parents"] == []


@pytest.mark.parametrize(
    ("mutate", "reason"),
    [
        (lambda r: r[:5], "has 5 fields but the #fields header declares 11"),
        (lambda r: [*r, "x"], "has 12 fields but the #fields header declares 11"),
        (lambda r: ["yesterday", *r[1:]], "ts = 'yesterday' is not a time"),
        (lambda r: [*r[:3], "http", *r[4:]], "id.orig_p = 'http' is not an integer"),
        (lambda r: [*r[:9], "maybe", *r[10:]], "local_orig = 'maybe' is not a boolean"),
    ],
)
def test_bad_lines_are_rejected_with_reason_line_and_raw(mutate, reason) -> None:  # type: ignore[no-untyped-def]
    bad = mutate(list(ROW))
    data = zeek_tsv("conn", CONN_FIELDS, CONN_TYPES, [ROW, bad, ROW])
    _, tables, rejects = parse_bytes(data)
    assert tables["conn"].num_rows == 2
    assert tables["conn"]["log_line"].to_pylist() == [9, 11]
    rej = rejects.to_pylist()
    assert len(rej) == 1
    assert reason in rej[0]["reason"]
    assert rej[0]["log_line"] == 10
    assert rej[0]["raw"] == "\t".join(bad)
    assert data[rej[0]["log_offset"] :].startswith("\t".join(bad).encode())


def test_blank_lines_are_skipped_and_numbering_stays_exact() -> None:
    data = zeek_tsv("conn", CONN_FIELDS, CONN_TYPES, [ROW, ROW]).replace(b"\n#close", b"\n\n#close")
    data = data.replace(b"\t(empty)\n1517", b"\t(empty)\n\n1517")
    _, tables, rejects = parse_bytes(data)
    assert rejects.num_rows == 0
    assert tables["conn"]["log_line"].to_pylist() == [9, 11]


def test_rows_without_header_are_rejected_not_guessed() -> None:
    data = ("\t".join(ROW) + "\n").encode() * 3
    fmt, tables, rejects = parse_bytes(data)
    assert fmt == "zeek_tsv" and not tables
    assert rejects.num_rows == 3 and rejects["reason"][0].as_py() == NO_HEADER


def test_second_header_block_switches_log_type_mid_file() -> None:
    dns = zeek_tsv(
        "dns",
        ["ts", "uid", "query", "qtype"],
        ["time", "string", "string", "count"],
        [["1.0", "C9", "example.org", "1"]],
    )
    data = zeek_tsv("conn", CONN_FIELDS, CONN_TYPES, [ROW]) + dns
    _, tables, rejects = parse_bytes(data)
    assert rejects.num_rows == 0
    assert tables["conn"].num_rows == 1 and tables["dns"].num_rows == 1
    assert tables["dns"]["dns_question_name"][0].as_py() == "example.org"
    assert tables["dns"]["log_line"][0].as_py() == 19


def test_chunk_boundaries_do_not_change_the_result() -> None:
    rows = [[f"{1517336042 + i}.5", f"C{i}", *ROW[2:]] for i in range(500)]
    data = zeek_tsv("conn", CONN_FIELDS, CONN_TYPES, rows)
    _, whole, _ = parse_bytes(data)
    _, chunked, _ = parse_bytes(data, chunk_bytes=1000)
    assert chunked["conn"].to_pylist() == whole["conn"].to_pylist()


def test_unknown_log_path_goes_to_other_event_with_all_fields() -> None:
    data = zeek_tsv(
        "weird",
        ["ts", "uid", "id.orig_h", "name", "notice"],
        ["time", "string", "addr", "string", "bool"],
        [["1.0", "C1", "10.0.0.1", "bad_TCP_checksum", "F"]],
    )
    row = _one(data, "other_event")
    assert row["event_dataset"] == "weird" and row["source_ip"] == "10.0.0.1"
    assert _extra(row) == {"name": "bad_TCP_checksum", "notice": "F"}


def test_gzip_is_recognised_by_content(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from signalfire.sources.reader import compression_of

    path = tmp_path / "conn.log"  # no .gz suffix on purpose
    path.write_bytes(gzip.compress(zeek_tsv("conn", CONN_FIELDS, CONN_TYPES, [ROW])))
    assert compression_of(path) == "gzip"
