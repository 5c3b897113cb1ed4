"""Threat-intelligence matches: telemetry that contains a known-bad address, name, URL, hash,
certificate or TLS fingerprint from the indicator store."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache

import ibis
import ibis.expr.types as ir

from signalfire.detections.registry import detection
from signalfire.intel import indicator_keys
from signalfire.intel.attack import bundled_catalog
from signalfire.intel.decay import DecayModel
from signalfire.intel.observables import (
    distinct_values,
    ipv4_number,
    ipv6_prefix_key,
    matched_rows,
    parent_domains,
    with_ipv6_hex,
)

#: Connection uids listed in an alert's evidence (the rest are counted in ``events``).
MAX_UIDS = 20
#: The tables an indicator can be seen in (the order is the function's arguments).
TELEMETRY = ("conn", "dns", "http", "tls", "x509", "files", "ssh")


@dataclass(frozen=True)
class Params:
    # Severity from the indicator's confidence at the time of the event (after decay): the
    # steps of MISP's and OpenCTI's usual bands (75+ high, 50+ medium, else low).
    high_confidence: int = 75
    medium_confidence: int = 50
    # A hit on an indicator tied to a known intrusion set is raised one step (to at most
    # critical): an analyst triages "APT1 is here" before "a spam host was here".
    attributed_bonus: bool = True
    # Hits whose indicator's confidence at the time of the event is below this are not raised.
    # 0 leaves the cut to the decay model, whose threshold (MISP's 30) already expires them.
    min_confidence: int = 0
    # Parent-domain and CIDR matching cost more than exact matching (a join per parent and per
    # prefix length); off only to measure that cost (benchmarks/intel.py).
    parent_domains: bool = True
    cidr: bool = True
    # MISP's polynomial decay with a lifetime per indicator type, from the settings
    # (SIGNALFIRE_INTEL_DECAY_*): signalfire.intel.decay.
    decay: DecayModel = field(default_factory=DecayModel.from_settings)


@cache
def _group_rows() -> dict[str, list[str]]:
    """ATT&CK's intrusion sets, one row per (lower-case name or alias, technique), with the
    group's id and name: the shipped catalogue, so that every engine sees the same table."""
    rows: dict[str, list[str]] = {"name_key": [], "group_id": [], "group_name": [], "technique": []}
    for group in bundled_catalog().groups:
        if not group.current:
            continue
        for alias in {group.name.lower(), group.id.lower(), *(a.lower() for a in group.aliases)}:
            for technique in group.techniques:
                rows["name_key"].append(alias)
                rows["group_id"].append(group.id)
                rows["group_name"].append(group.name)
                rows["technique"].append(technique)
    return rows


def _attribution(g: ir.Table) -> ir.Table:
    """(indicator_id, group_attack, groups): the ATT&CK techniques of the intrusion sets the
    indicator is tied to, when ATT&CK knows them by that name or an alias, and their ids."""
    groups = ibis.memtable(_group_rows())
    sets = g.select("indicator_id", set_name=g.intrusion_sets.unnest()).distinct()
    known = sets.join(groups, sets.set_name.lower() == groups.name_key)
    return known.group_by("indicator_id").aggregate(
        group_attack=known.technique.collect(distinct=True).sort(),
        groups=(known.group_name + " (" + known.group_id + ")").collect(distinct=True).sort(),
    )


