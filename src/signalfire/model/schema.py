"""Schemas of the normalized event tables, the rejects table and the ingest log.

Column names follow the Elastic Common Schema, flattened with underscores. Every event table
starts with ``timestamp`` (UTC, microseconds) and ends with the provenance columns, so an alert can
always be traced back to the raw line: ``event_dataset`` (the Zeek log path or Suricata event
type the row came from), ``extra`` (fields the parser does not know: a JSON object of text
values, never dropped), ``log_line`` and ``ingest_id`` (whose ``ingest_log`` entry names the
file and its format: repeating them on every row would cost a quarter of the ingest time).

``SCHEMA_VERSION`` is stored in the store; ``signalfire.store.migrations`` upgrades older stores.
"""

from __future__ import annotations

from dataclasses import dataclass

SCHEMA_VERSION = 3

STRINGS = "VARCHAR[]"
TEXT = "VARCHAR"


@dataclass(frozen=True)
class Column:
    """One column of a table: name, DuckDB type and what it holds."""

    name: str
    type: str
    doc: str = ""


@dataclass(frozen=True)
class TableSchema:
    """A table of the store."""

    name: str
    doc: str
    columns: tuple[Column, ...]
    primary_key: str | None = None

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    def type_of(self, column: str) -> str:
        for c in self.columns:
            if c.name == column:
                return c.type
        raise KeyError(column)


def _c(name: str, type_: str = TEXT, doc: str = "") -> Column:
    return Column(name, type_, doc)


_TIME = (_c("timestamp", "TIMESTAMP", "When the event started (UTC)."),)
_IDS = (
    _c("uid", TEXT, "Zeek connection uid."),
    _c("flow_id", "BIGINT", "Suricata flow_id."),
)
_ENDPOINTS = (
    _c("source_ip", TEXT, "Originator address (Zeek id.orig_h, Suricata src_ip)."),
    _c("source_port", "INTEGER"),
    _c("destination_ip", TEXT, "Responder address (Zeek id.resp_h, Suricata dest_ip)."),
    _c("destination_port", "INTEGER"),
)
PROVENANCE = (
    _c("event_dataset", TEXT, "Zeek log path (conn, open_conn, ...) or Suricata event_type."),
    _c(
        "extra",
        "JSON",
        "Fields the parser does not know: a JSON object of their text values; NULL if none.",
    ),
    _c("log_line", "BIGINT", "1-based line number in the (decompressed) file."),
    _c("ingest_id", "BIGINT", "The ingest_log entry that stored the row: file, format, time."),
)


def _event_table(name: str, doc: str, *columns: Column) -> TableSchema:
    return TableSchema(name, doc, (*_TIME, *columns, *PROVENANCE))


CONN = _event_table(
    "conn",
    "Network connections and flows (Zeek conn.log / open_conn.log, Suricata flow).",
    *_IDS,
    *_ENDPOINTS,
    _c("network_transport", TEXT, "tcp, udp, icmp."),
    _c("network_protocol", TEXT, "Application protocol(s) detected (Zeek service)."),
    _c("event_duration", "DOUBLE", "Seconds."),
    _c("source_bytes", "BIGINT", "Payload bytes sent by the originator."),
    _c("destination_bytes", "BIGINT", "Payload bytes sent by the responder."),
    _c("connection_state", TEXT, "Zeek conn_state (S0, SF, REJ, ...) or Suricata flow state."),
    _c("source_local", "BOOLEAN"),
    _c("destination_local", "BOOLEAN"),
    _c("missed_bytes", "BIGINT"),
    _c("connection_history", TEXT, "Zeek history string."),
    _c("source_packets", "BIGINT"),
    _c("source_ip_bytes", "BIGINT"),
    _c("destination_packets", "BIGINT"),
    _c("destination_ip_bytes", "BIGINT"),
    _c("tunnel_parents", STRINGS),
    _c("network_community_id", TEXT),
    _c("source_mac", TEXT),
    _c("destination_mac", TEXT),
    _c("network_vlan_id", "INTEGER"),
    _c("network_inner_vlan_id", "INTEGER"),
)

