"""What several network detections read the same way from conn: which destinations are not a
party (multicast, broadcast), how many bytes really went out, and which records are one
connection."""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

#: Multicast (224.0.0.0/4, ff00::/8) and broadcast are announcements, not conversations.
_MULTICAST_V4 = tuple(f"{octet}." for octet in range(224, 240))


def is_announcement(ip: ir.StringValue) -> ir.BooleanValue:
    """A multicast or broadcast destination (null addresses are not)."""
    multicast = ip.substr(0, 4).isin(list(_MULTICAST_V4)) | ip.lower().startswith("ff")
    return (multicast | (ip == "255.255.255.255")).fill_null(False)


def wire_bytes(conn: ir.Table) -> ir.IntegerValue:
    """Bytes the originator sent as seen on the wire: ``min(payload, IP bytes)`` when both are
    known. Zeek derives the payload from sequence numbers, which a capture gap inflates (RITA's
    ``proxy_rolling`` has payloads of 14 kB with 112 IP bytes)."""
    payload = conn.source_bytes.fill_null(0)
    return ibis.least(payload, conn.source_ip_bytes.fill_null(payload)).cast("int64")


def connection_key(conn: ir.Table) -> ir.StringValue:
    """What makes records one connection: Zeek's uid (its open_conn / conn_long records and
    the final record share it, and the same conn.log ingested twice under two names repeats
    it), else Suricata's flow_id, else the record's own file and line."""
    return conn.uid.fill_null(
        "f"
        + conn.flow_id.cast("string").fill_null(
            "r"
            + conn.ingest_id.cast("string").fill_null("")
            + ":"
            + conn.log_line.cast("string").fill_null("")
        )
    )
