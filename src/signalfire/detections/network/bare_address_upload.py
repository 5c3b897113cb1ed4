"""Bare-address uploads: a host pushes bulk data to an Internet address that no name points to,
over a protocol Zeek does not recognise: how a RAT or a hand-rolled exfiltration tool with a
hard-coded controller address looks once it starts sending files."""

from __future__ import annotations

from dataclasses import dataclass

import ibis
import ibis.expr.types as ir

from signalfire.detections.network.port_scan import step_score
from signalfire.detections.network.traffic import connection_key, is_announcement, wire_bytes
from signalfire.detections.registry import SEVERITIES, detection
from signalfire.errors import DetectionError


@dataclass(frozen=True)
class Params:
    # Bytes the host sent to the address in one UTC day over unidentified protocols. The
    # AndroidTester RAT of Stratosphere 003 sent 41.9 MB (three uploads of 7.7-19.3 MB); in
    # every other real capture we hold, the largest such transfer to a bare address is 3.1 MB
    # (RITA open_sni, an open session), the next 1.3 MB, then 73 kB. 10 MB sits 3.2× above
    # the first and 4.2× below the RAT, and is what a batch of phone photos or a few hundred
    # office documents weigh: less is too little to send an analyst after.
    min_bytes: int = 10_000_000
    # Sent >= this × received (payload bytes, the same connections). A raw upload gets only
    # TCP ACKs back (003: 41.9 MB out, 5.8 kB in, 7,180×), and a protocol that acknowledges
    # each chunk of kilobytes with a few bytes stays in the hundreds. Conversations (VPNs,
    # calls with video both ways, games, peer-to-peer swaps) are near 1×; an order of
    # magnitude keeps them out.
    min_upload_ratio: float = 10.0
    # The upload must be this many times the host's next largest external destination that
    # day (bytes sent over any protocol): one transfer out of proportion with everything
    # else the host sent. 003: 94× (next: 0.45 MB to a Facebook address). A host that is
    # busy uploading to many places (a backup client, a developer's workstation) gives no
    # such contrast and is left to network.exfiltration's baselines. An order of magnitude.
    min_dominance: float = 10.0
    # Severity steps: high from this many bytes (the scale of a mailbox, a database dump or
    # a document share; 2.4× the RAT's 41.9 MB), medium below.
    high_bytes: int = 100_000_000
    # When the source made no DNS query at all in the data, nothing says whether it resolved
    # the address: the alert is still raised, but at most at this severity. A site whose
    # sensor sees only its resolvers' queries (their answers still name the address) may
    # raise it to "medium".
    no_dns_max_severity: str = "low"
    # Zeek ``service`` (``network_protocol``) values that mean "not identified" besides null
    # and the empty string: Suricata's app_proto "failed" (detection attempted, no match).
    unidentified_protocols: tuple[str, ...] = ("", "-", "failed")
    # Score: 0.5 at min_bytes, 1.0 from this many bytes, logarithmic in between.
    score_saturation_bytes: int = 1_000_000_000


def _outbound(conn: ir.Table, p: Params) -> ir.Table:
    """Outbound records to unicast external addresses, with what the detection reads: bytes
    as seen on the wire (``traffic.wire_bytes``)."""
    dst = conn.destination_ip
    out = conn.filter(
        conn.source_internal,
        ~conn.destination_internal,
        conn.timestamp.notnull(),
        dst.notnull(),
        ~is_announcement(dst),
    )
    service = out.network_protocol.fill_null("").lower()
    return out.select(
        host=out.source_ip,
        destination=dst,
        day=out.timestamp.truncate("D"),
        key=connection_key(out),
        timestamp=out.timestamp,
        port=out.destination_port,
        transport=out.network_transport.fill_null(""),
        state=out.connection_state.fill_null(""),
        unidentified=service.isin(list(p.unidentified_protocols)).cast("int8"),
        sent=wire_bytes(out),
        received=out.destination_bytes.fill_null(0).cast("int64"),
        seconds=out.event_duration.fill_null(0.0),
    )


def _connections(rows: ir.Table) -> ir.Table:
    """One row per connection. Logs repeat connections: Zeek's open_conn / conn_long records
    and the final conn record share a uid, and the same conn.log is often ingested twice under
    two names (Stratosphere 001 holds every connection twice). Each connection counts once,
    with its largest record; a protocol recognised in any record identifies it."""
    one = rows.group_by(["host", "destination", "day", "key"]).aggregate(
        timestamp=rows.timestamp.min(),
        port=rows.port.max(),
        transport=rows.transport.max(),
        state=rows.state.argmax(rows.seconds),
        unidentified=rows.unidentified.min(),
        sent=rows.sent.max(),
        received=rows.received.max(),
        seconds=rows.seconds.max(),
    )
    return one.drop("key")