DNS = _event_table(
    "dns",
    "DNS queries and answers (Zeek dns.log, Suricata dns).",
    *_IDS,
    *_ENDPOINTS,
    _c("network_transport"),
    _c("dns_id", "INTEGER", "Transaction id."),
    _c("dns_rtt", "DOUBLE", "Seconds between query and answer."),
    _c("dns_question_name"),
    _c("dns_question_class", "INTEGER"),
    _c("dns_question_class_name"),
    _c("dns_question_type", "INTEGER"),
    _c("dns_question_type_name"),
    _c("dns_response_code", "INTEGER"),
    _c("dns_response_code_name"),
    _c("dns_authoritative", "BOOLEAN"),
    _c("dns_truncated", "BOOLEAN"),
    _c("dns_recursion_desired", "BOOLEAN"),
    _c("dns_recursion_available", "BOOLEAN"),
    _c("dns_z", "INTEGER"),
    _c("dns_answers", STRINGS),
    _c("dns_ttls", "DOUBLE[]"),
    _c("dns_rejected", "BOOLEAN"),
    _c("dns_message_type", TEXT, "Suricata: query or answer."),
)

HTTP = _event_table(
    "http",
    "HTTP requests (Zeek http.log, Suricata http).",
    *_IDS,
    *_ENDPOINTS,
    _c("http_trans_depth", "INTEGER"),
    _c("http_request_method"),
    _c("url_domain", TEXT, "Host header."),
    _c("url_original", TEXT, "Request URI."),
    _c("http_request_referrer"),
    _c("http_version"),
    _c("user_agent_original"),
    _c("http_request_origin"),
    _c("http_request_body_bytes", "BIGINT"),
    _c("http_response_body_bytes", "BIGINT"),
    _c("http_response_status_code", "INTEGER"),
    _c("http_response_status_message"),
    _c("http_info_code", "INTEGER"),
    _c("http_info_message"),
    _c("http_tags", STRINGS),
    _c("url_username"),
    _c("url_password"),
    _c("http_proxied", STRINGS),
    _c("http_request_file_ids", STRINGS),
    _c("http_request_file_names", STRINGS),
    _c("http_request_mime_types", STRINGS),
    _c("http_response_file_ids", STRINGS),
    _c("http_response_file_names", STRINGS),
    _c("http_response_mime_types", STRINGS),
)

TLS = _event_table(
    "tls",
    "TLS sessions with their server certificate (Zeek ssl.log, Suricata tls).",
    *_IDS,
    *_ENDPOINTS,
    _c("tls_version"),
    _c("tls_cipher"),
    _c("tls_curve"),
    _c("tls_server_name", TEXT, "SNI."),
    _c("tls_resumed", "BOOLEAN"),
    _c("tls_last_alert"),
    _c("tls_next_protocol"),
    _c("tls_established", "BOOLEAN"),
    _c("tls_history"),
    _c("tls_server_cert_fingerprints", STRINGS, "Zeek cert_chain_fps."),
    _c("tls_client_cert_fingerprints", STRINGS),
    _c("tls_server_cert_file_ids", STRINGS, "Zeek cert_chain_fuids (older Zeek)."),
    _c("tls_client_cert_file_ids", STRINGS),
    _c("tls_server_subject"),
    _c("tls_server_issuer"),
    _c("tls_client_subject"),
    _c("tls_client_issuer"),
    _c("tls_server_serial"),
    _c("tls_server_fingerprint", TEXT, "Suricata: SHA-1 of the server certificate."),
    _c("tls_server_not_before", "TIMESTAMP"),
    _c("tls_server_not_after", "TIMESTAMP"),
    _c("tls_sni_matches_cert", "BOOLEAN"),
    _c("tls_validation_status"),
    _c("tls_ja3"),
    _c("tls_ja3s"),
    _c("tls_ja4"),
)

X509 = _event_table(
    "x509",
    "X.509 certificates seen in TLS (Zeek x509.log); joined to tls by fingerprint or file id.",
    _c("x509_id", TEXT, "Zeek fingerprint (newer) or file id (older)."),
    _c("x509_version", "INTEGER"),
    _c("x509_serial_number"),
    _c("x509_subject"),
    _c("x509_issuer"),
    _c("x509_not_before", "TIMESTAMP"),
    _c("x509_not_after", "TIMESTAMP"),
    _c("x509_public_key_algorithm"),
    _c("x509_signature_algorithm"),
    _c("x509_public_key_type"),
    _c("x509_public_key_size", "INTEGER"),
    _c("x509_public_key_exponent"),
    _c("x509_public_key_curve"),
    _c("x509_san_dns", STRINGS),
    _c("x509_san_uri", STRINGS),
    _c("x509_san_email", STRINGS),
    _c("x509_san_ip", STRINGS),
    _c("x509_ca", "BOOLEAN"),
    _c("x509_path_length", "INTEGER"),
    _c("x509_host_cert", "BOOLEAN"),
    _c("x509_client_cert", "BOOLEAN"),
)

