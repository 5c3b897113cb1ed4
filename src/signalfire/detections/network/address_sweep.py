"""Address sweeps: one source probing one port on many hosts, mostly without an answer."""

from __future__ import annotations

from dataclasses import dataclass

import ibis
import ibis.expr.types as ir

from signalfire.detections.network.port_scan import flagged_probes, step_score
from signalfire.detections.registry import detection


@dataclass(frozen=True)
class Params:
    # Zeek's scan.zeek defaults (Scan::addr_scan_threshold / addr_scan_interval): 25 distinct
    # hosts on one port within 5 minutes.
    min_hosts: int = 25
    window_seconds: int = 300
    # Share of the source's connections to that port (in the window) that failed. Most of a
    # sweep's targets do not exist or do not listen; a busy client or a proxy reaching many
    # servers on one port fails a few per cent of the time, and that keeps it out.
    min_failure_ratio: float = 0.5
    # TCP only, like Zeek: one-way UDP (syslog, NetFlow, SNMP traps) looks unanswered too.
    transports: tuple[str, ...] = ("tcp",)
    # Severity steps: 100 hosts in 5 minutes is a tool.
    high_hosts: int = 100
    # Score reaches 1 at a whole /24 in one window.
    score_saturation_hosts: int = 256
    # Hosts listed in the evidence (lowest first, as text).
    sample_size: int = 20


def _slash24(ip: ir.StringValue) -> ir.StringValue:
    """``a.b.c`` of an IPv4 address, empty otherwise (a regex: Spark's split takes one too)."""
    return ip.re_extract(r"^(\d+\.\d+\.\d+)\.\d+$", 1)


@detection(
    id="network.address_sweep",
    title="Address sweep (one source, one port, many hosts)",
    attack=("T1046", "T1018"),
    inputs=("conn",),
    severity="medium",
)
def address_sweep(conn: ir.Table, params: Params = Params()) -> ir.Table:
    """One alert per (source, transport, port, UTC day) when, in some 5-minute window (hopping
    by half a window), the source made failed connections to at least ``min_hosts`` distinct
    hosts on that port and at least ``min_failure_ratio`` of its connections to that port in
    that window failed. A failed connection carried no payload (see ``network.port_scan``).
    The destination is the swept /24 when every probed host is in one, else empty. Severity is
    high from ``high_hosts`` hosts in one window. The evidence describes the probes of the
    flagged windows that day: hosts probed, the most in one window, a sample, how many answered
    (SYN-ACK or RST: the address is in use), the /24 networks touched, and the lowest share of
    failed connections among those windows."""
    chosen = conn.filter(conn.network_transport.isin(params.transports))
    key = ["source_ip", "network_transport", "destination_port"]
    seen, windows = flagged_probes(
        chosen,
        key,
        "destination_ip",
        params.min_hosts,
        params.window_seconds,
        params.min_failure_ratio,
    )
    windows = windows.rename(max_hosts_in_window="most_in_window")
    by_day = [*key, "day"]
    seen = seen.mutate(net=_slash24(seen.destination_ip))
    # Any answer, a SYN-ACK or a RST, shows the address is in use.
    history = seen.connection_history.fill_null("")
    answered = (history.find("h") >= 0) | (history.find("r") >= 0)
    probed = seen.group_by(by_day).aggregate(
        first_seen=seen.timestamp.min(),
        last_seen=seen.timestamp.max(),
        failed=seen.count(),
        hosts_probed=seen.destination_ip.nunique(),
        alive_hosts=seen.destination_ip.nunique(where=answered),
        networks=seen.net.nunique(),
        low_net=seen.net.min(),
        high_net=seen.net.max(),
        hosts=seen.destination_ip.collect(distinct=True),
    )
    per = windows.join(probed, by_day)

    one_net = (per.low_net == per.high_net) & (per.low_net != "")
    return per.select(
        entity=per.source_ip
        + "|"
        + per.network_transport
        + "/"
        + per.destination_port.cast("string"),
        window_start=per.day,
        first_seen=per.first_seen,
        last_seen=per.last_seen,
        source_ip=per.source_ip,
        destination_ip=ibis.ifelse(one_net, per.low_net + ".0/24", ibis.null("string")),
        destination_port=per.destination_port,
        destination_domain=ibis.null("string"),
        score=step_score(per.max_hosts_in_window, params.min_hosts, params.score_saturation_hosts),
        severity=ibis.ifelse(per.max_hosts_in_window >= params.high_hosts, "high", "medium"),
        evidence=ibis.struct(
            {
                "hosts_probed": per.hosts_probed,
                "max_hosts_in_window": per.max_hosts_in_window,
                "window_seconds": ibis.literal(params.window_seconds),
                "flagged_windows": per.windows,
                "alive_hosts": per.alive_hosts,
                "networks": per.networks,
                "failed_connections": per.failed,
                "failure_ratio": per.failure_ratio,
                "transport": per.network_transport,
                "hosts_sample": per.hosts.sort()[: params.sample_size],
            }
        ),
    )