def _hits(values: ir.Table, keys: ir.Table, params: Params) -> ir.Table:
    """(kind, value, indicator_id, matched) for every distinct observed (kind, value) that an
    indicator names: exactly, as a parent domain, or inside a CIDR range."""
    exact_keys = keys.filter(keys.match == "exact").select("indicator_id", "kind", key=keys.key)
    exact = values.join(
        exact_keys, [values.kind == exact_keys.kind, values.value == exact_keys.key]
    ).select("kind", "value", "indicator_id", matched=ibis.literal("exact"))

    names = values.filter(values.kind == "domain")
    names = names.mutate(parent=parent_domains(names.value)).unnest("parent")
    names = names.filter(names.parent != names.value)
    domain_keys = keys.filter(keys.match == "exact", keys.kind == "domain").select(
        "indicator_id", key=keys.key
    )
    parents = names.join(domain_keys, names.parent == domain_keys.key).select(
        "kind", "value", "indicator_id", matched=ibis.literal("parent domain")
    )

    ips = values.filter(values.kind == "ip")
    v4_keys = keys.filter(keys.match == "cidr4").select(
        "indicator_id", "length", net=keys.key.cast("int64")
    )
    lengths = v4_keys.select("length").distinct()
    v4 = ips.mutate(number=ipv4_number(ips.value))
    v4 = v4.filter(v4.number.notnull()).cross_join(lengths)
    v4 = v4.mutate(net=(v4.number / (ibis.literal(2) ** (32 - v4.length))).floor().cast("int64"))
    in_v4 = v4.join(v4_keys, ["length", "net"]).select(
        "kind", "value", "indicator_id", matched=ibis.literal("cidr")
    )

    v6_keys = keys.filter(keys.match == "cidr6").select("indicator_id", "length", "key")
    v6_lengths = v6_keys.select("length").distinct()
    v6 = with_ipv6_hex(ips.filter(ips.value.contains(":")), "value", "hex32")
    v6 = v6.filter(v6.hex32.notnull()).cross_join(v6_lengths)
    v6 = v6.mutate(key=ipv6_prefix_key(v6.hex32, v6.length))
    in_v6 = v6.join(v6_keys, ["length", "key"]).select(
        "kind", "value", "indicator_id", matched=ibis.literal("cidr")
    )
    parts = [exact]
    if params.parent_domains:
        parts.append(parents)
    if params.cidr:
        parts += [in_v4, in_v6]
    return ibis.union(*parts)