def _named(dns: ir.Table, tls: ir.Table, http: ir.Table) -> ir.Table:
    """Every address a name points to: DNS answers (any client's), and the destination of any
    TLS session with an SNI or HTTP request with a Host header that is a name, not a literal
    address (no top-level domain ends in a digit; IPv6 literals end in ``]``)."""
    answers = dns.select(address=dns.dns_answers.unnest())

    def by_name(t: ir.Table, name: ir.StringValue) -> ir.Table:
        # No strip(): on Spark, Ibis trims the letters v and f as well as white space.
        is_name = name.notnull() & (name != "") & ~name.right(1).isin(list("0123456789]"))
        return t.filter(is_name.fill_null(False)).select(address=t.destination_ip)

    host = http.url_domain
    port_at = host.find(":")
    host = ibis.ifelse(port_at > 0, host.substr(0, port_at), host)
    named = ibis.union(answers, by_name(tls, tls.tls_server_name), by_name(http, host))
    return named.filter(named.address.notnull())


@detection(
    id="network.bare_address_upload",
    title="Bulk upload to an address no name points to, over an unidentified protocol",
    attack=("T1048", "T1571"),
    inputs=("conn", "dns", "tls", "http"),
    severity="medium",
)
def bare_address_upload(
    conn: ir.Table, dns: ir.Table, tls: ir.Table, http: ir.Table, params: Params = Params()
) -> ir.Table:
    """One alert per (internal host, external address, UTC day) when the host uploaded bulk
    data to an address it can only have had hard-coded, over a protocol nobody recognised:

    1. **Unidentified protocol.** Only connections whose Zeek ``service`` is empty (or
       Suricata's ``app_proto`` ``failed``) count: uploads over TLS, HTTP, SSH, SMB and the
       rest are left to ``network.exfiltration``, which has names and baselines for them.
    2. **A bare address.** The address is in no DNS answer anywhere in the data (any client's)
       and no TLS SNI or HTTP Host header names it. Software reaches its servers through
       names; an address reached without one was configured by hand or compiled in, as
       RATs and droppers do with their controller.
    3. **Bulk and one-way.** The bytes the host sent there that day (over those connections,
       each connection counted once, bytes as seen on the wire) are at least ``min_bytes``
       (10 MB) and at least ``min_upload_ratio`` (10) times what came back.
    4. **Out of proportion.** They are at least ``min_dominance`` (10) times what the host
       sent to its next largest external destination that day, over any protocol.

    Severity is medium, high from ``high_bytes`` (100 MB); when the source made no DNS query
    at all in the data (a sensor that does not see it resolve), nothing says whether it had a
    name for the address, and the alert is capped at ``no_dns_max_severity`` (low). The
    score is 0.5 at ``min_bytes`` and 1.0 at ``score_saturation_bytes`` (1 GB), logarithmic.
    Evidence: bytes sent and received, the upload ratio, connections, ports and transports
    used, connection states, the share of the host's outbound bytes that day, the next
    largest destination and the ratio to it, whether the source made DNS queries, the total
    and the longest connection duration.

    Not covered: uploads split over several addresses so that none dominates, and uploads
    over a recognised protocol (HTTP to a bare address included). Days are UTC days: a
    transfer across midnight is judged in two halves. Look-alikes: video calls in which the
    host only sends (a presenter, the audience's cameras off), offsite backup or flow-export
    agents configured by address, a VPN to an address used only to upload:
    allowlist the legitimate ones in policy.
    """
    p = params
    if p.no_dns_max_severity not in SEVERITIES:
        raise DetectionError(
            f"no_dns_max_severity must be one of {', '.join(SEVERITIES)}, "
            f"not {p.no_dns_max_severity!r}"
        )
    key = ["host", "destination", "day"]
    service = conn.network_protocol.fill_null("").lower()

    # A cheap first pass over the unidentified records alone (a few per mille of outbound
    # rows): repeated records only add, so their plain sum bounds a pair's bytes from above.
    unknown = _outbound(conn.filter(service.isin(list(p.unidentified_protocols))), p)
    bound = unknown.group_by(key).aggregate(sent=unknown.sent.sum())
    bound = bound.filter(bound.sent >= p.min_bytes).select(*key)
    # Addresses a name points to, among those few (the small side of every join first).
    named = _named(dns, tls, http)
    named = named.semi_join(bound, named.address == bound.destination)
    bound = bound.anti_join(named, bound.destination == named.address)

    # Everything those hosts sent out that day, one row per connection, per destination.
    # (The records are picked before they are projected: the projection of all outbound
    # records, shared by both passes, would be materialised by DuckDB, five times slower.)
    hosts = bound.select("host", "day").distinct()
    mine = conn.semi_join(
        hosts, [conn.source_ip == hosts.host, conn.timestamp.truncate("D") == hosts.day]
    )
    cons = _connections(_outbound(mine, p))
    mask = cons.unidentified == 1
    none_i = ibis.null("int64")
    daily = cons.group_by(key).aggregate(
        sent_all=cons.sent.sum(),
        # Null-masked sums: conditional aggregates are not written alike on every engine.
        sent=ibis.ifelse(mask, cons.sent, none_i).sum(),
        received=ibis.ifelse(mask, cons.received, none_i).sum(),
    )
    big = daily.semi_join(bound, key)
    big = big.filter(
        big.sent >= p.min_bytes,
        big.sent >= p.min_upload_ratio * big.received,
    )

    # The host's other destinations that day: the largest, and the host's total.
    others = daily.select("host", "day", other="destination", other_sent="sent_all").inner_join(
        big.select(*key), ["host", "day"]
    )
    others = others.filter(others.other != others.destination)
    nxt = others.group_by(key).aggregate(
        next_bytes=others.other_sent.max(), other_bytes=others.other_sent.sum()
    )
    # The next destination by name, the lowest address among equals (same on every engine).
    top = others.inner_join(nxt, [*key, others.other_sent == nxt.next_bytes])
    top = top.group_by(key).aggregate(next_destination=top.other.min())
    cand = big.left_join(nxt, key).select(*big.columns, "next_bytes", "other_bytes")
    cand = cand.left_join(top, key).select(*cand.columns, "next_destination")
    cand = cand.mutate(
        next_bytes=cand.next_bytes.fill_null(0), other_bytes=cand.other_bytes.fill_null(0)
    )
    cand = cand.filter(cand.sent >= p.min_dominance * cand.next_bytes)

    # The connections behind each candidate.
    up = cons.filter(mask).semi_join(cand, key)
    # The port that carried most bytes (the lowest among equals, the same on every engine).
    by_port = up.group_by([*key, "port"]).aggregate(port_bytes=up.sent.sum())
    most = by_port.group_by(key).aggregate(port_bytes=by_port.port_bytes.max())
    main = by_port.inner_join(most, [*key, "port_bytes"])
    main = main.group_by(key).aggregate(port=main.port.min())
    facts = up.group_by(key).aggregate(
        first_seen=up.timestamp.min(),
        # Whole microseconds, floored on every engine (a cast rounds on DuckDB only).
        last_seen=(
            up.timestamp + (up.seconds * 1_000_000).floor().cast("int64").as_interval("us")
        ).max(),
        connections=up.count(),
        ports=up.port.collect(distinct=True).sort(),
        transports=up.transport.collect(distinct=True).sort(),
        states=up.state.collect(distinct=True).sort(),
        seconds=up.seconds.sum(),
        longest=up.seconds.max(),
    )
    asked = dns.filter(dns.source_ip.notnull()).select(host=dns.source_ip).distinct()
    per = cand.inner_join(facts, key).inner_join(main, key)
    per = per.left_join(asked, per.host == asked.host).select(
        *per.columns, dns_seen=asked.host.notnull()
    )

    rank = ibis.ifelse(
        per.sent >= p.high_bytes, SEVERITIES.index("high"), SEVERITIES.index("medium")
    )
    cap = SEVERITIES.index(p.no_dns_max_severity)
    rank = ibis.ifelse(per.dns_seen, rank, ibis.least(rank, cap))
    severity = ibis.cases(*[(rank == i, name) for i, name in enumerate(SEVERITIES)])
    host_total = per.sent_all + per.other_bytes
    none_f = ibis.null("float64")
    return per.select(
        entity=per.host + "|" + per.destination,
        window_start=per.day,
        first_seen=per.first_seen,
        last_seen=per.last_seen,
        source_ip=per.host,
        destination_ip=per.destination,
        destination_port=per.port,
        destination_domain=ibis.null("string"),
        score=step_score(per.sent, p.min_bytes, p.score_saturation_bytes),
        severity=severity,
        evidence=ibis.struct(
            {
                "bytes_sent": per.sent,
                "bytes_received": per.received,
                "upload_ratio": per.sent / ibis.greatest(per.received, 1),
                "connections": per.connections,
                "ports": per.ports,
                "transports": per.transports,
                "connection_states": per.states,
                "share_of_host_outbound": per.sent / ibis.greatest(host_total, 1),
                "next_destination": per.next_destination,
                "next_destination_bytes": per.next_bytes,
                "ratio_to_next_destination": ibis.ifelse(
                    per.next_bytes > 0, per.sent / per.next_bytes, none_f
                ),
                "source_dns_seen": per.dns_seen,
                "duration_seconds": per.seconds,
                "longest_connection_seconds": per.longest,
            }
        ),
    )
