"""The indicator store: threat-intelligence indicators in the DuckDB store, ready for engine joins.

Every importer (STIX 2.1 bundles, MISP events and feeds, Zeek intel files, CSV and text lists)
turns its input into *stage rows* — one per (type, raw value) with what the source says about
it — and hands them here. This module then, in DuckDB and without a Python loop over rows:

1. normalizes each value for its type (canonical IPv4 and CIDR with numeric range bounds,
   lower-case domains without the trailing dot, lower-case hex digests, …) and marks values that
   are not valid for their type as not evaluable, with the reason (kept, never dropped);
2. gives each indicator its stable id, ``md5(type|value|source)``;
3. merges duplicates (of the file and of the store): the latest ``modified`` wins for single
   values, lists (labels, ATT&CK ids, intrusion sets, malware, …) accumulate;
4. writes new and changed rows, all of one file in one transaction, and counts what it did.

Matching (``signalfire.detections.intel``, built on this table) joins events to ``indicators``:
exact types on ``value``; address ranges on ``range_start``/``range_end`` (IPv4 as BIGINT, see
``ipv4_to_int_expr``) or ``range_start_hex``/``range_end_hex`` (32 hex digits, IPv4 mapped into
``::ffff:0:0/96``, so one text comparison covers both families); domains on ``value`` for the
event's name and each of its parent names. ``active_indicators`` / ``DecayModel.confidence_expr``
say which indicators alert at a given time; ``allowlist_expr`` gives what to suppress;
``record_sightings`` stores what matched.
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import os
import re
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb
import pyarrow as pa

from signalfire import settings
from signalfire.errors import ConfigError, IntelError, SignalfireError, SourceError
from signalfire.intel.decay import DecayModel

if TYPE_CHECKING:
    import ibis.expr.types as ir

    from signalfire.store import Store

# -- the type vocabulary -----------------------------------------------------------------------

#: Indicator types signalfire matches, with what their value is.
TYPES: dict[str, str] = {
    "ipv4": "an IPv4 address, dotted quad without leading zeros",
    "ipv6": "an IPv6 address, compressed lower-case form (RFC 5952)",
    "ipv4_cidr": "an IPv4 network, canonical network address/prefix; range_start/end are set",
    "ipv6_cidr": "an IPv6 network, canonical network address/prefix; range_*_hex are set",
    "domain": "a DNS name, lower case without the trailing dot (parents match its subdomains)",
    "url": "a URL; scheme and host lower-cased, fragment removed, path kept as given",
    "email": "an email address, lower case",
    "md5": "MD5 of a file, 32 lower-case hex digits",
    "sha1": "SHA-1 of a file, 40 lower-case hex digits",
    "sha256": "SHA-256 of a file, 64 lower-case hex digits",
    "sha512": "SHA-512 of a file, 128 lower-case hex digits",
    "file_name": "a file name, as given",
    "x509_serial": "an X.509 serial number, upper-case hex without colons (as Zeek logs it)",
    "x509_md5": "MD5 fingerprint of a certificate, lower-case hex",
    "x509_sha1": "SHA-1 fingerprint of a certificate, lower-case hex",
    "x509_sha256": "SHA-256 fingerprint of a certificate, lower-case hex (Zeek cert_chain_fps)",
    "ja3": "JA3 TLS client fingerprint (MD5), lower-case hex",
    "ja3s": "JA3S TLS server fingerprint (MD5), lower-case hex",
    "ja4": "JA4 TLS client fingerprint, lower case",
    "hassh": "HASSH SSH client fingerprint (MD5), lower-case hex",
    "hassh_server": "HASSH SSH server fingerprint (MD5), lower-case hex",
    "ssh_host_key": "SSH host key fingerprint (Zeek Intel::PUBKEY_HASH)",
    "user_agent": "an HTTP User-Agent, as given",
    "software": "a software name (Zeek Intel::SOFTWARE), as given",
    "user_name": "a user name (Zeek Intel::USER_NAME), as given",
    "stix_pattern": "a STIX pattern that cannot be matched on one value (never evaluable)",
}
#: Types whose value is a range (matched by containment, not equality).
RANGE_TYPES = ("ipv4_cidr", "ipv6_cidr")

#: Names of types in the formats we read (lower case) → our type. ``ip`` and ``hash`` are
#: resolved from the value (IPv4/IPv6, address/network; digest length).
ALIASES: dict[str, str] = {
    **{t: t for t in TYPES if t != "stix_pattern"},
    **dict.fromkeys(
        (
            "ip",
            "ipv4",
            "ipv6",
            "ipv4_cidr",
            "ipv6_cidr",
            "ip-src",
            "ip-dst",
            "ipv4-addr",
            "ipv6-addr",
            "ip-address",
            "ip_address",
            "addr",
            "address",
            "intel::addr",
            "cidr",
            "subnet",
            "ip_range",
            "ip-range",
            "network",
            "netblock",
            "intel::subnet",
        ),
        "ip",
    ),
    **dict.fromkeys(("hostname", "domain-name", "fqdn", "host", "intel::domain"), "domain"),
    "intel::url": "url",
    **dict.fromkeys(
        ("email-src", "email-dst", "email-addr", "email-address", "intel::email"), "email"
    ),
    **dict.fromkeys(("hash", "file_hash", "file-hash", "filehash", "intel::file_hash"), "hash"),
    "sha-1": "sha1",
    "sha-256": "sha256",
    "sha-512": "sha512",
    **dict.fromkeys(("filename", "file-name", "intel::file_name"), "file_name"),
    "x509-fingerprint-md5": "x509_md5",
    "x509-fingerprint-sha1": "x509_sha1",
    "x509-fingerprint-sha256": "x509_sha256",
    "intel::cert_hash": "x509_sha1",
    "x509-serial": "x509_serial",
    "ja3-fingerprint-md5": "ja3",
    "ja3s-fingerprint-md5": "ja3s",
    "ja4-fingerprint": "ja4",
    "hassh-md5": "hassh",
    "hasshserver-md5": "hassh_server",
    "intel::pubkey_hash": "ssh_host_key",
    "user-agent": "user_agent",
    "intel::software": "software",
    "intel::user_name": "user_name",
}

SOURCE_FORMATS = ("stix", "misp", "zeek", "csv", "text")
FORMATS = ("auto", "stix", "misp", "misp-feed", "zeek", "csv", "text")

# -- stage rows --------------------------------------------------------------------------------

STRING_LIST = pa.list_(pa.string())

#: What importers produce: one row per (type, raw value) with the facts the source gives.
#: Times are text (ISO 8601 or epoch seconds); they are parsed in the engine.
STAGE_COLUMNS: tuple[tuple[str, str, pa.DataType], ...] = (
    ("pos", "BIGINT", pa.int64()),
    ("type", "VARCHAR", pa.string()),
    ("raw_value", "VARCHAR", pa.string()),
    ("source_type", "VARCHAR", pa.string()),
    ("source_format", "VARCHAR", pa.string()),
    ("pattern", "VARCHAR", pa.string()),
    ("evaluable", "BOOLEAN", pa.bool_()),
    ("reason", "VARCHAR", pa.string()),
    ("to_ids", "BOOLEAN", pa.bool_()),
    ("revoked", "BOOLEAN", pa.bool_()),
    ("source", "VARCHAR", pa.string()),
    ("source_ref", "VARCHAR", pa.string()),
    ("name", "VARCHAR", pa.string()),
    ("description", "VARCHAR", pa.string()),
    ("confidence", "INTEGER", pa.int32()),
    ("tlp", "VARCHAR", pa.string()),
    ("valid_from", "VARCHAR", pa.string()),
    ("valid_until", "VARCHAR", pa.string()),
    ("first_seen", "VARCHAR", pa.string()),
    ("last_seen", "VARCHAR", pa.string()),
    ("created", "VARCHAR", pa.string()),
    ("modified", "VARCHAR", pa.string()),
    ("labels", "VARCHAR[]", STRING_LIST),
    ("attack", "VARCHAR[]", STRING_LIST),
    ("kill_chain_phases", "VARCHAR[]", STRING_LIST),
    ("intrusion_sets", "VARCHAR[]", STRING_LIST),
    ("malware", "VARCHAR[]", STRING_LIST),
    ("threat_actors", "VARCHAR[]", STRING_LIST),
    ("campaigns", "VARCHAR[]", STRING_LIST),
    ("reports", "VARCHAR[]", STRING_LIST),
    ("context", "VARCHAR", pa.string()),
)
STAGE_SCHEMA = pa.schema([(name, arrow) for name, _, arrow in STAGE_COLUMNS])
LIST_COLUMNS = (
    "labels",
    "attack",
    "kill_chain_phases",
    "intrusion_sets",
    "malware",
    "threat_actors",
    "campaigns",
    "reports",
)

#: intel_objects rows produced by the STIX importer (and the MISP importer's galaxies).
OBJECT_SCHEMA = pa.schema(
    [
        ("object_id", pa.string()),
        ("type", pa.string()),
        ("name", pa.string()),
        ("aliases", STRING_LIST),
        ("external_ids", STRING_LIST),
        ("relationship_type", pa.string()),
        ("source_ref", pa.string()),
        ("target_ref", pa.string()),
        ("source", pa.string()),
        ("object_json", pa.string()),
        ("created", pa.string()),
        ("modified", pa.string()),
    ]
)


class StageBuilder:
    """Column lists for stage rows; importers append, ``table()`` builds the Arrow table."""

    def __init__(self) -> None:
        self.columns: dict[str, list[Any]] = {name: [] for name, _, _ in STAGE_COLUMNS}

    def __len__(self) -> int:
        return len(self.columns["type"])

    def add(self, **values: Any) -> None:
        """Append one row; columns not given are NULL."""
        for name, column in self.columns.items():
            column.append(values.get(name))

    def table(self) -> pa.Table:
        return pa.table(
            [pa.array(self.columns[f.name], type=f.type) for f in STAGE_SCHEMA],
            schema=STAGE_SCHEMA,
        )


def objects_table(rows: Sequence[dict[str, Any]]) -> pa.Table:
    """intel_objects rows as Arrow."""
    return pa.table(
        [pa.array([r.get(f.name) for r in rows], type=f.type) for f in OBJECT_SCHEMA],
        schema=OBJECT_SCHEMA,
    )


# -- import bookkeeping ------------------------------------------------------------------------


@dataclass(frozen=True)
class ImportOptions:
    """What the user said about the inputs.

    Attributes:
        source: the source name of every indicator (else each importer derives one).
        confidence: base confidence (0–100) of indicators whose source states none.
        tlp: TLP of indicators whose source states none.
        format: ``auto`` (recognised from the content) or one of ``FORMATS``.
    """

    source: str | None = None
    confidence: int | None = None
    tlp: str | None = None
    format: str = "auto"

    def __post_init__(self) -> None:
        if self.confidence is not None and not 0 <= self.confidence <= 100:
            raise ConfigError(f"--confidence must be from 0 to 100 (got {self.confidence})")
        if self.format not in FORMATS:
            raise ConfigError(f"--format must be one of {', '.join(FORMATS)}")
        if self.source is not None and not self.source.strip():
            raise ConfigError("--source must not be empty")


@dataclass(frozen=True)
class RecordError:
    """A record that could not become an indicator at all (kept here with its raw text)."""

    reason: str
    line: int | None = None
    object_id: str | None = None
    raw: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v is not None}


@dataclass
class Staged:
    """What an importer read from one input.

    Attributes:
        format: the format it was read as.
        records: records read (STIX objects, MISP attributes, lines).
        rows: stage rows as Arrow, or None if the importer inserted them into ``sf_intel_stage``.
        objects: intel_objects rows (STIX SDOs and relationships), or None.
        errors: records that could not be staged.
        notes: facts worth telling the user (e.g. a MISP feed's hashes.csv disagrees).
    """

    format: str
    records: int = 0
    rows: pa.Table | None = None
    objects: pa.Table | None = None
    errors: list[RecordError] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


@dataclass
class FileSummary:
    """The outcome of importing one input."""

    path: str
    format: str = "unknown"
    source: list[str] = field(default_factory=list)
    records: int = 0
    indicators: int = 0
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    unevaluable: int = 0
    unevaluable_reasons: dict[str, int] = field(default_factory=dict)
    not_for_detection: int = 0
    revoked: int = 0
    objects: int = 0
    errors: list[RecordError] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    error: str | None = None
    seconds: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "format": self.format,
            "sources": self.source,
            "records": self.records,
            "indicators": self.indicators,
            "new": self.new,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "unevaluable": self.unevaluable,
            "unevaluable_reasons": self.unevaluable_reasons,
            "not_for_detection": self.not_for_detection,
            "revoked": self.revoked,
            "objects": self.objects,
            "errors": len(self.errors),
            "error_details": [e.to_json() for e in self.errors[:50]],
            "notes": self.notes,
            "failed": self.error,
            "seconds": round(self.seconds, 3),
        }


@dataclass
class ImportSummary:
    """The outcome of ``signalfire intel import``."""

    files: list[FileSummary] = field(default_factory=list)
    seconds: float = 0.0

    def total(self, name: str) -> int:
        """A count summed over the files (``errors`` counts the record errors)."""
        values = [getattr(f, name) for f in self.files]
        return sum(len(v) if isinstance(v, list) else int(v) for v in values)

    @property
    def failed(self) -> list[FileSummary]:
        return [f for f in self.files if f.error]

    def to_json(self) -> dict[str, Any]:
        return {
            "files": len(self.files),
            "failed": len(self.failed),
            **{
                name: self.total(name)
                for name in (
                    "records",
                    "indicators",
                    "new",
                    "updated",
                    "unchanged",
                    "unevaluable",
                    "not_for_detection",
                    "revoked",
                    "objects",
                )
            },
            "errors": sum(len(f.errors) for f in self.files),
            "seconds": round(self.seconds, 3),
            "per_file": [f.to_json() for f in self.files],
        }


# -- normalization (SQL) -----------------------------------------------------------------------

_STAGE_DDL = ", ".join(f'"{name}" {sql}' for name, sql, _ in STAGE_COLUMNS)

_V4 = r"^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})(?:/(\d{1,2}))?$"
# Labels of letters, digits, '_' and inner '-'. No bounded repeats ({0,61}): RE2 expands them
# into an automaton that makes this check the slowest part of an import.
_DOMAIN = r"[a-z0-9_](?:[a-z0-9_-]*[a-z0-9_])?(?:\.[a-z0-9_](?:[a-z0-9_-]*[a-z0-9_])?)*"
_HEX_LENGTHS = {
    "md5": 32,
    "sha1": 40,
    "sha256": 64,
    "sha512": 128,
    "x509_md5": 32,
    "x509_sha1": 40,
    "x509_sha256": 64,
    "ja3": 32,
    "ja3s": 32,
    "hassh": 32,
    "hassh_server": 32,
}


def _ts(column: str) -> str:
    # Epoch seconds (Zeek, MISP) or ISO 8601 with or without offset, to naive UTC.
    return (
        f"CASE WHEN regexp_full_match({column}, '\\d{{9,11}}(\\.\\d+)?') "
        f"THEN make_timestamp(({column}::DOUBLE * 1000000)::BIGINT) "
        f"ELSE (TRY_CAST({column} AS TIMESTAMPTZ) AT TIME ZONE 'UTC') END"
    )


def _dotted(x: str) -> str:
    return f"concat_ws('.', ({x}) >> 24, (({x}) >> 16) & 255, (({x}) >> 8) & 255, ({x}) & 255)"


def _v4_hex(x: str) -> str:
    return f"'00000000000000000000ffff' || lpad(lower(hex({x})), 8, '0')"


def _hex_checks() -> str:
    return " ".join(
        f"WHEN '{t}' THEN CASE WHEN NOT regexp_full_match(value, '[0-9a-f]{{{n}}}') "
        f"THEN 'not a {n}-digit hex {t.upper().replace('_', ' ')} value' END"
        for t, n in _HEX_LENGTHS.items()
    )


NORMALIZE_SQL = f"""
CREATE OR REPLACE TEMP TABLE sf_intel_rows AS
WITH s AS (
    SELECT *, trim(coalesce(raw_value, '')) AS v FROM sf_intel_stage
), q AS (
    SELECT s.*,
        CASE WHEN s.type = 'ip' AND NOT contains(s.v, ':')
             THEN regexp_extract(s.v, '{_V4}', ['a', 'b', 'c', 'd', 'p']) END AS m,
        u.m AS um,
        ip6.type AS ip6_type, ip6.value AS ip6_value, ip6.start_hex AS ip6_start,
        ip6.end_hex AS ip6_end, ip6.error AS ip6_error
    FROM s
    -- Both join keys are columns of both sides: a condition on one side only (s.type = 'url')
    -- turns DuckDB's hash join into a nested loop, quadratic in the rows.
    LEFT JOIN (SELECT 'ip' AS jt, * FROM sf_ip6) AS ip6 ON ip6.jt = s.type AND ip6.raw = s.v
    LEFT JOIN (
        SELECT DISTINCT 'url' AS jt, v AS uv,
            regexp_extract(v, '^([A-Za-z][A-Za-z0-9+.-]*://)?([^/?#]*)([^#]*)',
                           ['scheme', 'host', 'rest']) AS m
        FROM s WHERE type = 'url'
    ) AS u ON u.jt = s.type AND u.uv = s.v
), n AS (
    SELECT q.*,
        TRY_CAST(m.a AS BIGINT) AS o1, TRY_CAST(m.b AS BIGINT) AS o2,
        TRY_CAST(m.c AS BIGINT) AS o3, TRY_CAST(m.d AS BIGINT) AS o4,
        CASE WHEN m.p = '' THEN 32 ELSE TRY_CAST(m.p AS INTEGER) END AS prefix
    FROM q
), ip AS (
    SELECT n.*,
        coalesce(o1 <= 255 AND o2 <= 255 AND o3 <= 255 AND o4 <= 255 AND prefix <= 32, false)
            AS v4ok,
        o1 * 16777216 + o2 * 65536 + o3 * 256 + o4 AS ipn
    FROM n
), r AS (
    SELECT ip.*,
        CASE WHEN v4ok THEN (ipn >> (32 - prefix)) << (32 - prefix) END AS rstart
    FROM ip
), t AS (
    SELECT r.*,
        CASE
            WHEN r.type = 'ip' THEN CASE
                WHEN v4ok THEN CASE WHEN prefix = 32 THEN 'ipv4' ELSE 'ipv4_cidr' END
                WHEN ip6_type IS NOT NULL THEN ip6_type
                WHEN contains(v, ':') THEN 'ipv6' ELSE 'ipv4' END
            WHEN r.type = 'hash' THEN CASE length(v)
                WHEN 32 THEN 'md5' WHEN 40 THEN 'sha1' WHEN 64 THEN 'sha256'
                WHEN 128 THEN 'sha512' ELSE 'file_hash' END
            ELSE r.type
        END AS ntype
    FROM r
), val AS (
    SELECT t.*,
        CASE
            WHEN ntype IN ('ipv4', 'ipv4_cidr') AND v4ok THEN
                {_dotted("rstart")} || CASE WHEN prefix = 32 THEN '' ELSE '/' || prefix END
            WHEN t.type = 'ip' AND ip6_value IS NOT NULL THEN ip6_value
            WHEN ntype = 'domain' THEN regexp_replace(lower(v), '\\.+$', '')
            WHEN ntype = 'url' THEN lower(coalesce(um.scheme, ''))
                || regexp_replace(lower(coalesce(um.host, '')), '\\.+$', '')
                || coalesce(um.rest, '')
            WHEN ntype IN ('email', 'md5', 'sha1', 'sha256', 'sha512', 'ja3', 'ja3s', 'ja4',
                           'hassh', 'hassh_server', 'file_hash') THEN lower(v)
            WHEN ntype IN ('x509_md5', 'x509_sha1', 'x509_sha256')
                THEN lower(replace(v, ':', ''))
            WHEN ntype = 'x509_serial' THEN upper(replace(v, ':', ''))
            WHEN ntype = 'ssh_host_key' AND regexp_full_match(v, '[0-9A-Fa-f:]+') THEN lower(v)
            ELSE v
        END AS value
    FROM t
), chk AS (
    SELECT val.*,
        CASE
            WHEN value = '' THEN 'empty value'
            WHEN val.type = 'ip' AND NOT v4ok AND ip6_value IS NULL
                THEN coalesce(ip6_error, 'not an IP address or network (CIDR)')
            WHEN ntype = 'file_hash' THEN 'not an MD5, SHA-1, SHA-256 or SHA-512 hex digest'
            WHEN ntype = 'domain' AND (length(value) > 253
                OR NOT regexp_full_match(value, '{_DOMAIN}')) THEN 'not a valid domain name'
            WHEN ntype = 'url' AND coalesce(um.host, '') = '' THEN 'not a URL with a host'
            WHEN ntype = 'email' AND NOT regexp_full_match(value, '[^@\\s]+@[^@\\s]+')
                THEN 'not an email address'
            WHEN ntype = 'x509_serial' AND NOT regexp_full_match(value, '[0-9A-F]+')
                THEN 'not a hex serial number'
            ELSE CASE ntype {_hex_checks()} END
        END AS value_problem
    FROM val
)
SELECT
    md5(ntype || '|' || value || '|' || source) AS indicator_id,
    ntype AS type,
    value,
    CASE WHEN v4ok THEN rstart END AS range_start,
    CASE WHEN v4ok THEN rstart + (1::BIGINT << (32 - prefix)) - 1 END AS range_end,
    CASE WHEN v4ok THEN {_v4_hex("rstart")} ELSE ip6_start END AS range_start_hex,
    CASE WHEN v4ok THEN {_v4_hex("rstart + (1::BIGINT << (32 - prefix)) - 1")}
         ELSE ip6_end END AS range_end_hex,
    coalesce(evaluable, true) AND value_problem IS NULL AS evaluable,
    nullif(concat_ws('; ', reason, value_problem), '') AS unevaluable_reason,
    coalesce(to_ids, true) AS to_ids,
    coalesce(revoked, false) AS revoked,
    pattern, source, source_ref, source_type, source_format,
    nullif(trim(name), '') AS name, nullif(trim(description), '') AS description,
    least(greatest(coalesce(confidence, $confidence::INTEGER), 0), 100)::INTEGER AS confidence,
    lower(coalesce(tlp, $tlp::VARCHAR)) AS tlp,
    {_ts("valid_from")} AS valid_from,
    {_ts("valid_until")} AS valid_until,
    {_ts("first_seen")} AS first_seen,
    {_ts("last_seen")} AS last_seen,
    {_ts("created")} AS created,
    {_ts("modified")} AS modified,
    {
    ", ".join(
        f"CASE WHEN len({c}) > 1 THEN list_sort(list_distinct({c})) "
        f"ELSE coalesce({c}, []::VARCHAR[]) END AS {c}"
        for c in LIST_COLUMNS
    )
},
    CASE WHEN source_ref IS NULL THEN []::VARCHAR[] ELSE [source_ref] END AS source_refs,
    context::JSON AS context,
    coalesce(pos, 0) AS pos
FROM chk
"""

#: Columns of the ``indicators`` table, in order (see ``signalfire.model.schema.INDICATORS``).
INDICATOR_COLUMNS = (
    "indicator_id",
    "type",
    "value",
    "range_start",
    "range_end",
    "range_start_hex",
    "range_end_hex",
    "evaluable",
    "unevaluable_reason",
    "to_ids",
    "revoked",
    "pattern",
    "source",
    "source_ref",
    "source_refs",
    "source_type",
    "source_format",
    "name",
    "description",
    "confidence",
    "tlp",
    "valid_from",
    "valid_until",
    "first_seen",
    "last_seen",
    "decay_from",
    *LIST_COLUMNS,
    "context",
    "created",
    "modified",
    "origin",
    "imported_at",
    "updated_at",
)
#: Single-valued columns taken from the most recently modified statement.
_WINNER_COLUMNS = (
    "type",
    "value",
    "range_start",
    "range_end",
    "range_start_hex",
    "range_end_hex",
    "evaluable",
    "unevaluable_reason",
    "to_ids",
    "revoked",
    "pattern",
    "source",
    "source_ref",
    "source_type",
    "source_format",
    "name",
    "description",
    "confidence",
    "tlp",
    "valid_from",
    "valid_until",
    "context",
    "created",
    "modified",
)


def _list_union(*parts: str) -> str:
    inner = ", ".join(f"coalesce({p}, []::VARCHAR[])" for p in parts)
    return f"list_sort(list_distinct(list_concat({inner})))"


#: Ids stated more than once in the file (by hash: cheaper to group than 32-digit text).
_DUPLICATES_SQL = """
CREATE OR REPLACE TEMP TABLE sf_intel_dups AS
SELECT hash(indicator_id) AS h FROM sf_intel_rows GROUP BY h HAVING count(*) > 1
"""


def _batch_sql() -> str:
    # Most files state each indicator once: those rows pass through; only the ids stated more
    # than once (the same address in several STIX patterns, a hash in two MISP attributes) are
    # merged (and their rows removed), the most recently modified statement giving the single
    # values. The batch is a view over both, so that a million rows are not copied once more.
    # In one file, a value any statement means for detection is for detection, and it is
    # withdrawn only if every statement withdraws it.
    winner = ", ".join(f"w.{c}" for c in _WINNER_COLUMNS if c not in ("to_ids", "revoked"))
    lists = ", ".join(f"list_sort(list_distinct(flatten(list({c})))) AS {c}" for c in LIST_COLUMNS)
    return f"""
CREATE OR REPLACE TEMP TABLE sf_intel_dup_merged AS
WITH dup AS (
    SELECT * FROM sf_intel_rows WHERE hash(indicator_id) IN (SELECT h FROM sf_intel_dups)),
ranked AS (
    SELECT *, row_number() OVER (
        PARTITION BY indicator_id
        ORDER BY modified DESC NULLS LAST, pos NULLS LAST, source_ref NULLS LAST,
            name NULLS LAST, description NULLS LAST, confidence DESC NULLS LAST,
            tlp NULLS LAST, valid_until DESC NULLS FIRST, context::VARCHAR NULLS LAST) AS rn
    FROM dup
), agg AS (
    SELECT indicator_id,
        min(first_seen) AS first_seen, max(last_seen) AS last_seen,
        bool_or(to_ids) AS to_ids, bool_and(revoked) AS revoked,
        list_sort(list_distinct(list(source_ref))) AS source_refs,
        {lists}
    FROM dup GROUP BY indicator_id
)
SELECT w.indicator_id, {winner}, agg.* EXCLUDE (indicator_id)
FROM ranked AS w JOIN agg USING (indicator_id) WHERE w.rn = 1;
DELETE FROM sf_intel_rows WHERE hash(indicator_id) IN (SELECT h FROM sf_intel_dups);
CREATE OR REPLACE TEMP VIEW sf_intel_batch AS
SELECT * EXCLUDE (pos) FROM sf_intel_rows
UNION ALL BY NAME
SELECT * FROM sf_intel_dup_merged
"""


def _store_merge_sql() -> str:
    # One pass over the batch joined to the store: the merged row, whether it is new, and
    # whether it differs from the stored one (an unchanged indicator is not rewritten).
    wins = (
        "(o.indicator_id IS NULL OR coalesce(n.modified, TIMESTAMP '1970-01-01') "
        ">= coalesce(o.modified, TIMESTAMP '1970-01-01'))"
    )
    cols = [f"CASE WHEN {wins} THEN n.{c} ELSE o.{c} END AS {c}" for c in _WINNER_COLUMNS]
    cols += [
        f"CASE WHEN o.indicator_id IS NULL THEN n.{c} ELSE {_list_union('o.' + c, 'n.' + c)} "
        f"END AS {c}"
        for c in (*LIST_COLUMNS, "source_refs")
    ]
    cols += [
        "least(o.first_seen, n.first_seen) AS first_seen",
        "greatest(o.last_seen, n.last_seen) AS last_seen",
        f"CASE WHEN {wins} THEN $origin ELSE o.origin END AS origin",
        "coalesce(o.imported_at, $now) AS imported_at",
    ]
    differs = " OR ".join(f"n.{c} IS DISTINCT FROM o.{c}" for c in _WINNER_COLUMNS)
    grows = " OR ".join(
        f"NOT list_has_all(coalesce(o.{c}, []::VARCHAR[]), n.{c})"
        for c in (*LIST_COLUMNS, "source_refs")
    )
    changed = (
        f"CASE WHEN o.indicator_id IS NULL THEN true ELSE ({wins} AND ({differs})) OR {grows} "
        "OR n.first_seen < o.first_seen OR n.last_seen > o.last_seen "
        "OR (o.first_seen IS NULL AND n.first_seen IS NOT NULL) "
        "OR (o.last_seen IS NULL AND n.last_seen IS NOT NULL) END"
    )
    # First which indicators change (a narrow pass), then the merged rows of the stored ones
    # that change: a re-import of an unchanged feed computes no list unions and writes
    # nothing, and new indicators go from the batch to the table without another copy.
    return f"""
CREATE OR REPLACE TEMP TABLE sf_intel_changes AS
SELECT n.indicator_id, o.indicator_id IS NULL AS is_new
FROM sf_intel_batch AS n LEFT JOIN indicators AS o USING (indicator_id)
WHERE {changed};
CREATE OR REPLACE TEMP TABLE sf_intel_merged AS
SELECT n.indicator_id, {", ".join(cols)}
FROM sf_intel_changes AS c JOIN sf_intel_batch AS n USING (indicator_id)
JOIN indicators AS o USING (indicator_id)
WHERE NOT c.is_new
"""


def _insert_sql(source: str) -> str:
    """Write the rows of ``source`` (batch rows, or merged ones) into the indicators."""
    values = {
        "decay_from": ("coalesce(greatest(last_seen, modified, created, valid_from), imported_at)"),
        "updated_at": "$now",
    }
    return (
        f"INSERT INTO indicators ({', '.join(INDICATOR_COLUMNS)}) "
        f"SELECT {', '.join(values.get(c, c) for c in INDICATOR_COLUMNS)} FROM {source}"
    )


#: Every batch row, as a new indicator.
_ALL_ROWS = "(SELECT *, $origin AS origin, $now AS imported_at FROM sf_intel_batch)"
#: The new indicators: batch rows whose id the store does not hold.
_NEW_ROWS = (
    "(SELECT n.*, $origin AS origin, $now AS imported_at FROM sf_intel_batch AS n "
    "SEMI JOIN sf_intel_changes AS c ON c.indicator_id = n.indicator_id AND c.is_new)"
)


# -- IPv6 (Python, on the distinct values only: rare in feeds, and the engine has no parser) --


def _ipv6_rows(raw_values: Iterable[str]) -> pa.Table:
    raws: list[str] = []
    types: list[str | None] = []
    values: list[str | None] = []
    starts: list[str | None] = []
    ends: list[str | None] = []
    errors: list[str | None] = []
    for raw in raw_values:
        raws.append(raw)
        try:
            net = ipaddress.ip_network(raw.split("%", 1)[0], strict=False)
        except ValueError:
            types.append(None)
            values.append(None)
            starts.append(None)
            ends.append(None)
            errors.append("not an IP address or network (CIDR)")
            continue
        if net.version != 6:  # e.g. 1.2.3.4 given with a :port
            types.append(None)
            values.append(None)
            starts.append(None)
            ends.append(None)
            errors.append("not an IP address or network (CIDR)")
            continue
        single = net.prefixlen == 128
        types.append("ipv6" if single else "ipv6_cidr")
        values.append(str(net.network_address) if single else str(net))
        starts.append(f"{int(net.network_address):032x}")
        ends.append(f"{int(net.broadcast_address):032x}")
        errors.append(None)
    return pa.table(
        {
            "raw": pa.array(raws, pa.string()),
            "type": pa.array(types, pa.string()),
            "value": pa.array(values, pa.string()),
            "start_hex": pa.array(starts, pa.string()),
            "end_hex": pa.array(ends, pa.string()),
            "error": pa.array(errors, pa.string()),
        }
    )


# -- the store ---------------------------------------------------------------------------------

Progress = Callable[[int, int, str], None]


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def _rows(cursor: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


class IndicatorStore:
    """Threat-intelligence indicators in a Signalfire store.

    Args:
        store: the open store (writable for imports and allowlist changes).
        decay: the decay model (default: from the settings).
    """

    def __init__(self, store: Store, decay: DecayModel | None = None) -> None:
        self.store = store
        self.con = store.con
        self.decay = decay or DecayModel.from_settings()

    # -- import ----------------------------------------------------------------------------

    def import_paths(
        self,
        paths: Sequence[Path],
        options: ImportOptions | None = None,
        progress: Progress | None = None,
    ) -> ImportSummary:
        """Import files and directories (recursively); one transaction per file.

        A file that fails is reported in its summary (``error``) and leaves the store as it
        was; the other files are imported.

        Raises:
            SourceError: a path does not exist.
        """
        options = options or ImportOptions()
        started = time.perf_counter()
        units = list(_expand(paths, options.format))
        summary = ImportSummary()
        for i, (path, fmt) in enumerate(units):
            if progress is not None:
                progress(i, len(units), str(path))
            summary.files.extend(self._import_unit(path, fmt, options))
        summary.seconds = time.perf_counter() - started
        return summary

    def _import_unit(self, path: Path, fmt: str, options: ImportOptions) -> list[FileSummary]:
        if fmt == "misp-feed":
            from signalfire.intel import misp_import

            feed = misp_import.MispFeed(path)
            return [
                self._import_one(
                    event_path,
                    "misp",
                    options,
                    lambda p, src: feed.stage_event(p, src, options),
                    notes=feed.preamble_notes if i == 0 else [],
                )
                for i, event_path in enumerate(feed.event_files())
            ] or [FileSummary(str(path), "misp-feed", notes=feed.preamble_notes)]
        return [self._import_one(path, fmt, options, None)]

    def _import_one(
        self,
        path: Path,
        fmt: str,
        options: ImportOptions,
        stager: Callable[[Path, str | None], Staged] | None,
        notes: list[str] | None = None,
    ) -> FileSummary:
        summary = FileSummary(str(path), fmt, notes=list(notes or []))
        started = time.perf_counter()
        try:
            if fmt == "auto":
                fmt = detect_format(path)
                summary.format = fmt
            run = stager or (lambda p, src: stage_file(self.con, p, fmt, src, options))
            self._in_transaction(
                summary, lambda: run(path, options.source), origin=str(path), options=options
            )
        except SignalfireError as exc:
            summary.error = str(exc)
        except (OSError, UnicodeDecodeError, ValueError, duckdb.Error) as exc:
            summary.error = f"{path}: {exc}"
        summary.seconds = time.perf_counter() - started
        return summary

    def import_stix_objects(
        self,
        objects: Sequence[dict[str, Any]],
        source: str | None = None,
        options: ImportOptions | None = None,
        origin: str | None = None,
    ) -> FileSummary:
        """Import STIX objects already in memory (a TAXII page, a parsed bundle).

        Raises:
            IntelError: the import failed; the store is as it was.
        """
        from signalfire.intel import stix_import

        options = options or ImportOptions(source=source)
        if source is not None and options.source is None:
            options = ImportOptions(source, options.confidence, options.tlp, options.format)
        name = origin or f"stix-objects:{options.source or 'unnamed'}"
        summary = FileSummary(name, "stix")
        started = time.perf_counter()

        def run() -> Staged:
            return stix_import.stage_objects(
                self.con, list(objects), options.source, default_source=options.source or name
            )

        try:
            self._in_transaction(summary, run, origin=name, options=options)
        except (duckdb.Error, ValueError) as exc:
            raise IntelError(f"importing STIX objects from {name} failed: {exc}") from exc
        summary.seconds = time.perf_counter() - started
        return summary

    def _in_transaction(
        self,
        summary: FileSummary,
        run: Callable[[], Staged],
        *,
        origin: str,
        options: ImportOptions,
    ) -> None:
        con = self.con
        con.execute("BEGIN TRANSACTION")
        try:
            con.execute(f"CREATE OR REPLACE TEMP TABLE sf_intel_stage ({_STAGE_DDL})")
            staged = run()
            summary.format = staged.format
            summary.records = staged.records
            summary.errors = staged.errors
            summary.notes.extend(staged.notes)
            if staged.rows is not None and staged.rows.num_rows:
                con.register("sf_stage_arrow", staged.rows)
                try:
                    con.execute("INSERT INTO sf_intel_stage BY NAME SELECT * FROM sf_stage_arrow")
                finally:
                    con.unregister("sf_stage_arrow")
            if staged.objects is not None and staged.objects.num_rows:
                summary.objects = self._upsert_objects(staged.objects)
            self._normalize_and_upsert(summary, origin, options)
            self._log_import(summary, staged, origin)
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
        finally:
            con.execute("DROP VIEW IF EXISTS sf_intel_batch")
            for name in (
                "sf_intel_changes",
                "sf_intel_stage",
                "sf_intel_rows",
                "sf_intel_merged",
                "sf_intel_dups",
                "sf_intel_dup_merged",
                "sf_ip6",
            ):
                con.execute(f"DROP TABLE IF EXISTS {name}")

    def _normalize_and_upsert(
        self, summary: FileSummary, origin: str, options: ImportOptions
    ) -> None:
        con = self.con
        ip6 = con.execute(
            "SELECT DISTINCT trim(raw_value) FROM sf_intel_stage "
            "WHERE type = 'ip' AND contains(raw_value, ':')"
        ).fetchall()
        con.register("sf_ip6_arrow", _ipv6_rows(r[0] for r in ip6))
        try:
            con.execute("CREATE OR REPLACE TEMP TABLE sf_ip6 AS SELECT * FROM sf_ip6_arrow")
        finally:
            con.unregister("sf_ip6_arrow")
        confidence = (
            options.confidence
            if options.confidence is not None
            else int(settings.get("intel_default_confidence"))
        )
        con.execute(NORMALIZE_SQL, {"confidence": confidence, "tlp": options.tlp})
        con.execute(_DUPLICATES_SQL)
        con.execute(_batch_sql())
        now = _now()
        con.execute(_store_merge_sql(), {"origin": origin, "now": now})
        # What the file states (its indicators, as it states them), then what changed.
        counts = con.execute(
            "SELECT count(*), count(*) FILTER (WHERE NOT evaluable), "
            "count(*) FILTER (WHERE NOT to_ids), count(*) FILTER (WHERE revoked) "
            "FROM sf_intel_batch"
        ).fetchone()
        changes = con.execute(
            "SELECT count(*) FILTER (WHERE is_new), count(*) FILTER (WHERE NOT is_new) "
            "FROM sf_intel_changes"
        ).fetchone()
        assert counts is not None and changes is not None
        total, unevaluable, not_ids, revoked = (int(c) for c in counts)
        new, updated = (int(c) for c in changes)
        summary.indicators = total
        summary.new, summary.updated = new, updated
        summary.unchanged = total - new - updated
        summary.unevaluable, summary.not_for_detection, summary.revoked = (
            unevaluable,
            not_ids,
            revoked,
        )
        summary.unevaluable_reasons = {
            str(r[0]): int(r[1])
            for r in con.execute(
                "SELECT unevaluable_reason, count(*) FROM sf_intel_batch WHERE NOT evaluable "
                "GROUP BY ALL ORDER BY 2 DESC, 1 LIMIT 20"
            ).fetchall()
        }
        summary.source = [
            str(r[0])
            for r in con.execute(
                "SELECT DISTINCT source FROM sf_intel_batch ORDER BY 1 LIMIT 20"
            ).fetchall()
        ]
        con.execute(
            "DELETE FROM indicators WHERE indicator_id IN (SELECT indicator_id FROM "
            "sf_intel_changes WHERE NOT is_new)"
        )
        con.execute(_insert_sql("sf_intel_merged"), {"now": now})
        # When every indicator of the file is new (a first import), no semi-join is needed to
        # tell them from the ones already stored: with a million on each side it cost 1.5 s.
        all_new = new == total
        con.execute(
            _insert_sql(_ALL_ROWS if all_new else _NEW_ROWS), {"now": now, "origin": origin}
        )

    def _upsert_objects(self, objects: pa.Table) -> int:
        con = self.con
        con.register("sf_objects_arrow", objects)
        try:
            con.execute(
                "CREATE OR REPLACE TEMP TABLE sf_intel_objects AS "
                "SELECT object_id, type, name, aliases, external_ids, relationship_type, "
                "source_ref, target_ref, source, object_json::JSON AS object_json, "
                f"{_ts('created')} AS created, {_ts('modified')} AS modified "
                "FROM sf_objects_arrow QUALIFY row_number() OVER (PARTITION BY object_id "
                f"ORDER BY {_ts('modified')} DESC NULLS LAST) = 1"
            )
        finally:
            con.unregister("sf_objects_arrow")
        count = con.execute("SELECT count(*) FROM sf_intel_objects").fetchone()
        # Older versions than the stored one, and identical ones, are not written (so that a
        # re-import changes nothing); the others replace the stored version.
        con.execute(
            "DELETE FROM sf_intel_objects n USING intel_objects o WHERE n.object_id = o.object_id "
            "AND (coalesce(n.modified, TIMESTAMP '1970-01-01') < coalesce(o.modified, "
            "TIMESTAMP '1970-01-01') OR n.object_json::VARCHAR = o.object_json::VARCHAR)"
        )
        con.execute(
            "CREATE OR REPLACE TEMP TABLE sf_intel_objects AS SELECT n.*, "
            "coalesce(o.imported_at, $now) AS imported_at FROM sf_intel_objects n "
            "LEFT JOIN intel_objects o USING (object_id)",
            {"now": _now()},
        )
        con.execute(
            "DELETE FROM intel_objects WHERE object_id IN (SELECT object_id FROM sf_intel_objects)"
        )
        con.execute("INSERT INTO intel_objects BY NAME SELECT * FROM sf_intel_objects")
        con.execute("DROP TABLE sf_intel_objects")
        return int(count[0]) if count else 0

    def _log_import(self, summary: FileSummary, staged: Staged, origin: str) -> None:
        row = self.con.execute(
            "SELECT coalesce(max(import_id), 0) + 1 FROM intel_imports"
        ).fetchone()
        assert row is not None
        self.con.execute(
            "INSERT INTO intel_imports BY NAME SELECT ? AS import_id, ? AS path, ? AS format, "
            "?::VARCHAR[] AS sources, ? AS records, ? AS indicators, ? AS new, ? AS updated, "
            "? AS unchanged, ? AS unevaluable, ? AS objects, ? AS errors, "
            "?::JSON AS error_details, ? AS finished_at",
            [
                int(row[0]),
                origin,
                staged.format,
                summary.source,
                summary.records,
                summary.indicators,
                summary.new,
                summary.updated,
                summary.unchanged,
                summary.unevaluable,
                summary.objects,
                len(summary.errors),
                json.dumps([e.to_json() for e in summary.errors]),
                _now(),
            ],
        )

    # -- reading ---------------------------------------------------------------------------

    def list_indicators(
        self,
        *,
        types: Sequence[str] | None = None,
        sources: Sequence[str] | None = None,
        active_only: bool = True,
        search: str | None = None,
        limit: int | None = None,
        at: datetime | None = None,
    ) -> list[dict[str, Any]]:
        """Indicators as JSON-ready dicts, with their confidence now (or at ``at``).

        Args:
            types: only these types.
            sources: only these sources.
            active_only: only indicators that alert now (evaluable, for detection, not revoked,
                not past ``valid_until``, decayed confidence at or above the threshold).
            search: a case-insensitive substring of the value, name, description or any
                intrusion set, malware, threat actor or campaign.
            limit: at most this many (most confident first).
        """
        when = (at or _now()).replace(tzinfo=None)
        current = self.decay.confidence_sql("$at::TIMESTAMP")
        where = ["true"]
        params: dict[str, Any] = {"at": when, "threshold": self.decay.threshold}
        if types:
            where.append("type IN (SELECT unnest($types::VARCHAR[]))")
            params["types"] = list(types)
        if sources:
            where.append("source IN (SELECT unnest($sources::VARCHAR[]))")
            params["sources"] = list(sources)
        if search:
            where.append(
                "(value ILIKE $search OR name ILIKE $search OR description ILIKE $search OR "
                "list_string_agg(list_concat(intrusion_sets, malware, threat_actors, campaigns))"
                " ILIKE $search)"
            )
            params["search"] = "%" + search.replace("%", r"\%").replace("_", r"\_") + "%"
        active = (
            "(evaluable AND to_ids AND NOT revoked AND (valid_until IS NULL OR valid_until > "
            f"$at::TIMESTAMP) AND {current} >= $threshold)"
        )
        if active_only:
            where.append(active)
        sql = (
            f"SELECT indicator_id, type, value, source, round({current}, 1) AS current_confidence, "
            f"confidence, {active} AS active, tlp, name, intrusion_sets, malware, threat_actors, "
            "campaigns, attack, labels, valid_from, valid_until, first_seen, last_seen, "
            "decay_from, evaluable, unevaluable_reason, to_ids, revoked, source_ref, pattern, "
            f"description FROM indicators WHERE {' AND '.join(where)} "
            "ORDER BY current_confidence DESC, type, value, source"
        )
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        return _rows(self.con.execute(sql, params))

    def counts(self) -> dict[str, Any]:
        """How many indicators per type, source and state."""
        con = self.con
        row = con.execute(
            "SELECT count(*), count(*) FILTER (WHERE evaluable), "
            "count(*) FILTER (WHERE NOT to_ids), count(*) FILTER (WHERE revoked) FROM indicators"
        ).fetchone()
        assert row is not None
        return {
            "indicators": int(row[0]),
            "evaluable": int(row[1]),
            "not_for_detection": int(row[2]),
            "revoked": int(row[3]),
            "by_type": dict(
                con.execute(
                    "SELECT type, count(*) FROM indicators GROUP BY 1 ORDER BY 1"
                ).fetchall()
            ),
            "by_source": dict(
                con.execute(
                    "SELECT source, count(*) FROM indicators GROUP BY 1 ORDER BY 1"
                ).fetchall()
            ),
        }

    def table(self) -> ir.Table:
        """The indicators table as an Ibis expression."""
        return self.store.table("indicators")

    def active(self, at: datetime | None = None) -> ir.Table:
        """The indicators that alert at ``at`` (default now), with ``current_confidence``."""
        return active_indicators(self.table(), at, self.decay)

    # -- allowlist -------------------------------------------------------------------------

    def allow(
        self,
        value: str,
        *,
        type: str | None = None,
        reason: str,
        added_by: str | None = None,
        expires_at: datetime | None = None,
    ) -> dict[str, Any]:
        """Allowlist a value (an address, network, domain and its subdomains, hash, …).

        Raises:
            IntelError: the value is not valid for its type (or no type can be inferred).
        """
        if not reason.strip():
            raise IntelError("an allowlist entry needs a reason: pass --reason TEXT")
        entry = normalize_value(self.con, value, type)
        if not entry["evaluable"]:
            raise IntelError(
                f"cannot allowlist {value!r} as {entry['type']}: {entry['unevaluable_reason']}; "
                "check the value or pass the right --type"
            )
        self.con.execute(
            "INSERT OR REPLACE INTO allowlist BY NAME SELECT md5($type || '|' || $value) "
            "AS allow_id, $type AS type, $value AS value, $rs AS range_start, $re AS range_end, "
            "$rsh AS range_start_hex, $reh AS range_end_hex, $reason AS reason, "
            "$by AS added_by, $now AS added_at, $exp AS expires_at",
            {
                "type": entry["type"],
                "value": entry["value"],
                "rs": entry["range_start"],
                "re": entry["range_end"],
                "rsh": entry["range_start_hex"],
                "reh": entry["range_end_hex"],
                "reason": reason,
                "by": added_by or os.environ.get("USER") or "unknown",
                "now": _now(),
                "exp": _naive(expires_at),
            },
        )
        return next(
            e
            for e in self.allowlist(include_expired=True)
            if e["value"] == entry["value"] and e["type"] == entry["type"]
        )

    def unallow(self, value: str, *, type: str | None = None) -> int:
        """Remove allowlist entries for a value (of one type, or of any); returns how many."""
        candidates = {value.strip(), value.strip().lower()}
        # An un-normalizable value can still be removed as stored.
        with contextlib.suppress(IntelError):
            candidates.add(normalize_value(self.con, value, type)["value"])
        row = self.con.execute(
            "SELECT count(*) FROM allowlist WHERE value IN (SELECT unnest($v::VARCHAR[])) "
            "AND ($t IS NULL OR type = $t)",
            {"v": sorted(candidates), "t": type},
        ).fetchone()
        self.con.execute(
            "DELETE FROM allowlist WHERE value IN (SELECT unnest($v::VARCHAR[])) "
            "AND ($t IS NULL OR type = $t)",
            {"v": sorted(candidates), "t": type},
        )
        return int(row[0]) if row else 0

    def allowlist(self, *, include_expired: bool = False) -> list[dict[str, Any]]:
        """Allowlist entries as JSON-ready dicts."""
        where = "" if include_expired else "WHERE expires_at IS NULL OR expires_at > $now"
        return _rows(
            self.con.execute(
                "SELECT allow_id, type, value, reason, added_by, added_at, expires_at, "
                "(expires_at IS NOT NULL AND expires_at <= $now) AS expired "
                f"FROM allowlist {where} ORDER BY type, value",
                {"now": _now()},
            )
        )

    def allowlist_table(self, at: datetime | None = None) -> ir.Table:
        """Allowlist entries in force at ``at`` (default now), as an Ibis table."""
        return allowlist_expr(self.store.table("allowlist"), at)

    # -- sightings -------------------------------------------------------------------------

    def record_sightings(self, rows: pa.Table | ir.Table) -> tuple[int, int]:
        """Store sightings (see ``record_sightings``); returns (new, updated)."""
        return record_sightings(self.con, rows)


def _naive(moment: datetime | None) -> datetime | None:
    if moment is None or moment.tzinfo is None:
        return moment
    return moment.astimezone(UTC).replace(tzinfo=None)


def infer_type(value: str) -> str:
    """The most likely type of a bare value (for text lists and ``intel allow``)."""
    v = value.strip(" ")  # as SQL's trim(): the SQL twin below must agree
    if re.fullmatch(r"[0-9]{1,3}(?:\.[0-9]{1,3}){3}(?:/[0-9]{1,2})?", v):
        return "ip"
    if ":" in v and re.fullmatch(r"[0-9A-Fa-f:.]+(?:/[0-9]{1,3})?", v):
        return "ip"
    if "://" in v:
        return "url"
    if "@" in v:
        return "email"
    if re.fullmatch(r"[0-9A-Fa-f]{32}|[0-9A-Fa-f]{40}|[0-9A-Fa-f]{64}|[0-9A-Fa-f]{128}", v):
        return "hash"
    if "/" in v:
        return "url"
    return "domain"


def infer_type_sql(column: str) -> str:
    """``infer_type`` as a DuckDB SQL expression (the two are tested to agree)."""
    column = f"trim({column})"
    return (
        f"CASE WHEN regexp_full_match({column}, "
        "'\\d{1,3}(?:\\.\\d{1,3}){3}(?:/\\d{1,2})?') THEN 'ip' "
        f"WHEN contains({column}, ':') AND regexp_full_match({column}, "
        "'[0-9A-Fa-f:.]+(?:/\\d{1,3})?') THEN 'ip' "
        f"WHEN contains({column}, '://') THEN 'url' "
        f"WHEN contains({column}, '@') THEN 'email' "
        f"WHEN regexp_full_match({column}, '[0-9A-Fa-f]{{32}}|[0-9A-Fa-f]{{40}}|"
        "[0-9A-Fa-f]{64}|[0-9A-Fa-f]{128}') THEN 'hash' "
        f"WHEN contains({column}, '/') THEN 'url' ELSE 'domain' END"
    )


def normalize_value(
    con: duckdb.DuckDBPyConnection, value: str, type: str | None = None
) -> dict[str, Any]:
    """Normalize one value exactly as an import would (type inferred when not given).

    Raises:
        IntelError: the type is not one signalfire knows.
    """
    kind = ALIASES.get((type or infer_type(value)).lower())
    if kind is None:
        raise IntelError(f"unknown indicator type {type!r}: use one of {', '.join(sorted(TYPES))}")
    stage = StageBuilder()
    stage.add(pos=0, type=kind, raw_value=value, source="allowlist", source_format="text")
    cursor = con.cursor()
    try:
        cursor.execute(f"CREATE TEMP TABLE sf_intel_stage ({_STAGE_DDL})")
        cursor.register("sf_stage_arrow", stage.table())
        cursor.execute("INSERT INTO sf_intel_stage BY NAME SELECT * FROM sf_stage_arrow")
        cursor.register("sf_ip6_arrow", _ipv6_rows([value.strip()] if ":" in value else []))
        cursor.execute("CREATE TEMP TABLE sf_ip6 AS SELECT * FROM sf_ip6_arrow")
        cursor.execute(NORMALIZE_SQL, {"confidence": 0, "tlp": None})
        return _rows(
            cursor.execute(
                "SELECT type, value, range_start, range_end, range_start_hex, range_end_hex, "
                "evaluable, unevaluable_reason FROM sf_intel_rows"
            )
        )[0]
    finally:
        cursor.close()


# -- detecting formats and walking paths ------------------------------------------------------

#: Files considered when a directory is walked (an explicitly named file is always read).
LIST_SUFFIXES = {".json", ".csv", ".intel", ".txt", ".tsv", ".list", ".dat", ".ioc", ".lst"}
_HEAD = 64 << 10


def _expand(paths: Sequence[Path], fmt: str) -> Iterator[tuple[Path, str]]:
    for path in paths:
        if not path.exists():
            raise SourceError(f"{path}: no such file or directory")
        if path.is_file():
            yield path, fmt
            continue
        if fmt in ("auto", "misp-feed") and (path / "manifest.json").is_file():
            yield path, "misp-feed"
            continue
        if fmt == "misp-feed":
            raise SourceError(f"{path}: not a MISP feed (no manifest.json)")
        feeds: list[Path] = []
        for child in sorted(path.rglob("*")):
            if any(child.is_relative_to(f) for f in feeds):
                continue
            if child.is_dir():
                if fmt == "auto" and (child / "manifest.json").is_file():
                    feeds.append(child)
                    yield child, "misp-feed"
                continue
            if child.suffix.lower() in LIST_SUFFIXES and not child.name.startswith("."):
                yield child, fmt


def detect_format(path: Path) -> str:
    """Recognise an input from its content: stix, misp, zeek, csv or text.

    Raises:
        IntelError: JSON that is neither STIX nor MISP.
    """
    with path.open("rb") as f:
        head = f.read(_HEAD).decode("utf-8", errors="replace").lstrip("\ufeff")
    stripped = head.lstrip()
    if stripped.startswith(("{", "[")):
        if re.search(
            r'"spec_version"\s*:|"type"\s*:\s*"bundle"|"id"\s*:\s*"[a-z][a-z0-9-]*--[0-9a-fA-F-]{36}"',
            head,
        ):
            return "stix"
        if re.search(r'"(Event|Attribute|Object|info|response)"\s*:', head):
            return "misp"
        raise IntelError(
            f"{path}: JSON that is neither a STIX bundle or object nor a MISP event: pass "
            "--format if it is one of them, or leave it out"
        )
    lines = head.splitlines()[:50]
    if any(line.startswith("#fields") for line in lines):
        return "zeek"
    if path.suffix.lower() == ".csv":
        return "csv"
    return "text"


def stage_file(
    con: duckdb.DuckDBPyConnection, path: Path, fmt: str, source: str | None, options: ImportOptions
) -> Staged:
    """Stage one file with the importer of its format."""
    if fmt == "stix":
        from signalfire.intel import stix_import

        return stix_import.stage_file(con, path, source)
    if fmt == "misp":
        from signalfire.intel import misp_import

        return misp_import.stage_event_file(path, source)
    if fmt == "zeek":
        from signalfire.intel import zeek_intel

        return zeek_intel.stage(con, path, source)
    if fmt in ("csv", "text"):
        from signalfire.intel import lists

        return lists.stage(con, path, source, fmt, explicit=options.format == fmt)
    raise IntelError(f"{path}: unknown format {fmt!r}")


def file_modified_iso(path: Path) -> str:
    """A file's modification time as ISO 8601 UTC: the 'modified' of dateless lists, so that a
    re-downloaded feed reasserts (and re-dates) what it still lists."""
    return datetime.fromtimestamp(path.stat().st_mtime, UTC).isoformat()


# -- engine-side helpers for matching ----------------------------------------------------------


def ipv4_to_int_expr(address: ir.StringValue) -> ir.IntegerValue:
    """An Ibis expression: a dotted-quad IPv4 address as BIGINT (NULL for anything else).

    Compare it with ``range_start``/``range_end`` of IPv4 indicators; runs on DuckDB and Spark.
    """
    import ibis

    parts = address.split(".")
    valid = address.re_search(r"^\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}$")
    total = (
        parts[0].try_cast("int64") * 16777216
        + parts[1].try_cast("int64") * 65536
        + parts[2].try_cast("int64") * 256
        + parts[3].try_cast("int64")
    )
    return ibis.cases((valid, total), else_=ibis.null("int64"))


def ipv4_to_int_sql(column: str) -> str:
    """The same as ``ipv4_to_int_expr`` in DuckDB SQL."""
    return (
        f"CASE WHEN regexp_full_match({column}, "
        "'\\d{1,3}\\.\\d{1,3}\\.\\d{1,3}\\.\\d{1,3}') "
        f"THEN TRY_CAST(split_part({column}, '.', 1) AS BIGINT) * 16777216 + "
        f"TRY_CAST(split_part({column}, '.', 2) AS BIGINT) * 65536 + "
        f"TRY_CAST(split_part({column}, '.', 3) AS BIGINT) * 256 + "
        f"TRY_CAST(split_part({column}, '.', 4) AS BIGINT) END"
    )


def active_indicators(
    indicators: ir.Table, at: datetime | None = None, decay: DecayModel | None = None
) -> ir.Table:
    """The indicators that alert at ``at`` (default now), with a ``current_confidence`` column.

    Alerting means: evaluable, meant for detection (``to_ids``), not revoked, ``valid_until``
    not passed, and the decayed confidence at or above the model's threshold. For scoring at
    each event's own time, join first and use ``DecayModel.confidence_expr``/``expired_expr``
    with the event's timestamp column instead.
    """
    model = decay or DecayModel.from_settings()
    current = model.confidence_expr(indicators, at)
    table = indicators.filter(indicators.evaluable, indicators.to_ids).mutate(
        current_confidence=current
    )
    return table.filter(~model.expired_expr(table, at))


def allowlist_expr(allowlist: ir.Table, at: datetime | None = None) -> ir.Table:
    """Allowlist entries in force at ``at`` (default now).

    How the entries apply (the matcher's side): ``ipv4``/``ipv6`` and every exact type suppress
    the same ``value``; ``ipv4_cidr`` suppresses addresses in [``range_start``, ``range_end``]
    (``range_*_hex`` for both families); ``domain`` suppresses the name and all its subdomains.
    Suppression is applied to old hits as well as new ones.
    """
    import ibis

    when = ibis.now() if at is None else ibis.timestamp(_naive(at))
    return allowlist.filter(allowlist.expires_at.isnull() | (allowlist.expires_at > when))


SIGHTING_COLUMNS = (
    "indicator_id",
    "alert_id",
    "observed_value",
    "event_table",
    "event_column",
    "first_seen",
    "last_seen",
    "count",
)


def record_sightings(con: duckdb.DuckDBPyConnection, rows: pa.Table | ir.Table) -> tuple[int, int]:
    """Store sightings of indicators in events; returns (new, updated).

    ``rows`` has the columns of ``SIGHTING_COLUMNS`` (``alert_id`` may be NULL). A sighting is
    identified by (indicator, alert, table, column, observed value); recording it again
    replaces its count and widens its first/last seen, so re-running a match over the same data
    does not inflate it.
    """
    table = rows if isinstance(rows, pa.Table) else rows.to_pyarrow()
    missing = [c for c in SIGHTING_COLUMNS if c not in table.column_names]
    if missing:
        raise IntelError(f"sightings need the columns {', '.join(missing)}")
    if table.num_rows == 0:
        return 0, 0
    con.register("sf_sightings_arrow", table.select(list(SIGHTING_COLUMNS)))
    try:
        con.execute(
            "CREATE OR REPLACE TEMP TABLE sf_sightings AS SELECT md5(indicator_id || '|' || "
            "coalesce(alert_id, '') || '|' || coalesce(event_table, '') || '|' || "
            "coalesce(event_column, '') || '|' || coalesce(observed_value, '')) AS sighting_id, "
            "indicator_id, any_value(alert_id) AS alert_id, any_value(observed_value) "
            "AS observed_value, any_value(event_table) AS event_table, any_value(event_column) "
            "AS event_column, min(first_seen)::TIMESTAMP AS first_seen, "
            "max(last_seen)::TIMESTAMP AS last_seen, sum(count)::BIGINT AS count "
            "FROM sf_sightings_arrow GROUP BY 1, 2"
        )
    finally:
        con.unregister("sf_sightings_arrow")
    row = con.execute(
        "SELECT count(*) FILTER (WHERE o.sighting_id IS NULL), count(o.sighting_id) "
        "FROM sf_sightings n LEFT JOIN sightings o USING (sighting_id)"
    ).fetchone()
    assert row is not None
    con.execute(
        "INSERT INTO sightings BY NAME SELECT *, $now AS created_at, $now AS updated_at "
        "FROM sf_sightings ON CONFLICT (sighting_id) DO UPDATE SET "
        "first_seen = least(sightings.first_seen, excluded.first_seen), "
        "last_seen = greatest(sightings.last_seen, excluded.last_seen), "
        "count = excluded.count, updated_at = excluded.updated_at",
        {"now": _now()},
    )
    con.execute("DROP TABLE sf_sightings")
    return int(row[0]), int(row[1])
