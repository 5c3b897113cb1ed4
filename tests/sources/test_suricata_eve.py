"""Suricata EVE JSON events into the normalized tables, with flow_id kept."""

from __future__ import annotations

import json
from datetime import datetime

from tests.sources.helpers import parse_bytes

BASE = {
    "timestamp": "2024-05-01T10:00:00.123456+0000",
    "flow_id": 1234567890123,
    "in_iface": "eth0",
    "src_ip": "10.1.1.5",
    "src_port": 51000,
    "dest_ip": "203.0.113.9",
    "dest_port": 443,
    "proto": "TCP",
}

EVENTS = [
    {
        **BASE,
        "event_type": "flow",
        "app_proto": "tls",
        "flow": {
            "pkts_toserver": 10,
            "pkts_toclient": 8,
            "bytes_toserver": 1500,
            "bytes_toclient": 9000,
            "start": "2024-05-01T10:00:00.000000+0000",
            "end": "2024-05-01T10:00:30.500000+0000",
            "state": "closed",
            "reason": "timeout",
        },
    },
    {
        **BASE,
        "event_type": "dns",
        "proto": "UDP",
        "dest_port": 53,
        "dns": {"type": "query", "id": 4242, "rrname": "c2.example.net", "rrtype": "TXT"},
    },
    {
        **BASE,
        "event_type": "http",
        "dest_port": 80,
        "http": {
            "hostname": "updates.example.com",
            "url": "/a.exe",
            "http_user_agent": "curl/8",
            "http_method": "GET",
            "protocol": "HTTP/1.1",
            "status": 200,
            "length": 512,
        },
    },
    {
        **BASE,
        "event_type": "tls",
        "tls": {
            "version": "TLS 1.3",
            "sni": "c2.example.net",
            "subject": "CN=c2",
            "issuerdn": "CN=ca",
            "serial": "01:02",
            "fingerprint": "aa:bb",
            "notbefore": "2024-01-01T00:00:00",
            "notafter": "2025-01-01T00:00:00",
            "ja3": {"hash": "e7d7", "string": "771,..."},
        },
    },
    {
        **BASE,
        "event_type": "alert",
        "app_proto": "tls",
        "alert": {
            "action": "allowed",
            "gid": 1,
            "signature_id": 2027865,
            "rev": 3,
            "signature": "ET MALWARE Cobalt Strike",
            "category": "A Network Trojan",
            "severity": 1,
            "metadata": {"attack_target": ["Client_Endpoint"]},
        },
    },
    {
        **BASE,
        "event_type": "anomaly",
        "anomaly": {"type": "decode", "event": "ipv4.trunc_pkt", "layer": "proto_detect"},
    },
    {**BASE, "event_type": "stats", "stats": {"uptime": 60}},
]


def _extra(row: dict[str, object]) -> dict[str, object]:
    """The row's `extra` JSON as a dict ({} when NULL)."""
    return json.loads(row["extra"]) if row["extra"] is not None else {}  # type: ignore[arg-type]


def test_each_event_type_lands_in_its_table() -> None:
    data = ("\n".join(json.dumps(e) for e in EVENTS) + "\n").encode()
    fmt, tables, rejects = parse_bytes(data)
    assert fmt == "suricata_eve" and rejects.num_rows == 0
    flow = tables["conn"].to_pylist()[0]
    assert flow["flow_id"] == 1234567890123
    assert flow["timestamp"] == datetime(2024, 5, 1, 10, 0, 0, 123456)
    assert flow["network_transport"] == "tcp" and flow["network_protocol"] == "tls"
    assert flow["source_ip_bytes"] == 1500 and flow["destination_packets"] == 8
    assert flow["event_duration"] == 30.5 and flow["connection_state"] == "closed"
    assert json.loads(_extra(flow)["flow"])["reason"] == "timeout"
    assert _extra(flow)["in_iface"] == "eth0"
    dns = tables["dns"].to_pylist()[0]
    assert (dns["dns_question_name"], dns["dns_question_type_name"]) == ("c2.example.net", "TXT")
    assert dns["network_transport"] == "udp" and dns["dns_message_type"] == "query"
    http = tables["http"].to_pylist()[0]
    assert http["url_domain"] == "updates.example.com" and http["http_response_status_code"] == 200
    tls = tables["tls"].to_pylist()[0]
    assert tls["tls_server_name"] == "c2.example.net" and tls["tls_ja3"] == "e7d7"
    assert tls["tls_server_not_after"] == datetime(2025, 1, 1)
    alerts = {r["event_dataset"]: r for r in tables["ids_alert"].to_pylist()}
    assert alerts["alert"]["alert_signature_id"] == 2027865
    assert alerts["alert"]["alert_severity"] == 1 and alerts["alert"]["flow_id"] == 1234567890123
    assert alerts["anomaly"]["anomaly_event"] == "ipv4.trunc_pkt"
    other = tables["other_event"].to_pylist()[0]
    assert other["event_dataset"] == "stats" and "stats" in _extra(other)