SSH = _event_table(
    "ssh",
    "SSH sessions (Zeek ssh.log, Suricata ssh).",
    *_IDS,
    *_ENDPOINTS,
    _c("ssh_version", "INTEGER"),
    _c("ssh_auth_success", "BOOLEAN"),
    _c("ssh_auth_attempts", "INTEGER"),
    _c("ssh_direction"),
    _c("ssh_client", TEXT, "Client banner."),
    _c("ssh_server", TEXT, "Server banner."),
    _c("ssh_cipher_alg"),
    _c("ssh_mac_alg"),
    _c("ssh_compression_alg"),
    _c("ssh_kex_alg"),
    _c("ssh_host_key_alg"),
    _c("ssh_host_key"),
    _c("ssh_hassh"),
    _c("ssh_hassh_server"),
)

FILES = _event_table(
    "files",
    "Files seen in traffic (Zeek files.log, Suricata fileinfo).",
    *_IDS,
    *_ENDPOINTS,
    _c("file_id", TEXT, "Zeek fuid."),
    _c("file_tx_hosts", STRINGS),
    _c("file_rx_hosts", STRINGS),
    _c("connection_uids", STRINGS),
    _c("file_source"),
    _c("file_depth", "INTEGER"),
    _c("file_analyzers", STRINGS),
    _c("file_mime_type"),
    _c("file_name"),
    _c("event_duration", "DOUBLE"),
    _c("source_local", "BOOLEAN"),
    _c("file_is_orig", "BOOLEAN"),
    _c("file_seen_bytes", "BIGINT"),
    _c("file_total_bytes", "BIGINT"),
    _c("file_missing_bytes", "BIGINT"),
    _c("file_overflow_bytes", "BIGINT"),
    _c("file_timedout", "BOOLEAN"),
    _c("file_parent_id"),
    _c("file_hash_md5"),
    _c("file_hash_sha1"),
    _c("file_hash_sha256"),
    _c("file_extracted"),
    _c("file_extracted_cutoff", "BOOLEAN"),
    _c("file_extracted_size", "BIGINT"),
)

SOFTWARE = _event_table(
    "software",
    "Software and versions seen on hosts (Zeek software.log).",
    _c("host_ip"),
    _c("host_port", "INTEGER"),
    _c("software_type"),
    _c("software_name"),
    _c("software_version_major", "INTEGER"),
    _c("software_version_minor", "INTEGER"),
    _c("software_version_minor2", "INTEGER"),
    _c("software_version_minor3", "INTEGER"),
    _c("software_version_addl"),
    _c("software_version_unparsed"),
)

NOTICE = _event_table(
    "notice",
    "Zeek notices.",
    *_IDS,
    *_ENDPOINTS,
    _c("network_transport"),
    _c("file_id"),
    _c("file_mime_type"),
    _c("file_description"),
    _c("notice_note"),
    _c("notice_message"),
    _c("notice_sub"),
    _c("notice_source_ip"),
    _c("notice_destination_ip"),
    _c("notice_port", "INTEGER"),
    _c("notice_count", "BIGINT"),
    _c("notice_peer"),
    _c("notice_actions", STRINGS),
    _c("notice_email_dest", STRINGS),
    _c("notice_suppress_for", "DOUBLE"),
)

IDS_ALERT = _event_table(
    "ids_alert",
    "IDS alerts and anomalies (Suricata alert and anomaly events).",
    *_IDS,
    *_ENDPOINTS,
    _c("network_transport"),
    _c("network_protocol", TEXT, "Suricata app_proto."),
    _c("network_community_id"),
    _c("alert_action"),
    _c("alert_gid", "INTEGER"),
    _c("alert_signature_id", "BIGINT"),
    _c("alert_rev", "INTEGER"),
    _c("alert_signature"),
    _c("alert_category"),
    _c("alert_severity", "INTEGER"),
    _c("alert_metadata", TEXT, "JSON text."),
    _c("anomaly_type"),
    _c("anomaly_event"),
    _c("anomaly_layer"),
)

