"""Zeek JSON in its variants, and the same records as TSV and JSON giving identical rows."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pytest

from tests.sources.helpers import parse_bytes
from tests.sources.zeek_samples import zeek_json, zeek_tsv

PROVENANCE = ("event_dataset", "log_line", "ingest_id")

DOTTED = {
    "ts": 1517336042.090842,
    "uid": "C1",
    "id.orig_h": "10.0.0.1",
    "id.orig_p": 1234,
    "id.resp_h": "10.0.0.2",
    "id.resp_p": 502,
    "func": "WRITE_SINGLE_REGISTER",
    "exception": None,
}


def _extra(row: dict[str, object]) -> dict[str, object]:
    """The row's `extra` JSON as a dict ({} when NULL)."""
    return json.loads(row["extra"]) if row["extra"] is not None else {}  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "record",
    [
        DOTTED,
        {
            "ts": 1517336042.090842,
            "uid": "C1",
            "id_orig_h": "10.0.0.1",
            "id_orig_p": 1234,
            "id_resp_h": "10.0.0.2",
            "id_resp_p": 502,
            "func": "WRITE_SINGLE_REGISTER",
        },
        {
            "ts": "2018-01-30T18:14:02.090842Z",
            "uid": "C1",
            "id": {"orig_h": "10.0.0.1", "orig_p": 1234, "resp_h": "10.0.0.2", "resp_p": 502},
            "func": "WRITE_SINGLE_REGISTER",
        },
    ],
    ids=["dotted", "underscore-kafka", "nested-iso8601"],
)
def test_key_variants_and_timestamps(record: dict[str, object]) -> None:
    fmt, tables, rejects = parse_bytes(zeek_json([record]))
    assert fmt == "zeek_json" and rejects.num_rows == 0
    row = tables["modbus"].to_pylist()[0]
    assert row["timestamp"] == datetime(2018, 1, 30, 18, 14, 2, 90842)
    assert (row["source_ip"], row["source_port"]) == ("10.0.0.1", 1234)
    assert (row["destination_ip"], row["destination_port"]) == ("10.0.0.2", 502)
    assert row["modbus_function"] == "WRITE_SINGLE_REGISTER"
    assert row["event_dataset"] == "modbus"
    assert row["extra"] is None


def test_path_field_wins_and_unknown_keys_are_kept() -> None:
    record = {
        "_path": "conn",
        "ts": 1.0,
        "uid": "C1",
        "id.orig_h": "10.0.0.1",
        "orig_bytes": 5,
        "label": "benign",
        "_write_ts": "2020-01-01T00:00:00Z",
    }
    _, tables, _ = parse_bytes(zeek_json([record]))
    row = tables["conn"].to_pylist()[0]
    assert row["source_bytes"] == 5
    assert _extra(row) == {"label": "benign", "_write_ts": "2020-01-01T00:00:00Z"}


def test_mixed_logs_in_one_file_and_bad_lines() -> None:
    data = (
        zeek_json(
            [
                {
                    "ts": 1.0,
                    "uid": "C1",
                    "query": "example.org",
                    "qtype": 1,
                    "answers": ["1.2.3.4"],
                    "TTLs": [60.0],
                },
                {"ts": 2.0, "uid": "C2", "conn_state": "SF", "history": "ShADadFf"},
            ]
        )
        + b'{"ts": 3.0, "uid": "C3", "conn_st\n[1, 2]\n{"ts": "never", "conn_state": "S0"}\n'
    )
    _, tables, rejects = parse_bytes(data)
    dns = tables["dns"].to_pylist()[0]
    assert dns["dns_answers"] == ["1.2.3.4"] and dns["dns_ttls"] == [60.0]
    assert tables["conn"].num_rows == 1
    reasons = {r["log_line"]: r["reason"] for r in rejects.to_pylist()}
    assert set(reasons) == {3, 4, 5}
    assert "not a valid JSON object" in reasons[3] and "not a valid JSON object" in reasons[4]
    assert "ts = 'never' is not a time" in reasons[5]


