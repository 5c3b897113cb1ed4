"""Long connections: a session that stays up for hours is how much C2 and tunnelling looks."""

from __future__ import annotations

from dataclasses import dataclass

import ibis
import ibis.expr.types as ir

from signalfire.detections.registry import detection


@dataclass(frozen=True)
class Params:
    # RITA's default: an hour is longer than nearly all benign sessions outside admin work.
    min_duration_hours: float = 1.0
    # Severity steps (hours): analysts triage a 12-hour tunnel before a 1-hour download.
    medium_hours: float = 4.0
    high_hours: float = 8.0
    critical_hours: float = 12.0
    # Score reaches 1 at this length.
    score_saturation_hours: float = 24.0


def _named(per: ir.Table, tls: ir.Table, http: ir.Table) -> ir.Table:
    """``per`` with ``domain``: the SNI, else the HTTP Host (without port), of its uid. The few
    long connections go on the left of the joins; the names are filtered to their uids first."""
    sni = tls.select(uid=tls.uid, name=tls.tls_server_name.lower())
    host = http.url_domain.lower()
    port_at = host.find(":")
    host = ibis.ifelse(port_at > 0, host.substr(0, port_at), host)
    named = ibis.union(sni.mutate(rank=0), http.select(uid=http.uid, name=host).mutate(rank=1))
    named = named.filter(named.name.notnull() & (named.name != ""))
    named = named.semi_join(per, named.uid == per.uid)
    best = named.group_by("uid").aggregate(rank=named.rank.min())
    first = named.join(best, ["uid", "rank"])
    names = first.group_by("uid").aggregate(domain=first.name.min())
    j = per.left_join(names, per.uid == names.uid)
    return j.select(*per.columns, domain=j.domain)


@detection(
    id="network.long_connection",
    title="Long-lived connection",
    attack=("T1071", "T1029"),
    inputs=("conn", "tls", "http"),
    severity="low",
)
def long_connection(
    conn: ir.Table, tls: ir.Table, http: ir.Table, params: Params = Params()
) -> ir.Table:
    """One alert per connection that lasted at least ``min_duration_hours``, including those
    still open at the end of the data (Zeek ``open_conn`` / ``conn_long`` records, whose
    duration so far is counted). Severity steps at 1/4/8/12 hours by default; the evidence
    gives the duration, bytes each way, the state and whether the connection is still open.
    The destination's name is the TLS SNI or HTTP Host of the same connection (same uid,
    Zeek ``open_ssl``/``open_http`` records included), so that a tunnel to a CDN or a
    shared host says which site it is."""
    hours = conn.event_duration / 3600.0
    still_open = conn.event_dataset.isin(["open_conn", "conn_long"])
    # A connection seen several times (open, then closed) is one entity: keep its longest record.
    long = conn.filter(hours >= params.min_duration_hours).mutate(
        hours=hours, still_open=still_open
    )
    key = [long.uid, long.source_ip, long.destination_ip, long.destination_port]
    per = long.group_by(key).aggregate(
        first_seen=long.timestamp.min(),
        hours=long.hours.max(),
        still_open=long.still_open.min(),
        source_bytes=long.source_bytes.max(),
        destination_bytes=long.destination_bytes.max(),
        transport=long.network_transport.max(),
        service=long.network_protocol.max(),
        state=long.connection_state.max(),
    )
    per = _named(per, tls, http)
    severity = ibis.cases(
        (per.hours >= params.critical_hours, "critical"),
        (per.hours >= params.high_hours, "high"),
        (per.hours >= params.medium_hours, "medium"),
        else_="low",
    )
    return per.select(
        entity=per.uid.fill_null("") + "|" + per.source_ip + "|" + per.destination_ip,
        window_start=per.first_seen.truncate("D"),
        first_seen=per.first_seen,
        last_seen=per.first_seen + (per.hours * 3600_000_000).cast("int64").as_interval("us"),
        source_ip=per.source_ip,
        destination_ip=per.destination_ip,
        destination_port=per.destination_port,
        destination_domain=per.domain,
        score=ibis.least(per.hours / params.score_saturation_hours, 1.0),
        severity=severity,
        evidence=ibis.struct(
            {
                "duration_hours": per.hours,
                "still_open": per.still_open,
                "source_bytes": per.source_bytes,
                "destination_bytes": per.destination_bytes,
                "transport": per.transport,
                "service": per.service,
                "state": per.state,
                "uid": per.uid,
            }
        ),
    )