DNP3 = _event_table(
    "dnp3",
    "DNP3 requests and replies (Zeek dnp3.log).",
    *_IDS,
    *_ENDPOINTS,
    _c("dnp3_function_request", TEXT, "fc_request, e.g. READ, WRITE, OPERATE."),
    _c("dnp3_function_reply", TEXT, "fc_reply, e.g. RESPONSE."),
    _c("dnp3_iin", "INTEGER", "Internal indication bits of the reply."),
)

MODBUS = _event_table(
    "modbus",
    "Modbus/TCP requests (Zeek modbus.log).",
    *_IDS,
    *_ENDPOINTS,
    _c("modbus_function", TEXT, "e.g. READ_HOLDING_REGISTERS, WRITE_SINGLE_COIL."),
    _c("modbus_exception"),
    _c("modbus_transaction_id", "INTEGER"),
    _c("modbus_unit_id", "INTEGER"),
    _c("modbus_pdu_type"),
)

OTHER_EVENT = _event_table(
    "other_event",
    "Records of every other log type (Zeek weird, dhcp, stats, ...; other Suricata events): "
    "the common fields as columns, everything else in `extra`.",
    *_IDS,
    *_ENDPOINTS,
)

EVENT_TABLES: tuple[TableSchema, ...] = (
    CONN,
    DNS,
    HTTP,
    TLS,
    X509,
    SSH,
    FILES,
    SOFTWARE,
    NOTICE,
    IDS_ALERT,
    DNP3,
    MODBUS,
    OTHER_EVENT,
)

REJECTS = TableSchema(
    "rejects",
    "Lines that could not be parsed, kept verbatim with the reason.",
    (
        _c("ingest_id", "BIGINT"),
        _c("log_file_path"),
        _c("log_line", "BIGINT", "1-based line number in the (decompressed) file."),
        _c("log_offset", "BIGINT", "Byte offset of the line in the (decompressed) file."),
        _c("log_format", TEXT, "The format the file was read as, or 'unknown'."),
        _c("reason", TEXT, "Why the line was rejected and what would fix it."),
        _c("raw", TEXT, "The line as read (invalid UTF-8 replaced)."),
    ),
)

INGEST_LOG = TableSchema(
    "ingest_log",
    "One entry per ingest of a file (or of the new tail of a growing file).",
    (
        _c("ingest_id", "BIGINT"),
        _c("log_file_path"),
        _c("log_format"),
        _c("compression", TEXT, "none, gzip or bz2."),
        _c("start_offset", "BIGINT", "First byte (decompressed) read by this ingest."),
        _c("end_offset", "BIGINT", "Byte after the last complete line consumed."),
        _c("end_line", "BIGINT", "Lines consumed from the start of the file."),
        _c(
            "content_fingerprint",
            TEXT,
            "xxh3-128 of the decompressed bytes [0, end_offset): the file's identity.",
        ),
        _c("head_fingerprint", TEXT, "xxh3-128 of the first 4 KiB: finds the same file again."),
        _c("rows", "MAP(VARCHAR, BIGINT)", "Rows stored per table."),
        _c("rows_total", "BIGINT"),
        _c("rejected", "BIGINT"),
        _c("held_back_bytes", "BIGINT", "A partial last line left for the next run."),
        _c("started_at", "TIMESTAMP"),
        _c("finished_at", "TIMESTAMP"),
        _c("signalfire_version"),
    ),
)

ALERTS = TableSchema(
    "alerts",
    "Alerts raised by the detections; one row per detection, entity and window (stable id).",
    (
        _c("alert_id", TEXT, "md5 of detection, entity and window: re-running updates in place."),
        _c("detection", TEXT, "Detection id, e.g. network.beaconing."),
        _c("title"),
        _c("severity", TEXT, "info, low, medium, high or critical."),
        _c("score", "DOUBLE", "In [0, 1]."),
        _c("first_seen", "TIMESTAMP"),
        _c("last_seen", "TIMESTAMP"),
        _c("window_start", "TIMESTAMP", "Start of the analysis window the alert belongs to."),
        _c("entity", TEXT, "What the alert is about, as the detection keys it."),
        _c("source_ip"),
        _c("destination_ip"),
        _c("destination_port", "INTEGER"),
        _c("destination_domain"),
        _c("attack", STRINGS, "ATT&CK technique ids."),
        _c("intrusion_set", TEXT, "Known intrusion set, when intelligence ties one."),
        _c("evidence", "JSON", "Sub-scores and the facts behind them."),
        _c("created_at", "TIMESTAMP", "When the alert was first raised."),
        _c("updated_at", "TIMESTAMP", "When a detection run last confirmed or changed it."),
    ),
    primary_key="alert_id",
)

