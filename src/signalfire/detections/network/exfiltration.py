"""Exfiltration: a host sends one external destination far more than it and its peers do."""

from __future__ import annotations

from dataclasses import dataclass

import ibis
import ibis.expr.types as ir

from signalfire.detections.network.port_scan import step_score
from signalfire.detections.network.traffic import connection_key, wire_bytes
from signalfire.detections.registry import detection

#: A MAD times this estimates a normal standard deviation (Iglewicz and Hoaglin).
MAD_SCALE = 1.4826


@dataclass(frozen=True)
class Params:
    # Nothing below this in one hour (or one day) to one destination is reported, however
    # quiet the host: mail attachments and shared documents reach tens of MB.
    min_bytes: int = 50_000_000
    # Modified z-scores of log10 bytes (median and MAD) above which a value is an outlier:
    # Iglewicz and Hoaglin's 3.5. The host's own test and the peers' must both pass.
    min_z_host: float = 3.5
    min_z_peers: float = 3.5
    # A MAD below this (in decades) is raised to it: a host with near-constant traffic would
    # otherwise turn a doubling into a huge z.
    min_mad_decades: float = 0.15
    # Peers are the other hosts of the source's /24 (IPv4; the first four groups of an IPv6
    # address as written). With fewer than this many the peer test is waived, and with fewer
    # active in the hour the host is compared with its raw history (a lone server).
    min_peers: int = 3
    # History the host test needs: hours (hourly test) and days (daily test; a MAD of fewer
    # points says little, so with less than a week of data only the hourly test runs).
    min_baseline_hours: int = 6
    min_baseline_days: int = 7
    # Severity steps: a gigabyte out, or twice the z threshold, is high.
    high_bytes: int = 1_000_000_000
    # Score reaches 1 at this z (of the weaker of the two tests).
    score_saturation_z: float = 10.0


def _peer_net(ip: ir.StringValue) -> ir.StringValue:
    """The /24 of an IPv4 address, the first four groups of an IPv6 one (as written). A regex:
    Spark's split() takes a regex, so split(".") would split on every character."""
    v4 = ip.re_extract(r"^(\d+\.\d+\.\d+)\.\d+$", 1)
    v6 = ip.lower().re_extract(r"^([0-9a-f]*:[0-9a-f]*:[0-9a-f]*:[0-9a-f]*):", 1)
    return ibis.cases((v4 != "", v4 + ".0/24"), (v6 != "", v6 + "::/64"), else_=ip)


def _median_mad(table: ir.Table, by: list[str], value: str) -> ir.Table:
    """``by`` + median, mad and points of ``value``."""
    med = table.group_by(by).aggregate(median=table[value].median(), points=table.count())
    dev = table.join(med, by)
    dev = dev.mutate(deviation=(dev[value] - dev.median).abs())
    mad = dev.group_by(by).aggregate(mad=dev.deviation.median())
    return med.join(mad, by)