@detection(
    id="intel.indicator_match",
    title="Known-bad indicator seen in telemetry",
    attack=("T1071",),
    inputs=(*TELEMETRY, "indicators", "allowlist"),
    severity="high",
    requires=("indicators",),
)
def indicator_match(
    conn: ir.Table,
    dns: ir.Table,
    http: ir.Table,
    tls: ir.Table,
    x509: ir.Table,
    files: ir.Table,
    ssh: ir.Table,
    indicators: ir.Table,
    allowlist: ir.Table,
    params: Params = Params(),
) -> ir.Table:
    """One alert per (indicator, local host, UTC day) whose telemetry contains an indicator of
    the store: an address in conn (either end), a DNS answer or an HTTP Host; a domain asked in
    DNS, answered as a CNAME, sent as TLS SNI or HTTP Host, or named in a certificate, the
    indicator also matching every subdomain of the name it gives (``evil.com`` matches
    ``a.b.evil.com``); a URL (scheme ignored); a file hash (files.log); a certificate serial or
    fingerprint; a JA3, JA3S or JA4 fingerprint. CIDR indicators (IPv4 and IPv6) match every
    address inside.

    Matching runs in the engine on the distinct observed values, not on every row: exact kinds
    by an equi-join, parent domains by joining each name's parents, CIDRs by joining each
    address's prefix at every prefix length the indicators use. Only the rows holding a
    matched value are read again, for the alert's context.

    The indicator's confidence is taken at the time of each event, after decay (MISP's
    polynomial model, per indicator type): an event while the indicator was fresh stays an
    alert; one after ``valid_until`` or once the confidence decayed to 0 is not raised.
    Severity: high from confidence 75, medium from 50, else low, one step more when the
    indicator is tied to an intrusion set; low when the host only relayed the lookups of its
    clients (a DNS server: the clients' own alerts name them). Values on the allowlist are
    never raised (and alerts raised before the entry are withdrawn on the next run). The alert
    names the
    indicator, its source, the intrusion sets and malware it indicates, and ATT&CK techniques:
    the indicator's own, else those the intrusion set is known to use.
    """
    telemetry = dict(zip(TELEMETRY, (conn, dns, http, tls, x509, files, ssh), strict=True))
    values = distinct_values(telemetry)
    keys = indicator_keys.keys(indicators)
    hits = _hits(values.select("kind", "value").distinct(), keys, params)
    hits = indicator_keys.without_allowlisted(hits, allowlist, ibis.now())
    # The hits are few, but no engine can tell from the plan: computed (and cached) first, they
    # join the rows as the small side. Joined as an expression, DuckDB built its hash table on
    # every row instead (24 s and 11 GB at 10 M conn rows).
    hit_raws = values.join(hits, ["kind", "value"]).cache()
    seen = matched_rows(telemetry, hit_raws)
    ind = indicator_keys.context(indicators)
    seen = seen.join(ind, "indicator_id")
    seen = indicator_keys.with_confidence_at(seen, "timestamp", params.decay, "confidence_then")
    seen = seen.filter(
        seen.confidence_then.notnull()
        & (seen.confidence_then > 0)
        & (seen.confidence_then >= params.min_confidence)
    )
    # A resolver that forwards its clients' lookups asks for the bad name too: its hits are
    # kept (the client may be invisible) but marked, and raised at low severity only.
    resolvers = dns.filter(dns.destination_port == 53).select(resolver=dns.destination_ip)
    resolvers = resolvers.filter(resolvers.resolver.notnull()).distinct()
    seen = seen.left_join(resolvers, seen.host == resolvers.resolver)
    relayed = seen.where.startswith("dns.") & seen.resolver.notnull()
    seen = seen.mutate(
        day=seen.timestamp.truncate("D"),
        host=seen.host.fill_null(""),
        relayed=relayed.cast("int64"),
    )
    g = seen.group_by(["indicator_id", "host", "day"]).aggregate(
        first_seen=seen.timestamp.min(),
        last_seen=seen.timestamp.max(),
        events=seen.count(),
        confidence=seen.confidence_then.max(),
        observed=seen.value.max(),
        kind=seen.kind.max(),
        matched=seen.matched.max(),
        where=seen.where.collect(distinct=True),
        peers=seen.peer.nunique(),
        peer=seen.peer.max(),
        source_ip=seen.source_ip.min(),
        destination_ip=seen.destination_ip.max(),
        destination_port=seen.destination_port.max(),
        # A sample of the connections behind the alert, to pivot to the raw lines.
        uids=seen.uid.collect(distinct=True)[:MAX_UIDS],
        relayed=seen.relayed.min() == 1,
    )
    g = g.join(ind, "indicator_id")
    # From the indicators, not from ``g``: an expression used twice is computed twice.
    by_group = _attribution(ind.filter(ind.intrusion_sets.length() > 0))
    g = g.left_join(by_group, g.indicator_id == by_group.indicator_id).drop("indicator_id_right")
    step = ibis.cases(
        (g.confidence >= params.high_confidence, 3),
        (g.confidence >= params.medium_confidence, 2),
        else_=1,
    )
    attributed = g.intrusion_sets.length() > 0
    if params.attributed_bonus:
        step = ibis.least(step + attributed.cast("int64"), 4)
    step = ibis.ifelse(g.relayed, 1, step)
    severity = ibis.cases(
        (step == 4, "critical"), (step == 3, "high"), (step == 2, "medium"), else_="low"
    )
    # The indicator's domain (the observed name, maybe a subdomain, is in the evidence).
    domain = ibis.ifelse(g.kind == "domain", g.indicator_value, ibis.null("string"))
    return g.select(
        entity=g.indicator_id + "|" + g.host,
        window_start=g.day,
        first_seen=g.first_seen,
        last_seen=g.last_seen,
        source_ip=ibis.ifelse(g.host != "", g.source_ip, ibis.null("string")),
        destination_ip=g.destination_ip,
        destination_port=g.destination_port,
        destination_domain=domain,
        score=(g.confidence / 100.0).clip(0.0, 1.0),
        severity=severity,
        # The indicator's own techniques, else those ATT&CK knows its intrusion sets use.
        attack=ibis.ifelse(g.attack.length().fill_null(0) > 0, g.attack, g.group_attack),
        intrusion_set=ibis.ifelse(
            attributed,
            ibis.ifelse(g.groups.length().fill_null(0) > 0, g.groups, g.intrusion_sets).join(", "),
            ibis.null("string"),
        ),
        evidence=ibis.struct(
            {
                "indicator_id": g.indicator_id,
                "indicator": g.indicator_value,
                "indicator_type": g.indicator_type,
                "indicator_name": g.indicator_name,
                "source": g.source,
                "tlp": g.tlp,
                "observed": g.observed,
                "matched": g.matched,
                "seen_in": g.where,
                "events": g.events,
                "confidence": g.confidence,
                "base_confidence": g.base_confidence,
                "valid_until": g.valid_until,
                "intrusion_sets": g.intrusion_sets,
                "attack_groups": g.groups,
                "malware": g.malware,
                "host": g.host,
                "relayed_by_resolver": g.relayed,
                "peers": g.peers,
                "uids": g.uids,
            }
        ),
    )
