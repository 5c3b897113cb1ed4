"""What the telemetry shows that an indicator can name, and how the two are matched in the engine.

Every ingested table contributes *observables*: columns whose values an indicator can name
(addresses, names, URLs, hashes, certificates, TLS and SSH fingerprints). Matching never
normalizes nor compares rows one by one: the distinct raw values of each column are taken
first and put in the indicators' form, those are matched (exact values by an equi-join,
domains through their parent domains, addresses through the CIDR prefixes present among the
indicators), and only then are the rows holding a matched raw value read again, by an
equi-join on the raw value, for their context.
Everything is Ibis, so it runs on DuckDB and on Spark alike.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import ibis
import ibis.expr.types as ir

#: Deepest parent domain tried: a.b.c.d.e.f.g.h.example.com has 11 labels.
MAX_LABELS = 12

_IPV4 = r"^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$"
_HEX = "0123456789abcdef"


def _name(value: ir.StringValue) -> ir.StringValue:
    """A host name as indicators write it: lower case, no trailing dot, no port."""
    return value.lower().re_replace(r"\.$", "").re_replace(r":\d+$", "")


def _hex(value: ir.StringValue) -> ir.StringValue:
    """Hashes, fingerprints and serials as indicators write them: lower-case hex, no colons."""
    return value.lower().re_replace(r"[^0-9a-f]", "")


def _lower(value: ir.StringValue) -> ir.StringValue:
    return value.lower()


def _is_ip(value: ir.StringValue) -> ir.BooleanValue:
    return value.re_search(_IPV4) | value.contains(":")


def _ip_only(value: ir.StringValue) -> ir.StringValue:
    v = value.lower()
    return ibis.ifelse(_is_ip(v), v, ibis.null("string"))


def _name_only(value: ir.StringValue) -> ir.StringValue:
    return ibis.ifelse(_is_ip(value), ibis.null("string"), _name(value))


def _url(host: ir.StringValue, uri: ir.StringValue) -> ir.StringValue:
    """``host/path?query`` without scheme: the form both sides of a URL match are put in."""
    uri = uri.fill_null("")
    absolute = uri.lower().startswith("http://") | uri.lower().startswith("https://")
    bare = uri.re_replace(r"^[A-Za-z]+://", "")
    with_host = _name(host) + ibis.ifelse(uri.startswith("/"), uri, "/" + uri)
    return ibis.ifelse(absolute, bare, with_host)


def url_key(url: ir.StringValue) -> ir.StringValue:
    """An indicator URL in the form ``_url`` gives observed ones: no scheme, host lower case."""
    bare = url.re_replace(r"^[A-Za-z]+://", "")
    slash = bare.find("/")
    host = ibis.ifelse(slash >= 0, bare.substr(0, slash), bare)
    path = ibis.ifelse(slash >= 0, bare.substr(slash), "/")
    return _name(host) + path


Column = Callable[[ir.Table], ir.Value]
Normalize = Callable[[ir.StringValue], ir.StringValue]


@dataclass(frozen=True)
class Observable:
    """One place an indicator can show: ``raw`` of each row of ``table`` (an array column is
    one value per element), put in the indicators' form by ``normalize``. ``host`` is the local
    end a hit is about (the client that looked a name up or connected; the server a known-bad
    address contacted), ``peer`` the other end."""

    where: str
    table: str
    kind: str
    raw: Column
    normalize: Normalize
    host: Column | None
    peer: Column | None
    array: bool = False


def _col(name: str) -> Column:
    return lambda t: t[name]


def _http_url(t: ir.Table) -> ir.Value:
    # Host and URI in one text, split again by normalize (a raw value is one column).
    return t.url_domain.fill_null("") + " " + t.url_original.fill_null("")


def _http_url_normalize(raw: ir.StringValue) -> ir.StringValue:
    at = raw.find(" ")
    return _url(raw.substr(0, at), raw.substr(at + 1))


_SRC, _DST = _col("source_ip"), _col("destination_ip")

#: Everything an indicator can be matched against. Addresses in conn are matched at both ends:
#: an internal host calling a bad address, and a bad address reaching an exposed server.
OBSERVABLES: tuple[Observable, ...] = (
    Observable("conn.destination_ip", "conn", "ip", _DST, _lower, _SRC, _DST),
    Observable("conn.source_ip", "conn", "ip", _SRC, _lower, _DST, _SRC),
    Observable("dns.query", "dns", "domain", _col("dns_question_name"), _name, _SRC, None),
    Observable("dns.answer", "dns", "ip", _col("dns_answers"), _ip_only, _SRC, None, True),
    Observable("dns.answer", "dns", "domain", _col("dns_answers"), _name_only, _SRC, None, True),
    Observable("http.host", "http", "domain", _col("url_domain"), _name_only, _SRC, _DST),
    Observable("http.host", "http", "ip", _col("url_domain"), _ip_only, _SRC, _DST),
    Observable("http.url", "http", "url", _http_url, _http_url_normalize, _SRC, _DST),
    Observable("tls.server_name", "tls", "domain", _col("tls_server_name"), _name, _SRC, _DST),
    Observable("tls.ja3", "tls", "ja3", _col("tls_ja3"), _lower, _SRC, _DST),
    Observable("tls.ja3s", "tls", "ja3s", _col("tls_ja3s"), _lower, _SRC, _DST),
    Observable("tls.ja4", "tls", "ja4", _col("tls_ja4"), _lower, _SRC, _DST),
    Observable(
        "tls.server_serial", "tls", "x509_serial", _col("tls_server_serial"), _hex, _SRC, _DST
    ),
    Observable(
        "tls.server_fingerprint",
        "tls",
        "x509_fingerprint",
        _col("tls_server_fingerprint"),
        _hex,
        _SRC,
        _DST,
    ),
    Observable(
        "tls.cert_chain",
        "tls",
        "x509_fingerprint",
        _col("tls_server_cert_fingerprints"),
        _hex,
        _SRC,
        _DST,
        True,
    ),
    Observable("x509.serial", "x509", "x509_serial", _col("x509_serial_number"), _hex, None, None),
    Observable("x509.fingerprint", "x509", "x509_fingerprint", _col("x509_id"), _hex, None, None),
    Observable("x509.san_dns", "x509", "domain", _col("x509_san_dns"), _name, None, None, True),
    # files.log's endpoints are its connection's: the originator is usually the local client.
    Observable("files.md5", "files", "hash", _col("file_hash_md5"), _hex, _SRC, _DST),
    Observable("files.sha1", "files", "hash", _col("file_hash_sha1"), _hex, _SRC, _DST),
    Observable("files.sha256", "files", "hash", _col("file_hash_sha256"), _hex, _SRC, _DST),
    Observable("ssh.hassh", "ssh", "hassh", _col("ssh_hassh"), _lower, _SRC, _DST),
    Observable(
        "ssh.hassh_server", "ssh", "hassh_server", _col("ssh_hassh_server"), _lower, _SRC, _DST
    ),
)


def _raw_values(t: ir.Table, o: Observable) -> ir.Table:
    """``raw`` of every row (one row per array element)."""
    raw = o.raw(t)
    return t.select(raw=raw.unnest() if o.array else raw)


def distinct_values(tables: Mapping[str, ir.Table]) -> ir.Table:
    """(where, kind, raw, value) for every distinct raw value of every observable whose table
    is given: the normalization runs on distinct values, not on rows."""
    parts = []
    for o in OBSERVABLES:
        t = tables.get(o.table)
        if t is None:
            continue
        raws = _raw_values(t, o)
        raws = raws.filter(raws.raw.notnull() & (raws.raw != "")).distinct()
        parts.append(
            raws.select(
                where=ibis.literal(o.where),
                kind=ibis.literal(o.kind),
                raw=raws.raw,
                value=o.normalize(raws.raw),
            )
        )
    # Values that normalize to nothing are left in (they join no key): a filter on ``value``
    # here would be pushed below the DISTINCT by DuckDB's optimizer and run the normalizing
    # regular expressions on every row (2.7 s of 3 over 14 M rows) instead of every value.
    return ibis.union(*parts)


def matched_rows(tables: Mapping[str, ir.Table], hits: ir.Table) -> ir.Table:
    """The rows behind ``hits`` (where, raw, plus any columns such as indicator_id), with the
    event's time, endpoints, host and peer. ``hits`` must be small and computed (cached): each
    observable's rows are joined with its own hits before the union, so that the engine builds
    its hash table on a few values and probes the table once per observable, instead of
    building one union of every row."""
    null = ibis.null("string")
    parts = []
    for o in OBSERVABLES:
        t = tables.get(o.table)
        if t is None:
            continue
        has = set(t.columns)
        rows = t.select(
            timestamp=t.timestamp,
            host=o.host(t) if o.host is not None else null,
            peer=o.peer(t) if o.peer is not None else null,
            source_ip=t.source_ip if "source_ip" in has else null,
            destination_ip=t.destination_ip if "destination_ip" in has else null,
            destination_port=(
                t.destination_port.cast("int32")
                if "destination_port" in has
                else ibis.null("int32")
            ),
            uid=t.uid if "uid" in has else null,
            raw=o.raw(t).unnest() if o.array else o.raw(t),
        )
        mine = hits.filter(hits["where"] == o.where)
        parts.append(rows.join(mine, "raw"))
    return ibis.union(*parts)


def ipv4_number(ip: ir.StringValue) -> ir.IntegerValue:
    """An IPv4 address as an integer (null when the text is not one)."""
    octets = [ip.re_extract(_IPV4, i).nullif("").cast("int64") for i in (1, 2, 3, 4)]
    return octets[0] * 16_777_216 + octets[1] * 65_536 + octets[2] * 256 + octets[3]


def with_ipv6_hex(t: ir.Table, column: str, out: str) -> ir.Table:
    """``t`` with ``out``: the IPv6 address in ``column`` as its 32 hex digits (``::``
    expanded, groups zero-padded); null when the text is not a plain IPv6 address (embedded
    IPv4 forms are left out). Built in steps, each a column of the previous one: written as one
    expression, every reuse of a part is inlined and the SQL grows to megabytes."""
    t = t.mutate(sf6_a=t[column].lower().re_replace(r"%.*$", ""))
    t = t.mutate(sf6_at=t.sf6_a.find("::"))
    t = t.mutate(
        sf6_left=ibis.ifelse(t.sf6_at >= 0, t.sf6_a.substr(0, t.sf6_at), t.sf6_a),
        sf6_right=ibis.ifelse(t.sf6_at >= 0, t.sf6_a.substr(t.sf6_at + 2), ""),
    )

    def groups(s: ir.StringValue) -> ir.IntegerValue:
        return ibis.ifelse(s == "", 0, s.length() - s.replace(":", "").length() + 1)

    t = t.mutate(sf6_missing=8 - groups(t.sf6_left) - groups(t.sf6_right))
    zeros = ibis.literal("0:").repeat(ibis.greatest(t.sf6_missing, 0))
    t = t.mutate(
        sf6_full=ibis.ifelse(
            t.sf6_at >= 0, ibis.ifelse(t.sf6_left == "", "", t.sf6_left + ":") + zeros, ""
        )
        + ibis.ifelse(t.sf6_at >= 0, t.sf6_right, t.sf6_a)
    )
    t = t.mutate(sf6_full=t.sf6_full.re_replace(":$", ""))
    # Four hex digits per group: each group padded on the left, then joined.
    t = t.mutate(sf6_hex=t.sf6_full.split(":").map(lambda g: g.lpad(4, "0")).join(""))
    ok = (
        t.sf6_a.re_search(r"^[0-9a-f:]+$")
        & (t.sf6_hex.length() == 32)
        & ((t.sf6_at >= 0) | (t.sf6_missing == 0))
    )
    t = t.mutate(**{out: ibis.ifelse(ok, t.sf6_hex, ibis.null("string"))})
    return t.drop("sf6_a", "sf6_at", "sf6_left", "sf6_right", "sf6_missing", "sf6_full", "sf6_hex")


def ipv6_prefix_key(hex32: ir.StringValue, length: ir.IntegerValue) -> ir.StringValue:
    """The first ``length`` bits of a 32-hex-digit IPv6 address, as text: whole hex digits,
    then the remaining bits of the next digit as a number."""
    whole = (length / 4).floor().cast("int64")
    rest = length - whole * 4
    nibble = ibis.literal(_HEX).find(hex32.substr(whole, 1))
    bits = (nibble / (ibis.literal(2) ** (4 - rest))).floor().cast("int64")
    return hex32.substr(0, whole) + "/" + ibis.ifelse(rest > 0, bits.cast("string"), "")


def parent_domains(name: ir.StringValue) -> ir.ArrayValue:
    """The name and each of its parent domains with at least two labels (``a.b.evil.com`` →
    ``a.b.evil.com``, ``b.evil.com``, ``evil.com``); a one-label name is itself."""
    suffixes = [name] + [
        name.re_extract(rf"^(?:[^.]+\.){{{k}}}([^.]+\.[^.]+.*)$", 1) for k in range(1, MAX_LABELS)
    ]
    return ibis.array(suffixes).filter(lambda s: s.notnull() & (s != ""))
