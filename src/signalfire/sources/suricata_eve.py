"""Suricata EVE JSON: ``flow``, ``dns``, ``http``, ``tls``, ``alert``, ``anomaly``, ``ssh`` and
``fileinfo`` events into the normalized tables, with ``flow_id`` kept so that every event of one
flow can be joined. Other event types go to ``other_event``. Each event's own object (``flow``,
``alert``, ...) and every top-level key not mapped to a column are kept whole in ``extra``.
"""

from __future__ import annotations

from signalfire.model.schema import TABLES_BY_NAME
from signalfire.sources.json_lines import JsonLinesReader, extra_map
from signalfire.sources.normalize import Typed, json_value

FORMAT = "suricata_eve"

EVENT_TABLE = {
    "flow": "conn",
    "netflow": "conn",
    "dns": "dns",
    "http": "http",
    "tls": "tls",
    "alert": "ids_alert",
    "anomaly": "ids_alert",
    "ssh": "ssh",
    "fileinfo": "files",
}

_COMMON = {
    "timestamp": "$.timestamp",
    "flow_id": "$.flow_id",
    "source_ip": "$.src_ip",
    "source_port": "$.src_port",
    "destination_ip": "$.dest_ip",
    "destination_port": "$.dest_port",
}
_MAPPED_TOP = ["timestamp", "flow_id", "src_ip", "src_port", "dest_ip", "dest_port", "event_type"]

#: table -> column -> JSONPath (first present wins when a list)
_PATHS: dict[str, dict[str, str | list[str]]] = {
    "conn": {
        "network_protocol": "$.app_proto",
        "connection_state": "$.flow.state",
        "source_packets": ["$.flow.pkts_toserver", "$.netflow.pkts"],
        "source_ip_bytes": ["$.flow.bytes_toserver", "$.netflow.bytes"],
        "destination_packets": "$.flow.pkts_toclient",
        "destination_ip_bytes": "$.flow.bytes_toclient",
        "network_community_id": "$.community_id",
    },
    "dns": {
        "dns_id": "$.dns.id",
        "dns_question_name": ["$.dns.rrname", "$.dns.queries[0].rrname"],
        "dns_question_type_name": ["$.dns.rrtype", "$.dns.queries[0].rrtype"],
        "dns_response_code_name": "$.dns.rcode",
        "dns_message_type": "$.dns.type",
        "dns_authoritative": "$.dns.aa",
        "dns_truncated": "$.dns.tc",
        "dns_recursion_desired": "$.dns.rd",
        "dns_recursion_available": "$.dns.ra",
    },
    "http": {
        "url_domain": "$.http.hostname",
        "url_original": "$.http.url",
        "user_agent_original": "$.http.http_user_agent",
        "http_request_method": "$.http.http_method",
        "http_version": "$.http.protocol",
        "http_response_status_code": "$.http.status",
        "http_response_body_bytes": "$.http.length",
        "http_request_referrer": "$.http.http_refer",
    },
    "tls": {
        "tls_version": "$.tls.version",
        "tls_server_name": "$.tls.sni",
        "tls_server_subject": "$.tls.subject",
        "tls_server_issuer": "$.tls.issuerdn",
        "tls_server_serial": "$.tls.serial",
        "tls_server_fingerprint": "$.tls.fingerprint",
        "tls_server_not_before": "$.tls.notbefore",
        "tls_server_not_after": "$.tls.notafter",
        "tls_ja3": "$.tls.ja3.hash",
        "tls_ja3s": "$.tls.ja3s.hash",
        "tls_ja4": "$.tls.ja4",
    },
    "ids_alert": {
        "network_protocol": "$.app_proto",
        "network_community_id": "$.community_id",
        "alert_action": "$.alert.action",
        "alert_gid": "$.alert.gid",
        "alert_signature_id": "$.alert.signature_id",
        "alert_rev": "$.alert.rev",
        "alert_signature": "$.alert.signature",
        "alert_category": "$.alert.category",
        "alert_severity": "$.alert.severity",
        "alert_metadata": "$.alert.metadata",
        "anomaly_type": "$.anomaly.type",
        "anomaly_event": "$.anomaly.event",
        "anomaly_layer": "$.anomaly.layer",
    },
    "ssh": {
        "ssh_hassh": "$.ssh.client.hassh.hash",
        "ssh_hassh_server": "$.ssh.server.hassh.hash",
    },
    "files": {
        "file_id": "$.fileinfo.file_id",
        "file_name": "$.fileinfo.filename",
        "file_hash_md5": "$.fileinfo.md5",
        "file_hash_sha1": "$.fileinfo.sha1",
        "file_hash_sha256": "$.fileinfo.sha256",
        "file_seen_bytes": "$.fileinfo.size",
    },
    "other_event": {},
}


def looks_like(first: dict[str, object]) -> bool:
    """True for a parsed first line that looks like a Suricata EVE record."""
    return "event_type" in first and "timestamp" in first


class SuricataEveReader(JsonLinesReader):
    """Parses chunks of a Suricata EVE JSON log."""

    format = FORMAT

    def dataset_sql(self, obj: str) -> str:
        return f"COALESCE({obj} ->> '$.event_type', 'unknown')"

    def table_of(self, dataset: str) -> str:
        return EVENT_TABLE.get(dataset, "other_event")

    def columns_for(self, table: str, obj: str) -> tuple[dict[str, Typed], str]:
        schema = TABLES_BY_NAME[table]
        values: dict[str, Typed] = {}
        for column, path in {**_COMMON, **_PATHS[table]}.items():
            paths = [path] if isinstance(path, str) else path
            values[column] = json_value(obj, paths, schema.type_of(column), paths[0][2:])
        if "network_transport" in schema.column_names:
            values["network_transport"] = Typed(f"lower({obj} ->> '$.proto')", None, "proto")
        if table == "conn":
            start, end = (
                f"TRY_CAST({obj} ->> '$.flow.{k}' AS TIMESTAMPTZ)" for k in ("start", "end")
            )
            values["event_duration"] = Typed(
                f"epoch({end}) - epoch({start})", None, "flow.start/flow.end"
            )
        if table == "ssh":
            for side in ("client", "server"):
                values[f"ssh_{side}"] = Typed(
                    f"'SSH-' || ({obj} ->> '$.ssh.{side}.proto_version') || '-' || "
                    f"({obj} ->> '$.ssh.{side}.software_version')",
                    None,
                    f"ssh.{side}",
                )
        known = list(_MAPPED_TOP)
        if table in ("conn", "ids_alert"):
            known += ["proto", "app_proto", "community_id"]
        elif "network_transport" in schema.column_names:
            known.append("proto")
        return values, extra_map(obj, known)
