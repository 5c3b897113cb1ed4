"""Password guessing against SSH, RDP and SMB: many short failed logins from one source."""

from __future__ import annotations

from dataclasses import dataclass

import ibis
import ibis.expr.types as ir

from signalfire.detections.network.port_scan import hopping_windows, no_payload, step_score
from signalfire.detections.registry import detection


@dataclass(frozen=True)
class Params:
    # Zeek's detect-bruteforcing.zeek: SSH::password_guesses_limit = 30 failures within
    # SSH::guessing_timeout = 30 minutes. Counted in password attempts where ssh.log gives them
    # (a tool often tries several per session), one per failed session otherwise.
    min_failures: int = 30
    window_seconds: int = 1800
    # Slow guessing that stays under the rate above: a person mistypes a password a few times a
    # day, not a hundred.
    min_failures_per_day: int = 100
    # Service -> destination ports; Zeek's service name (network_protocol) is used as well, so
    # SSH on another port is still SSH.
    ssh_ports: tuple[int, ...] = (22,)
    rdp_ports: tuple[int, ...] = (3389,)
    smb_ports: tuple[int, ...] = (445, 139)
    # Without ssh.log's verdict a failed login is judged by the connection's shape: it ends
    # within seconds (servers drop the client after the allowed tries; a real session lasts
    # minutes) and exchanges a few kB each way (key exchange or NTLM/CredSSP handshake, no
    # file or screen data).
    max_attempt_seconds: float = 30.0
    max_attempt_bytes: int = 20_000
    # ... and a tool repeats the same exchange: the sizes a client sends vary little (sample
    # coefficient of variation); people's sessions vary by more than their mean.
    max_bytes_variation: float = 0.5
    # Score reaches 1 at this many failures in one window.
    score_saturation_failures: int = 1000