SCHEMA_META = TableSchema(
    "schema_meta",
    "Key/value facts about the store itself (schema_version).",
    (_c("key"), _c("value")),
)

TAXII_COLLECTIONS = TableSchema(
    "taxii_collections",
    "Collections served by the TAXII 2.1 server (signalfire taxii collections create).",
    (
        _c("collection_id", TEXT, "The collection's UUID, as in its URL."),
        _c("api_root", TEXT, "Name of the API root the collection lives under (its URL segment)."),
        _c("title"),
        _c("description"),
        _c("media_types", STRINGS, "Media types of the objects it holds."),
        _c("created_at", "TIMESTAMP"),
    ),
    primary_key="collection_id",
)

TAXII_OBJECTS = TableSchema(
    "taxii_objects",
    "Every version of every STIX object in a TAXII collection, in the order it was added.",
    (
        _c("collection_id"),
        _c("object_id", TEXT, "STIX id, e.g. indicator--<uuid>."),
        _c("object_type"),
        _c("spec_version", TEXT, "STIX version of this representation (2.1 when absent)."),
        _c("version", "TIMESTAMP", "modified, else created, else date_added (TAXII 2.1)."),
        _c("version_from", TEXT, "modified, created or date_added: where version came from."),
        _c(
            "date_added",
            "TIMESTAMP",
            "When the server added this version; unique and strictly increasing, so that "
            "added_after paging never skips nor repeats.",
        ),
        _c("content_sha256", TEXT, "sha256 of object_json: identifies unversioned objects."),
        _c("object_json", "JSON", "The object as received (compact JSON)."),
    ),
)

TAXII_STATUS = TableSchema(
    "taxii_status",
    "Status resources of TAXII add-objects requests.",
    (
        _c("status_id"),
        _c("api_root"),
        _c("collection_id"),
        _c("principal", TEXT, "Who posted (token name)."),
        _c("status", TEXT, "complete or pending."),
        _c("request_timestamp", "TIMESTAMP"),
        _c("total_count", "BIGINT"),
        _c("success_count", "BIGINT"),
        _c("failure_count", "BIGINT"),
        _c("pending_count", "BIGINT"),
        _c("successes", "JSON", "List of status details (id, version, message)."),
        _c("failures", "JSON"),
        _c("pendings", "JSON"),
    ),
    primary_key="status_id",
)

TAXII_TOKENS = TableSchema(
    "taxii_tokens",
    "API tokens of the TAXII server; only the sha256 of each token is kept.",
    (
        _c("token_id", TEXT, "Short public id, used to list and revoke."),
        _c("name"),
        _c("token_sha256", TEXT, "sha256 (hex) of the secret token shown once at creation."),
        _c("created_at", "TIMESTAMP"),
        _c("expires_at", "TIMESTAMP", "NULL: never expires."),
        _c("revoked_at", "TIMESTAMP", "NULL: not revoked."),
    ),
    primary_key="token_id",
)

TAXII_PERMISSIONS = TableSchema(
    "taxii_permissions",
    "What each TAXII token may do on each collection ('*': every collection).",
    (
        _c("token_id"),
        _c("collection_id"),
        _c("can_read", "BOOLEAN"),
        _c("can_write", "BOOLEAN"),
    ),
)

TAXII_PULL_STATE = TableSchema(
    "taxii_pull_state",
    "How far `signalfire taxii pull` got in each remote collection, so the next pull asks only "
    "for objects added since.",
    (
        _c("url", TEXT, "The URL given to pull (discovery, API root or collection)."),
        _c("collection_id"),
        _c("added_after", TEXT, "X-TAXII-Date-Added-Last of the last page imported, verbatim."),
        _c("pulled_at", "TIMESTAMP"),
        _c("objects_total", "BIGINT", "Objects received from this collection over all pulls."),
    ),
)