def _outliers(cells: ir.Table, bucket: str, min_points: int, params: Params) -> ir.Table:
    """Cells (host, destination, ``bucket``, bytes) far above both the host's usual largest
    transfer to one destination per ``bucket`` and its peers' usual largest transfer (robust
    z-scores of log10).

    Host test, over time: the host's largest transfer to one destination in the bucket minus
    the median of that peak over the /24's hosts active in the same bucket, against the
    median and MAD of that offset over the host's history. The peak, not the host's total:
    the question is whether one destination gets far more than any usually does, and a busy
    host's total (hundreds of small sessions an hour) grows with its activity and would hide
    a gigabyte to one place. Raw hourly peaks of a workstation span decades between night and
    day; the offset removes the rhythm all hosts share. Buckets with too few active peers
    fall back to the host's raw peaks.

    Peer test, across hosts: the cell against the peers' typical daily peak, the median (and
    MAD) over the /24's hosts of the largest transfer each made to one destination in one
    bucket that day. Peers' totals in the same hour vary too much from host to host (a busy
    and an idle workstation) to say what is out of place; their peaks say how large a
    legitimate single transfer gets in that group.
    """
    floor = params.min_mad_decades
    cells = cells.mutate(net=_peer_net(cells.host), day=cells[bucket].truncate("D"))
    bucket_peaks = cells.group_by(["host", "net", bucket]).aggregate(bytes=cells.bytes.max())
    bucket_peaks = bucket_peaks.mutate(level=(bucket_peaks.bytes + 1).log10())
    same_time = _median_mad(bucket_peaks, ["net", bucket], "level").rename(
        now_median="median", now_mad="mad", active="points"
    )
    placed = bucket_peaks.join(same_time, ["net", bucket])
    peered = placed.filter(placed.active > params.min_peers)
    relative = _median_mad(
        peered.mutate(offset=peered.level - peered.now_median), ["host"], "offset"
    ).rename(offset_median="median", offset_mad="mad", offset_points="points")
    raw = _median_mad(bucket_peaks, ["host"], "level").rename(
        raw_median="median", raw_mad="mad", raw_points="points"
    )
    peaks = cells.group_by(["host", "net", "day"]).aggregate(peak=(cells.bytes.max() + 1).log10())
    typical = _median_mad(peaks, ["net", "day"], "peak").rename(
        peak_median="median", peak_mad="mad", peak_hosts="points"
    )

    big = cells.filter(cells.bytes >= params.min_bytes)
    big = big.mutate(level=(big.bytes + 1).log10())
    x = (
        big.join(same_time, ["net", bucket])
        .join(raw, "host")
        .left_join(relative, "host")
        .join(typical, ["net", "day"])
        .select(
            "host",
            "destination",
            "day",
            "bytes",
            "level",
            "now_median",
            "active",
            "raw_median",
            "raw_mad",
            "raw_points",
            "offset_median",
            "offset_mad",
            "offset_points",
            "peak_median",
            "peak_mad",
            "peak_hosts",
        )
    )
    relative_ok = (x.active > params.min_peers) & (x.offset_points.fill_null(0) >= min_points)
    z_relative = (x.level - x.now_median - x.offset_median) / (
        MAD_SCALE * ibis.greatest(x.offset_mad, floor)
    )
    z_raw = (x.level - x.raw_median) / (MAD_SCALE * ibis.greatest(x.raw_mad, floor))
    has_peers = x.peak_hosts > params.min_peers
    z_peer = (x.level - x.peak_median) / (MAD_SCALE * ibis.greatest(x.peak_mad, floor))
    x = x.mutate(
        z_host=ibis.ifelse(relative_ok, z_relative, z_raw),
        z_peer=ibis.ifelse(has_peers, z_peer, ibis.null("float64")),
        host_points=ibis.ifelse(relative_ok, x.offset_points, x.raw_points),
        # The host's usual largest transfer per bucket, as the test used sees it.
        host_baseline=ibis.ifelse(
            relative_ok,
            ibis.literal(10.0) ** (x.now_median + x.offset_median),
            ibis.literal(10.0) ** x.raw_median,
        ),
        peer_baseline=ibis.ifelse(
            has_peers, ibis.literal(10.0) ** x.peak_median, ibis.null("float64")
        ),
        peers=ibis.ifelse(has_peers, x.peak_hosts - 1, 0),
    )
    x = x.filter(
        (x.host_points >= min_points)
        & (x.z_host >= params.min_z_host)
        & (x.z_peer.isnull() | (x.z_peer >= params.min_z_peers))
    )
    return x.select(
        "host",
        "destination",
        "day",
        "bytes",
        "z_host",
        "z_peer",
        "host_baseline",
        "peer_baseline",
        "peers",
        granularity=ibis.literal(bucket),
    )