@detection(
    id="network.brute_force",
    title="Password guessing (SSH, RDP, SMB)",
    attack=("T1110", "T1110.001", "T1110.003"),
    inputs=("conn", "ssh"),
    severity="medium",
)
def brute_force(conn: ir.Table, ssh: ir.Table, params: Params = Params()) -> ir.Table:
    """One alert per (source, service, port, UTC day) with at least ``min_failures`` failed
    logins in some 30-minute window (hopping by half a window) or ``min_failures_per_day`` in
    the day, against SSH, RDP or SMB (by port or by Zeek's service name). A failure is taken
    from ssh.log where it has a verdict (``auth_success`` false; ``auth_attempts`` counts the
    passwords tried); otherwise a session counts as a failed attempt when it is short
    (``max_attempt_seconds``), small (``max_attempt_bytes`` each way, with some payload), and
    the window's sessions have similar sizes (``max_bytes_variation``). One source against
    many hosts (password spraying) is one alert that lists them. Severity is high when a
    success follows the first failure. The evidence gives sessions, password attempts,
    failures, successes, whether a success came after failures, the most failures in one
    window, the method (ssh.log verdict or connection shape) and the hosts attacked."""
    # Zeek's service names are lower case ("ssh", "gssapi,smb,ntlm", "ssl,rdp"). The cheap
    # test runs over every row, the classification only over the few that pass it.
    ports = [*params.ssh_ports, *params.rdp_ports, *params.smb_ports]
    named = conn.network_protocol.fill_null("")
    sessions = conn.filter(
        (conn.network_transport == "tcp")
        & (
            conn.destination_port.isin(ports)
            | (named.find("ssh") >= 0)
            | (named.find("rdp") >= 0)
            | (named.find("smb") >= 0)
        )
    )
    protocol = sessions.network_protocol.fill_null("")
    port = sessions.destination_port
    service = ibis.cases(
        (port.isin(params.ssh_ports) | (protocol.find("ssh") >= 0), "ssh"),
        (port.isin(params.rdp_ports) | (protocol.find("rdp") >= 0), "rdp"),
        else_="smb",
    )
    sessions = sessions.mutate(service=service)

    # Sessions with ssh.log's verdict.
    judged = ssh.filter(ssh.ssh_auth_success.notnull())
    # auth_attempts counts every password tried, the accepted one included.
    tried = ibis.greatest(judged.ssh_auth_attempts.fill_null(1), 1)
    by_log = judged.select(
        "timestamp",
        "source_ip",
        "destination_ip",
        destination_port=judged.destination_port.cast("int32"),
        service=ibis.literal("ssh"),
        attempts=tried.cast("int64"),
        failures=ibis.ifelse(judged.ssh_auth_success, tried - 1, tried).cast("int64"),
        success=judged.ssh_auth_success,
        shaped=ibis.literal(False),
        sent=ibis.null("float64"),
    )

    # The others, by shape. A session that never carried data is a scan's business.
    judged_uids = judged.filter(judged.uid.notnull()).select("uid")
    rest = sessions.anti_join(judged_uids, "uid")
    rest = rest.filter(~no_payload(rest))
    short = (rest.event_duration.fill_null(0) <= params.max_attempt_seconds) & (
        ibis.greatest(rest.source_bytes.fill_null(0), rest.destination_bytes.fill_null(0))
        <= params.max_attempt_bytes
    )
    by_shape = rest.select(
        "timestamp",
        "source_ip",
        "destination_ip",
        destination_port=rest.destination_port.cast("int32"),
        service=rest.service,
        attempts=ibis.literal(1, "int64"),
        failures=ibis.ifelse(short, 1, 0).cast("int64"),
        success=~short,
        shaped=ibis.literal(True),
        sent=ibis.ifelse(short, rest.source_bytes.cast("float64"), ibis.null("float64")),
    )
    logins = by_log.union(by_shape)
    key = ["source_ip", "service", "destination_port"]

    windowed = hopping_windows(logins, params.window_seconds)
    per_window = windowed.group_by([*key, "window"]).aggregate(
        failures=windowed.failures.sum(),
        shaped=windowed.shaped.cast("int64").sum(),
        variation=windowed.sent.std() / windowed.sent.mean(),
    )
    similar = (per_window.shaped == 0) | (
        per_window.variation.fill_null(0.0) <= params.max_bytes_variation
    )
    flagged = per_window.filter(similar & (per_window.failures >= params.min_failures))
    flagged = flagged.mutate(day=flagged.window.truncate("D"))
    window_days = flagged.group_by([*key, "day"]).aggregate(
        max_failures_in_window=flagged.failures.max()
    )

    daily = logins.mutate(day=logins.timestamp.truncate("D"))
    failed_at = ibis.ifelse(daily.failures > 0, daily.timestamp, ibis.null("timestamp"))
    per_day = daily.group_by([*key, "day"]).aggregate(
        first_seen=daily.timestamp.min(),
        last_seen=daily.timestamp.max(),
        sessions=daily.count(),
        attempts=daily.attempts.sum(),
        failures=daily.failures.sum(),
        failed_sessions=(daily.failures > 0).sum(),
        successes=daily.success.sum(),
        first_failure=failed_at.min(),
        last_success=ibis.ifelse(daily.success, daily.timestamp, ibis.null("timestamp")).max(),
        shaped=daily.shaped.cast("int64").sum(),
        variation=daily.sent.std() / daily.sent.mean(),
        hosts=daily.destination_ip.nunique(),
        low_host=daily.destination_ip.min(),
        host_sample=daily.destination_ip.collect(distinct=True),
    )
    per = per_day.left_join(window_days, [*key, "day"])
    slow = (per.failures >= params.min_failures_per_day) & (
        (per.shaped == 0) | (per.variation.fill_null(0.0) <= params.max_bytes_variation)
    )
    per = per.filter(per.max_failures_in_window.notnull() | slow)

    after = per.last_success.notnull() & (per.last_success > per.first_failure)
    peak = per.max_failures_in_window.fill_null(0)
    score = step_score(
        ibis.greatest(peak, per.failures * params.min_failures / params.min_failures_per_day),
        params.min_failures,
        params.score_saturation_failures,
    )
    method = ibis.cases(
        (per.shaped == 0, "ssh_log"),
        (per.shaped == per.sessions, "connection_shape"),
        else_="ssh_log+connection_shape",
    )
    return per.select(
        entity=per.source_ip + "|" + per.service + "/" + per.destination_port.cast("string"),
        window_start=per.day,
        first_seen=per.first_seen,
        last_seen=per.last_seen,
        source_ip=per.source_ip,
        destination_ip=ibis.ifelse(per.hosts == 1, per.low_host, ibis.null("string")),
        destination_port=per.destination_port,
        destination_domain=ibis.null("string"),
        score=ibis.ifelse(after, ibis.least(score + 0.25, 1.0), score),
        severity=ibis.ifelse(after, "high", "medium"),
        evidence=ibis.struct(
            {
                "service": per.service,
                "sessions": per.sessions,
                "attempts": per.attempts,
                "failures": per.failures,
                "failed_sessions": per.failed_sessions,
                "successes": per.successes,
                "success_after_failures": after,
                "max_failures_in_window": peak,
                "window_seconds": ibis.literal(params.window_seconds),
                "method": method,
                "bytes_variation": per.variation,
                "hosts": per.hosts,
                "hosts_sample": per.host_sample.sort()[:20],
            }
        ),
    )