def _comparable(rows: list[dict[str, object]]) -> list[dict[str, object]]:
    return [{k: v for k, v in r.items() if k not in PROVENANCE} for r in rows]


def test_generated_tsv_and_json_give_identical_rows() -> None:
    fields = [
        "ts",
        "uid",
        "id.orig_h",
        "id.orig_p",
        "id.resp_h",
        "id.resp_p",
        "proto",
        "trans_id",
        "rtt",
        "query",
        "qtype",
        "AA",
        "answers",
        "TTLs",
        "rejected",
        "label",
    ]
    types = [
        "time",
        "string",
        "addr",
        "port",
        "addr",
        "port",
        "enum",
        "count",
        "interval",
        "string",
        "count",
        "bool",
        "vector[string]",
        "vector[interval]",
        "bool",
        "string",
    ]
    tsv_rows = [
        [
            "1517336042.279652",
            "CVvre",
            "192.168.88.2",
            "55638",
            "165.227.88.15",
            "53",
            "udp",
            "42937",
            "0.069982",
            "6dde.r-1x.com",
            "16",
            "F",
            "TXT 18 302f,TXT 9 a",
            "60.000000,30.5",
            "F",
            "x",
        ],
        [
            "1517336043.000001",
            "C2",
            "192.168.88.2",
            "1",
            "165.227.88.15",
            "53",
            "udp",
            "1",
            "-",
            "-",
            "-",
            "T",
            "(empty)",
            "(empty)",
            "T",
            "-",
        ],
    ]
    json_rows = [
        {
            "ts": 1517336042.279652,
            "uid": "CVvre",
            "id.orig_h": "192.168.88.2",
            "id.orig_p": 55638,
            "id.resp_h": "165.227.88.15",
            "id.resp_p": 53,
            "proto": "udp",
            "trans_id": 42937,
            "rtt": 0.069982,
            "query": "6dde.r-1x.com",
            "qtype": 16,
            "AA": False,
            "answers": ["TXT 18 302f", "TXT 9 a"],
            "TTLs": [60.0, 30.5],
            "rejected": False,
            "label": "x",
        },
        {
            "ts": 1517336043.000001,
            "uid": "C2",
            "id.orig_h": "192.168.88.2",
            "id.orig_p": 1,
            "id.resp_h": "165.227.88.15",
            "id.resp_p": 53,
            "proto": "udp",
            "trans_id": 1,
            "AA": True,
            "answers": [],
            "TTLs": [],
            "rejected": True,
        },
    ]
    _, from_tsv, _ = parse_bytes(zeek_tsv("dns", fields, types, tsv_rows))
    _, from_json, _ = parse_bytes(zeek_json([{"_path": "dns", **r} for r in json_rows]))
    assert _comparable(from_tsv["dns"].to_pylist()) == _comparable(from_json["dns"].to_pylist())


def test_real_tsv_and_json_forms_of_the_same_connections(shared_data: Path) -> None:
    rita = shared_data / "zeek" / "rita"
    _, tsv, tsv_rejects = parse_bytes((rita / "open_conns/open/open_conn.log").read_bytes())
    _, jsn, json_rejects = parse_bytes((rita / "json_with_all_fields/open_conn.log").read_bytes())
    assert tsv_rejects.num_rows == 0 and json_rejects.num_rows == 0
    a, b = _comparable(tsv["conn"].to_pylist()), _comparable(jsn["conn"].to_pylist())
    assert len(a) == len(b) == 59
    for left, right in zip(a, b, strict=True):
        # This JSON export omits tunnel_parents where the TSV says "(empty)": no set either way.
        if left["tunnel_parents"] == [] and right["tunnel_parents"] is None:
            right["tunnel_parents"] = []
        assert left == right