TAXII_TABLES: tuple[TableSchema, ...] = (
    TAXII_COLLECTIONS,
    TAXII_OBJECTS,
    TAXII_STATUS,
    TAXII_TOKENS,
    TAXII_PERMISSIONS,
    TAXII_PULL_STATE,
)

_RANGES = (
    _c("range_start", "BIGINT", "IPv4 (networks and addresses): first address as an integer."),
    _c("range_end", "BIGINT", "IPv4: last address as an integer (= range_start for one address)."),
    _c(
        "range_start_hex",
        TEXT,
        "IPv4 and IPv6: first address as 32 lower-case hex digits (IPv4 mapped into "
        "::ffff:0:0/96), so text comparison orders it like the number.",
    ),
    _c("range_end_hex", TEXT, "IPv4 and IPv6: last address as 32 hex digits."),
)

INDICATORS = TableSchema(
    "indicators",
    "Threat-intelligence indicators, one per (type, value, source); see "
    "signalfire.intel.indicators for the types and how each value is normalized.",
    (
        _c("indicator_id", TEXT, "md5 of type|value|source: re-importing updates in place."),
        _c("type", TEXT, "ipv4, ipv6, ipv4_cidr, ipv6_cidr, domain, url, email, md5, sha1, ..."),
        _c("value", TEXT, "Normalized for its type (canonical address, lower-case name, ...)."),
        *_RANGES,
        _c("evaluable", "BOOLEAN", "False: it cannot be matched (see unevaluable_reason)."),
        _c("unevaluable_reason", TEXT, "Why it cannot be matched (pattern shape, bad value)."),
        _c("to_ids", "BOOLEAN", "The source means it for detection (MISP to_ids); else context."),
        _c("revoked", "BOOLEAN", "Withdrawn by its source (STIX revoked, MISP deleted)."),
        _c("pattern", TEXT, "The original STIX pattern, if it came from one."),
        _c("source", TEXT, "Feed or producer: --source, the STIX creator, MISP Orgc, file name."),
        _c("source_ref", TEXT, "Id of the object in its source (STIX id, MISP attribute uuid)."),
        _c("source_refs", STRINGS, "Every source object that stated it."),
        _c("source_type", TEXT, "The type as the source wrote it (ipv4-addr:value, ip-dst, ...)."),
        _c("source_format", TEXT, "stix, misp, zeek, csv or text."),
        _c("name"),
        _c("description"),
        _c("confidence", "INTEGER", "Base confidence 0-100, before decay."),
        _c("tlp", TEXT, "Traffic Light Protocol: clear, white, green, amber, amber+strict, red."),
        _c("valid_from", "TIMESTAMP"),
        _c("valid_until", "TIMESTAMP", "Past it the indicator is expired."),
        _c("first_seen", "TIMESTAMP", "When the source first saw it (MISP first_seen)."),
        _c("last_seen", "TIMESTAMP", "When the source last saw it (MISP last_seen, sightings)."),
        _c("decay_from", "TIMESTAMP", "Reference time of the confidence decay: last assertion."),
        _c("labels", STRINGS, "Labels, indicator types and tags."),
        _c("attack", STRINGS, "ATT&CK technique ids."),
        _c("kill_chain_phases", STRINGS, "kill_chain_name:phase_name."),
        _c("intrusion_sets", STRINGS, "Names of the intrusion sets it is tied to."),
        _c("malware", STRINGS, "Names of the malware and tools it is tied to."),
        _c("threat_actors", STRINGS, "Names of the threat actors it is tied to."),
        _c("campaigns", STRINGS, "Names of the campaigns it is tied to."),
        _c("reports", STRINGS, "Names of the reports that list it."),
        _c("context", "JSON", "Other facts from the source (MISP category, Zeek meta fields)."),
        _c("created", "TIMESTAMP"),
        _c("modified", "TIMESTAMP", "Of the statement that won; later modified wins."),
        _c("origin", TEXT, "The file (or TAXII collection) it was last updated from."),
        _c("imported_at", "TIMESTAMP", "When it was first imported."),
        _c("updated_at", "TIMESTAMP", "When an import last changed it."),
    ),
    # No primary key: the import merges by indicator_id itself (one transaction per file), and
    # an ART index on a million md5 keys costs four times the insert it guards.
)

