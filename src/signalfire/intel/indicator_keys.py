"""The indicator store seen by the matching: join keys, context, decay and the allowlist, as
Ibis expressions over the ``indicators`` and ``allowlist`` tables (so that matching stays in the
engine, on DuckDB and Spark alike)."""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from signalfire.intel.decay import DecayModel
from signalfire.intel.observables import ipv4_number, ipv6_prefix_key, url_key, with_ipv6_hex

#: Indicator type → the observation kind it is matched against (exact value).
EXACT_KINDS: dict[str, str] = {
    "ipv4": "ip",
    "ipv6": "ip",
    "domain": "domain",
    "url": "url",
    "md5": "hash",
    "sha1": "hash",
    "sha256": "hash",
    "sha512": "hash",
    "x509_serial": "x509_serial",
    "x509_md5": "x509_fingerprint",
    "x509_sha1": "x509_fingerprint",
    "x509_sha256": "x509_fingerprint",
    "ja3": "ja3",
    "ja3s": "ja3s",
    "ja4": "ja4",
    "hassh": "hassh",
    "hassh_server": "hassh_server",
}
#: Types whose values are hex (compared without colons, lower case).
_HEX_TYPES = (
    "md5",
    "sha1",
    "sha256",
    "sha512",
    "x509_serial",
    "x509_md5",
    "x509_sha1",
    "x509_sha256",
)


def _network(value: ir.StringValue) -> tuple[ir.StringValue, ir.IntegerValue]:
    """The address and prefix length of a CIDR written ``address/length``."""
    slash = value.find("/")
    return value.substr(0, slash), value.substr(slash + 1).cast("int64")


def keys(indicators: ir.Table) -> ir.Table:
    """(indicator_id, kind, match, key, length) of every indicator that can alert: evaluable
    ones meant for detection, of a type telemetry can show. ``match`` is ``exact`` (``key`` is
    the normalized value), ``cidr4`` (``key`` is the network as a number of ``length`` bits) or
    ``cidr6`` (``key`` is the network's first ``length`` bits as ``ipv6_prefix_key`` writes
    them)."""
    # MISP attributes without to_ids are context: listed, never alerting.
    i = indicators.filter(indicators.evaluable.fill_null(False), indicators.to_ids.fill_null(True))
    kind = ibis.cases(
        *[(i.type == t, k) for t, k in EXACT_KINDS.items()], else_=ibis.null("string")
    )
    value = ibis.ifelse(
        i.type.isin(_HEX_TYPES), i.value.lower().re_replace(r"[^0-9a-f]", ""), i.value.lower()
    )
    value = ibis.ifelse(i.type == "url", url_key(i.value), value)
    null_length = ibis.null("int64")
    exact = i.filter(kind.notnull()).select(
        "indicator_id", kind=kind, match=ibis.literal("exact"), key=value, length=null_length
    )
    v4 = i.filter(i.type == "ipv4_cidr")
    address, length = _network(v4.value)
    v4 = v4.select(
        "indicator_id",
        kind=ibis.literal("ip"),
        match=ibis.literal("cidr4"),
        key=(ipv4_number(address) / (ibis.literal(2) ** (32 - length)))
        .floor()
        .cast("int64")
        .cast("string"),
        length=length,
    )
    v6 = i.filter(i.type == "ipv6_cidr")
    address6, length6 = _network(v6.value)
    v6 = with_ipv6_hex(
        v6.select("indicator_id", address=address6, length=length6), "address", "hex32"
    )
    v6 = v6.select(
        "indicator_id",
        kind=ibis.literal("ip"),
        match=ibis.literal("cidr6"),
        key=ipv6_prefix_key(v6.hex32, v6.length),
        length=v6.length,
    )
    out = ibis.union(exact, v4, v6)
    return out.filter(out.key.notnull() & (out.key != ""))


def context(indicators: ir.Table) -> ir.Table:
    """What an alert says of its indicator, one row per indicator_id."""
    i = indicators
    return i.select(
        "indicator_id",
        "type",
        "confidence",
        "decay_from",
        "valid_until",
        "revoked",
        indicator_value=i.value,
        indicator_type=i.type,
        indicator_name=i.name,
        source=i.source,
        tlp=i.tlp,
        base_confidence=i.confidence,
        intrusion_sets=i.intrusion_sets,
        malware=i.malware,
        attack=i.attack,
    )


def with_confidence_at(t: ir.Table, at: str, model: DecayModel, out: str) -> ir.Table:
    """``t`` with ``out``: the indicator's confidence at the time in column ``at`` (decayed;
    0 once past ``valid_until``, revoked, or decayed below the model's threshold, so that it
    stops alerting). ``t`` carries the indicator's ``type``, ``confidence``, ``decay_from``,
    ``valid_until`` and ``revoked``. Two steps, so that the decay is computed once."""
    t = t.mutate(sf_decayed=model.confidence_expr(t, t[at]))
    expired = (
        t.revoked.fill_null(False)
        | (t.valid_until.notnull() & (t.valid_until <= t[at])).fill_null(False)
        | (t.sf_decayed < model.threshold)
    )
    return t.mutate(**{out: ibis.ifelse(expired, 0.0, t.sf_decayed)}).drop("sf_decayed")


def without_allowlisted(hits: ir.Table, allowlist: ir.Table, at: ir.TimestampValue) -> ir.Table:
    """``hits`` (kind, value, ...) without the values on the allowlist: an exact entry, a
    domain entry for the name or any parent, a CIDR entry containing the address."""
    from signalfire.intel.observables import parent_domains

    active = allowlist.filter(allowlist.expires_at.isnull() | (allowlist.expires_at > at))
    exact = active.filter(~active.type.isin(["ipv4_cidr", "ipv6_cidr"])).select(
        key=active.value.lower()
    )
    # Every candidate spelling of the hit's value an entry may name: the value itself and, for
    # names, its parents.
    spelled = hits.mutate(
        spelling=ibis.ifelse(
            hits.kind == "domain", parent_domains(hits.value), ibis.array([hits.value])
        )
    ).unnest("spelling")
    listed = spelled.semi_join(exact, spelled.spelling == exact.key).select("kind", "value")
    v4 = active.filter(active.type == "ipv4_cidr")
    address, length = _network(v4.value)
    v4 = v4.select(
        length=length,
        net=(ipv4_number(address) / (ibis.literal(2) ** (32 - length))).floor().cast("int64"),
    )
    ips = hits.filter(hits.kind == "ip").select("kind", "value")
    ips = ips.mutate(number=ipv4_number(ips.value)).filter(lambda t: t.number.notnull())
    ips = ips.cross_join(v4.select("length").distinct())
    ips = ips.mutate(
        net=(ips.number / (ibis.literal(2) ** (32 - ips.length))).floor().cast("int64")
    )
    in_v4 = ips.semi_join(v4, ["length", "net"]).select("kind", "value")
    drop = ibis.union(listed, in_v4).distinct()
    return hits.anti_join(drop, ["kind", "value"])
