"""Zeek logs written as JSON lines: dotted keys (``id.orig_h``), the underscore keys that
Kafka/RockNSM exports write (``id_orig_h``) and nested objects (``{"id": {"orig_h": ...}}``);
epoch or ISO-8601 timestamps. Lines of different logs may be mixed in one file: each line's log
is its ``_path`` or, without one, recognised from its keys.
"""

from __future__ import annotations

import json

from signalfire.model.schema import TABLES_BY_NAME
from signalfire.sources.json_lines import JsonLinesReader, extra_map
from signalfire.sources.normalize import Typed, json_value, quote_literal
from signalfire.sources.zeek_fields import FIELDS, table_for_path

FORMAT = "zeek_json"

#: Keys that identify a log when a line has no ``_path``, tested in this order.
_SIGNATURES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("dnp3", ("fc_request", "fc_reply")),
    ("modbus", ("func",)),
    ("x509", ("certificate.serial", "certificate.subject")),
    ("software", ("software_type", "unparsed_version")),
    ("notice", ("note",)),
    ("files", ("fuid", "seen_bytes", "mime_type", "analyzers")),
    ("dns", ("query", "qtype", "rcode", "qtype_name")),
    ("http", ("trans_depth", "method", "status_code", "user_agent")),
    ("ssh", ("auth_attempts", "auth_success", "host_key", "kex_alg")),
    ("ssl", ("cipher", "server_name", "ssl_history", "established", "ja3")),
    ("conn", ("conn_state", "history", "orig_bytes", "orig_ip_bytes", "duration")),
)


def _variants(field: str) -> list[str]:
    """JSON paths under which a Zeek field may appear."""
    paths = [f'$."{field}"']
    if "." in field:
        paths.append(f'$."{field.replace(".", "_")}"')
        paths.append("$." + ".".join(f'"{part}"' for part in field.split(".")))
    return paths


def _top_keys(field: str) -> list[str]:
    return [field, field.replace(".", "_"), field.split(".")[0]]


def looks_like(first: dict[str, object]) -> bool:
    """True for a parsed first line that looks like a Zeek JSON record."""
    return ("ts" in first or "_path" in first) and "event_type" not in first


def sniff(line: bytes) -> dict[str, object] | None:
    try:
        value = json.loads(line)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


class ZeekJsonReader(JsonLinesReader):
    """Parses chunks of a Zeek JSON log."""

    format = FORMAT

    def dataset_sql(self, obj: str) -> str:
        tests = []
        for path, keys in _SIGNATURES:
            present = " OR ".join(
                f"json_exists({obj}, {quote_literal(p)})" for k in keys for p in _variants(k)
            )
            tests.append(f"WHEN {present} THEN {quote_literal(path)}")
        return f"COALESCE({obj} ->> '$._path', CASE {' '.join(tests)} ELSE 'unknown' END)"

    def table_of(self, dataset: str) -> str:
        return table_for_path(dataset)

    def columns_for(self, table: str, obj: str) -> tuple[dict[str, Typed], str]:
        schema = TABLES_BY_NAME[table]
        values: dict[str, Typed] = {}
        by_column: dict[str, list[str]] = {}
        known = ["_path"]
        for field, column in FIELDS[table].items():
            by_column.setdefault(column, []).extend(_variants(field))
            known.extend(_top_keys(field))
        for column, paths in by_column.items():
            field = next(f for f, c in FIELDS[table].items() if c == column)
            values[column] = json_value(obj, paths, schema.type_of(column), field)
        return values, extra_map(obj, known)