INTEL_OBJECTS = TableSchema(
    "intel_objects",
    "STIX objects other than indicators (intrusion sets, malware, campaigns, relationships, "
    "reports, ...), kept for links and export.",
    (
        _c("object_id", TEXT, "STIX id."),
        _c("type", TEXT, "STIX type."),
        _c("name"),
        _c("aliases", STRINGS),
        _c("external_ids", STRINGS, "external_references ids, e.g. ATT&CK G0006, T1071."),
        _c("relationship_type", TEXT, "Relationships: indicates, attributed-to, uses, ..."),
        _c("source_ref", TEXT, "Relationships and sightings: the source object."),
        _c("target_ref", TEXT, "Relationships: the target object."),
        _c("source", TEXT, "Feed or producer it came from."),
        _c("object_json", "JSON", "The object as received."),
        _c("created", "TIMESTAMP"),
        _c("modified", "TIMESTAMP"),
        _c("imported_at", "TIMESTAMP"),
    ),
    primary_key="object_id",
)

SIGHTINGS = TableSchema(
    "sightings",
    "Indicators seen in our events, one row per indicator, alert, column and observed value.",
    (
        _c("sighting_id", TEXT, "md5 of indicator_id|alert_id|event_table|event_column|value."),
        _c("indicator_id"),
        _c("alert_id", TEXT, "The alert raised for it, if any."),
        _c("observed_value", TEXT, "The value in the event (e.g. the address inside a CIDR)."),
        _c("event_table", TEXT, "Where it was seen: conn, dns, http, ..."),
        _c("event_column", TEXT, "Which column: destination_ip, dns_question_name, ..."),
        _c("first_seen", "TIMESTAMP"),
        _c("last_seen", "TIMESTAMP"),
        _c("count", "BIGINT", "Events that matched."),
        _c("created_at", "TIMESTAMP"),
        _c("updated_at", "TIMESTAMP"),
    ),
    primary_key="sighting_id",
)

ALLOWLIST = TableSchema(
    "allowlist",
    "Values never to alert on: exact values, networks (by range) and domains (with subdomains).",
    (
        _c("allow_id", TEXT, "md5 of type|value."),
        _c("type", TEXT, "An indicator type (ipv4_cidr and domain match ranges / subdomains)."),
        _c("value", TEXT, "Normalized like indicator values."),
        *_RANGES,
        _c("reason"),
        _c("added_by"),
        _c("added_at", "TIMESTAMP"),
        _c("expires_at", "TIMESTAMP", "NULL: never expires."),
    ),
    primary_key="allow_id",
)

INTEL_IMPORTS = TableSchema(
    "intel_imports",
    "One entry per imported intelligence file (or TAXII page), with what it gave.",
    (
        _c("import_id", "BIGINT"),
        _c("path", TEXT, "File, or origin of in-memory objects."),
        _c("format", TEXT, "stix, misp, zeek, csv or text."),
        _c("sources", STRINGS),
        _c("records", "BIGINT", "Objects, attributes or lines read."),
        _c("indicators", "BIGINT", "Distinct indicators they gave."),
        _c("new", "BIGINT"),
        _c("updated", "BIGINT"),
        _c("unchanged", "BIGINT"),
        _c("unevaluable", "BIGINT", "Kept, but cannot be matched."),
        _c("objects", "BIGINT", "Other STIX objects stored in intel_objects."),
        _c("errors", "BIGINT", "Records that gave no indicator at all."),
        _c("error_details", "JSON", "Those records: line or object id, reason, raw text."),
        _c("finished_at", "TIMESTAMP"),
    ),
)

INTEL_TABLES: tuple[TableSchema, ...] = (
    INDICATORS,
    INTEL_OBJECTS,
    SIGHTINGS,
    ALLOWLIST,
    INTEL_IMPORTS,
)

ALL_TABLES: tuple[TableSchema, ...] = (
    *EVENT_TABLES,
    REJECTS,
    INGEST_LOG,
    ALERTS,
    SCHEMA_META,
    *TAXII_TABLES,
    *INTEL_TABLES,
)
TABLES_BY_NAME = {t.name: t for t in ALL_TABLES}
EVENT_TABLE_NAMES = tuple(t.name for t in EVENT_TABLES)
