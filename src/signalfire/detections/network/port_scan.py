"""Vertical port scans: one source probing many ports of one host, mostly without an answer.

This module also holds the two building blocks the scan and brute-force detections share: what
a *failed* (probing) connection is, and hopping windows.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import ibis
import ibis.expr.types as ir

from signalfire.detections.registry import detection

#: Zeek conn_states in which the connection never got established: refused (REJ), unanswered
#: (S0), a SYN then a FIN or RST without a SYN-ACK (SH, RSTOS0), or only the responder's half
#: seen (SHR, RSTRH). Any other state counts as failed only when no payload was exchanged.
NEVER_ESTABLISHED = ("S0", "REJ", "SH", "SHR", "RSTOS0", "RSTRH")


def no_payload(conn: ir.Table) -> ir.BooleanValue:
    """True where neither side sent application data (bytes and Zeek history agree)."""
    sent = conn.source_bytes.fill_null(0) + conn.destination_bytes.fill_null(0)
    history = conn.connection_history.fill_null("")
    return (sent == 0) & (history.find("D") < 0) & (history.find("d") < 0)


def failed_connection(conn: ir.Table) -> ir.BooleanValue:
    """A connection attempt that did not carry any data: never established (S0, REJ, SH, SHR,
    RSTOS0, RSTRH), or established/reset/mid-stream (RSTO, RSTR, OTH, SF...) without a byte of
    payload either way. This is Zeek's own notion in ``scan.zeek`` (a reset counts only when no
    ``D``/``d`` is in the history), extended to the states a SYN, ACK, FIN or NULL probe leaves."""
    state = conn.connection_state.fill_null("")
    return state.isin(NEVER_ESTABLISHED) | no_payload(conn)


def hopping_windows(table: ir.Table, seconds: int) -> ir.Table:
    """Each row twice, with a ``window`` column: the start of the tumbling window of ``seconds``
    (aligned on midnight UTC) that holds it, and of the one shifted by half a window.

    Any burst shorter than half a window lies whole inside one of the two, which tumbling
    windows alone do not give (a 90 s scan split 7 + 8 ports across a boundary is missed);
    a sliding distinct count would, but costs a self-join or a range window per row.
    """
    half = seconds // 2
    ts = table.timestamp
    day = ts.truncate("D")
    second_of_day = ts.hour() * 3600 + ts.minute() * 60 + ts.second()
    aligned = (second_of_day // seconds) * seconds
    shifted = ((second_of_day + half) // seconds) * seconds - half
    return table.mutate(window=day + aligned.as_interval("s")).union(
        table.mutate(window=day + shifted.as_interval("s"))
    )


def step_score(value: ir.NumericValue, threshold: float, saturation: float) -> ir.FloatingValue:
    """0.5 at ``threshold``, 1.0 at ``saturation``, logarithmic in between (clipped to [0, 1]).
    Settings that make no such scale (a threshold at or below zero) get a linear one."""
    x = value.cast("float64")
    if threshold <= 0 or saturation <= threshold:
        raw = x / max(saturation, 1.0)
    else:
        # Clipped below so the logarithm is defined for values under the threshold too.
        ratio = ibis.greatest(x / threshold, 1e-9)
        raw = 0.5 + 0.5 * ratio.ln() / math.log(saturation / threshold)
    return ibis.greatest(ibis.least(raw, 1.0), 0.0)


def flagged_probes(
    chosen: ir.Table,
    key: list[str],
    spread: str,
    min_spread: int,
    window_seconds: int,
    min_failure_ratio: float,
) -> tuple[ir.Table, ir.Table]:
    """The failed connections of ``chosen`` in every hopping window where one ``key`` failed
    towards at least ``min_spread`` distinct values of ``spread`` (ports of a host, hosts on a
    port) and at least ``min_failure_ratio`` of its connections in that window failed.

    Returns ``(probes, per_day)``: the distinct probes of those windows (a probe inside both
    hopping windows is one probe) with their UTC ``day``; and per key and day, the most
    distinct values in one window (``most_in_window``), the flagged ``windows`` and the lowest
    ``failure_ratio`` among them."""
    probes = chosen.filter(failed_connection(chosen))
    windowed = hopping_windows(
        probes.select(*key, "timestamp", spread, "connection_state", "connection_history"),
        window_seconds,
    )
    per_window = windowed.group_by([*key, "window"]).aggregate(
        spread_count=windowed[spread].nunique(), failed=windowed.count()
    )
    candidates = per_window.filter(per_window.spread_count >= min_spread)

    # Failure ratio: every connection of the candidate keys, in the same windows.
    keys = candidates.select(*key).distinct()
    attempts = hopping_windows(
        chosen.select(*key, "timestamp").semi_join(keys, key), window_seconds
    )
    totals = attempts.group_by([*key, "window"]).aggregate(connections=attempts.count())
    flagged = candidates.join(totals, [*key, "window"])
    ratio = flagged.failed.cast("float64") / flagged.connections
    flagged = flagged.filter(ratio >= min_failure_ratio).mutate(ratio=ratio)

    tagged = windowed.join(
        flagged.select(*key, "window", "spread_count", "ratio"), [*key, "window"]
    )
    tagged = tagged.mutate(day=tagged.timestamp.truncate("D"))
    per_day = tagged.group_by([*key, "day"]).aggregate(
        most_in_window=tagged.spread_count.max(),
        windows=tagged.window.nunique(),
        failure_ratio=tagged.ratio.min(),
    )
    return tagged.drop("window", "spread_count", "ratio").distinct(), per_day


@dataclass(frozen=True)
class Params:
    # Zeek's scan.zeek defaults (Scan::port_scan_threshold / port_scan_interval): 15 distinct
    # ports of one host within 5 minutes. Services a client legitimately uses on one server are
    # a handful, and they answer.
    min_ports: int = 15
    window_seconds: int = 300
    # Share of the source's connections to that host (in the window) that failed. A scanner's
    # probes mostly hit closed or filtered ports (nmap's top ports on a server: > 90 % fail);
    # a client's failures are a few per cent even on a bad day.
    min_failure_ratio: float = 0.5
    # TCP only, like Zeek: UDP "failures" (no reply) are also one-way syslog, NetFlow, SNMP
    # traps, so they say little about scanning.
    transports: tuple[str, ...] = ("tcp",)
    # Severity steps: 100 ports in 5 minutes is a tool, not a misconfiguration.
    high_ports: int = 100
    # Score reaches 1 at this many ports in one window (nmap's default top 1000).
    score_saturation_ports: int = 1000
    # Ports listed in the evidence (lowest first).
    sample_size: int = 20


@detection(
    id="network.port_scan",
    title="Port scan (one source, one host, many ports)",
    attack=("T1046",),
    inputs=("conn",),
    severity="medium",
)
def port_scan(conn: ir.Table, params: Params = Params()) -> ir.Table:
    """One alert per (source, scanned host, UTC day) when, in some 5-minute window (hopping by
    half a window), the source made failed connections to at least ``min_ports`` distinct ports
    of the host and at least ``min_failure_ratio`` of its connections to that host in that
    window failed. A failed connection carried no payload: S0, REJ, SH, SHR, RSTOS0, RSTRH, or
    any other state without a byte of data (Zeek's own definition, extended to ACK/FIN probes).
    Severity is high from ``high_ports`` ports in one window. The evidence describes the probes
    of the flagged windows that day: ports probed, the most in one window, a sample, the ports
    that answered with a SYN-ACK (open), refused and unanswered probes, and the lowest share of
    failed connections among those windows."""
    tcp = conn.filter(conn.network_transport.isin(params.transports))
    pair = ["source_ip", "destination_ip"]
    seen, windows = flagged_probes(
        tcp,
        pair,
        "destination_port",
        params.min_ports,
        params.window_seconds,
        params.min_failure_ratio,
    )
    windows = windows.rename(max_ports_in_window="most_in_window")
    key = [*pair, "day"]
    answered = seen.connection_history.fill_null("").find("h") >= 0
    probed = seen.group_by(key).aggregate(
        first_seen=seen.timestamp.min(),
        last_seen=seen.timestamp.max(),
        failed=seen.count(),
        ports_probed=seen.destination_port.nunique(),
        rejected=(seen.connection_state == "REJ").sum(),
        unanswered=(seen.connection_state == "S0").sum(),
        ports=seen.destination_port.collect(distinct=True),
        open_ports=seen.destination_port.collect(where=answered, distinct=True),
    )
    per = windows.join(probed, key)

    n = params.sample_size
    return per.select(
        entity=per.source_ip + "|" + per.destination_ip,
        window_start=per.day,
        first_seen=per.first_seen,
        last_seen=per.last_seen,
        source_ip=per.source_ip,
        destination_ip=per.destination_ip,
        destination_port=ibis.null("int32"),
        destination_domain=ibis.null("string"),
        score=step_score(per.max_ports_in_window, params.min_ports, params.score_saturation_ports),
        severity=ibis.ifelse(per.max_ports_in_window >= params.high_ports, "high", "medium"),
        evidence=ibis.struct(
            {
                "ports_probed": per.ports_probed,
                "max_ports_in_window": per.max_ports_in_window,
                "window_seconds": ibis.literal(params.window_seconds),
                "flagged_windows": per.windows,
                "failed_connections": per.failed,
                "failure_ratio": per.failure_ratio,
                "rejected": per.rejected,
                "unanswered": per.unanswered,
                "ports_sample": per.ports.sort()[:n],
                "open_ports": per.open_ports.fill_null(ibis.literal([], "array<int32>")).sort()[:n],
            }
        ),
    )