@detection(
    id="network.exfiltration",
    title="Outbound transfer far above the host's and its peers' baseline",
    attack=("T1048", "T1041", "T1567"),
    inputs=("conn", "tls", "http"),
    severity="medium",
)
def exfiltration(
    conn: ir.Table, tls: ir.Table, http: ir.Table, params: Params = Params()
) -> ir.Table:
    """One alert per (internal host, external destination, UTC day) when the bytes the host sent to
    that destination (as seen on the wire, each connection once) in one hour (or, with
    ``min_baseline_days`` of history, in one day) are at least ``min_bytes`` and a robust
    outlier (modified z-score of log10 bytes >= 3.5) against both baselines: the host's own, its
    usual largest transfer to one destination per hour, measured as its distance from the median
    of its /24 in the same hour (so the day-night rhythm all hosts share does not hide anything;
    hosts without enough peers are compared with their raw history), and its peers', the typical
    largest single-destination transfer of a /24 host that day. Log bytes because transfer sizes
    are log-normal; median and MAD because the baseline contains the very outlier looked for.
    Severity is high from ``high_bytes`` or twice the z threshold. The evidence gives the bytes
    that day, the peak per hour (or day), both baselines, the ratios to them, the z-scores and
    the destination's name from TLS SNI or the HTTP Host header."""
    # Bytes as seen on the wire, each connection once: Zeek's conn_long records and the final
    # record of one upload share their start time and ports (so their hour), and a conn.log
    # ingested twice under two names repeats every connection. Those numbers tell a
    # connection apart here as well as its uid does, at a fraction of the memory (grouping
    # 10 M uids took 2.8 GB).
    out = conn.filter(conn.source_internal & ~conn.destination_internal)
    out = out.select(
        "timestamp",
        "source_port",
        "destination_port",
        host=out.source_ip,
        destination=out.destination_ip,
        hour=out.timestamp.truncate("h"),
        sent=wire_bytes(out),
    )
    one = ["host", "destination", "hour", "timestamp", "source_port", "destination_port"]
    connections = out.group_by(one).aggregate(sent=out.sent.max())
    hourly = connections.group_by(["host", "destination", "hour"]).aggregate(
        bytes=connections.sent.sum()
    )
    daily = hourly.group_by(
        ["host", "destination", hourly.hour.truncate("D").name("day")]
    ).aggregate(bytes=hourly.bytes.sum())
    flagged = _outliers(hourly, "hour", params.min_baseline_hours, params).union(
        _outliers(daily, "day", params.min_baseline_days, params)
    )
    key = ["host", "destination", "day"]
    best = flagged.group_by(key).aggregate(
        z_host=flagged.z_host.max(),
        z_peer=flagged.z_peer.max(),
        peers=flagged.peers.max(),
        peak_bytes=flagged.bytes.max(),
        host_baseline=flagged.host_baseline.min(),
        peer_baseline=flagged.peer_baseline.min(),
        granularity=flagged.granularity.max(),
    )

    # The day's connections to the flagged destinations: totals, times, and its name.
    records = conn.select(
        "timestamp",
        "uid",
        "destination_port",
        "destination_bytes",
        host=conn.source_ip,
        destination=conn.destination_ip,
        day=conn.timestamp.truncate("D"),
        key=connection_key(conn),
        sent=wire_bytes(conn),
    ).semi_join(best, key)
    sessions = records.group_by([*key, "key"]).aggregate(
        timestamp=records.timestamp.min(),
        uid=records.uid.max(),
        destination_port=records.destination_port.max(),
        source_bytes=records.sent.max(),
        destination_bytes=records.destination_bytes.max(),
    )
    names = (
        tls.filter(tls.tls_server_name.notnull() & (tls.tls_server_name != ""))
        .select("uid", name=tls.tls_server_name)
        .union(
            http.filter(http.url_domain.notnull() & (http.url_domain != "")).select(
                "uid", name=http.url_domain
            )
        )
    )
    # One name per connection: HTTP keeps alive several requests on one.
    known = names.semi_join(sessions, "uid")
    known = known.group_by("uid").aggregate(name=known.name.max())
    named = sessions.left_join(known, "uid")
    per_day = named.group_by(key).aggregate(
        first_seen=named.timestamp.min(),
        last_seen=named.timestamp.max(),
        connections=named.count(),
        bytes=named.source_bytes.sum(),
        received=named.destination_bytes.sum(),
        port=named.destination_port.argmax(named.source_bytes),
        domain=named.name.max(),
    )
    per = best.join(per_day, key)

    weaker = ibis.least(per.z_host, per.z_peer.fill_null(per.z_host))
    high = (per.bytes >= params.high_bytes) | (
        weaker >= 2 * max(params.min_z_host, params.min_z_peers)
    )
    return per.select(
        entity=per.host + "|" + per.destination,
        window_start=per.day,
        first_seen=per.first_seen,
        last_seen=per.last_seen,
        source_ip=per.host,
        destination_ip=per.destination,
        destination_port=per.port,
        destination_domain=per.domain,
        score=step_score(weaker, params.min_z_host, params.score_saturation_z),
        severity=ibis.ifelse(high, "high", "medium"),
        evidence=ibis.struct(
            {
                "bytes": per.bytes,
                "peak_bytes": per.peak_bytes,
                "granularity": per.granularity,
                "received_bytes": per.received,
                "connections": per.connections,
                "host_baseline_bytes": per.host_baseline,
                "peer_baseline_bytes": per.peer_baseline,
                "ratio_to_host": per.peak_bytes / per.host_baseline,
                "ratio_to_peers": per.peak_bytes / per.peer_baseline,
                "z_host": per.z_host,
                "z_peers": per.z_peer,
                "peers": per.peers,
            }
        ),
    )
