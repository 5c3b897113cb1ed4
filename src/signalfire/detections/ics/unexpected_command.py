"""ICS commands from a host that is not a master of the outstation (Modbus/TCP, DNP3)."""

from __future__ import annotations

from dataclasses import dataclass

import ibis
import ibis.expr.types as ir

from signalfire.detections.registry import detection

#: Modbus functions that change the outstation's data (Zeek's names). Zeek logs a request that
#: got an exception reply as ``<NAME>_EXCEPTION``: the attempt counts the same.
MODBUS_WRITES = (
    "WRITE_SINGLE_COIL",
    "WRITE_SINGLE_REGISTER",
    "WRITE_MULTIPLE_COILS",
    "WRITE_MULTIPLE_REGISTERS",
    "WRITE_FILE_RECORD",
    "MASK_WRITE_REGISTER",
    "READ_WRITE_MULTIPLE_REGISTERS",
)
#: Modbus functions that restart, reprogram or silence it: DIAGNOSTICS carries "restart
#: communications" and "force listen only"; the PROGRAM_* and firmware codes load logic.
MODBUS_DISRUPTIVE = (
    "DIAGNOSTICS",
    "RESET_COMM_LINK_884_U84",
    "PROGRAM_484",
    "PROGRAM_584_984",
    "PROGRAM_584_984_2",
    "PROGRAM_884_U84",
    "PROGRAM_CONCEPT",
    "PROGRAM_UNITY",
    "FIRMWARE_REPLACEMENT",
)
#: DNP3 requests that write points, operate outputs, freeze/clear counters or change what the
#: outstation reports (Zeek's names).
DNP3_WRITES = (
    "WRITE",
    "SELECT",
    "OPERATE",
    "DIRECT_OPERATE",
    "DIRECT_OPERATE_NR",
    "IMMED_FREEZE",
    "IMMED_FREEZE_NR",
    "FREEZE_CLEAR",
    "FREEZE_CLEAR_NR",
    "FREEZE_AT_TIME",
    "FREEZE_AT_TIME_NR",
    "SAVE_CONFIG",
    "ENABLE_UNSOLICITED",
    "DISABLE_UNSOLICITED",
    "ASSIGN_CLASS",
    "RECORD_CURRENT_TIME",
    "OPEN_FILE",
    "CLOSE_FILE",
    "ABORT_FILE",
)
#: DNP3 requests that restart or stop the outstation or replace its configuration.
DNP3_DISRUPTIVE = (
    "COLD_RESTART",
    "WARM_RESTART",
    "INITIALIZE_DATA",
    "INITIALIZE_APPL",
    "START_APPL",
    "STOP_APPL",
    "DELETE_FILE",
    "ACTIVATE_CONFIG",
)


@dataclass(frozen=True)
class Params:
    # Masters declared by the site: "master_ip>outstation_ip", or "master_ip" for a master of
    # every outstation. They are never alerted on, learned or not.
    masters: tuple[str, ...] = ()
    # Learn masters from traffic. Turn off when the declared list is complete: then a host
    # that polls patiently can never become a master.
    learn_masters: bool = True
    # A learned master polled (sent requests other than commands) the outstation in at least
    # this many distinct clock hours of the learning period before the command's hour. A
    # SCADA master polls every few seconds around the clock, so it is in every hour; a host
    # that reads a few registers just before writing (reconnaissance, or an engineer's
    # laptop) is in one or two. An outstation seen for fewer hours than this has no mature
    # baseline yet: its alerts are downgraded (start of monitoring, new device).
    min_poll_hours: int = 4
    # How far back the learning looks: a week covers weekly maintenance polls; a master
    # decommissioned longer ago stops being trusted.
    learning_hours: int = 168
    # What counts as a command (Zeek's function names); disruptive ones raise severity.
    modbus_writes: tuple[str, ...] = MODBUS_WRITES
    modbus_disruptive: tuple[str, ...] = MODBUS_DISRUPTIVE
    dnp3_writes: tuple[str, ...] = DNP3_WRITES
    dnp3_disruptive: tuple[str, ...] = DNP3_DISRUPTIVE


def _requests(modbus: ir.Table, dnp3: ir.Table, params: Params) -> ir.Table:
    """Every ICS request: time, master, outstation, port, protocol, function, and its class
    (0 poll, 1 write/control, 2 disruptive)."""
    modbus_fn = modbus.modbus_function.fill_null("").upper()
    writes = [*params.modbus_writes, *(f"{f}_EXCEPTION" for f in params.modbus_writes)]
    stops = [*params.modbus_disruptive, *(f"{f}_EXCEPTION" for f in params.modbus_disruptive)]
    from_modbus = modbus.filter(modbus_fn != "").select(
        "timestamp",
        "source_ip",
        "destination_ip",
        destination_port=modbus.destination_port.cast("int32"),
        protocol=ibis.literal("modbus"),
        function=modbus_fn,
        kind=ibis.cases((modbus_fn.isin(stops), 2), (modbus_fn.isin(writes), 1), else_=0).cast(
            "int8"
        ),
    )
    dnp3_fn = dnp3.dnp3_function_request.fill_null("").upper()
    from_dnp3 = dnp3.filter(dnp3_fn != "").select(
        "timestamp",
        "source_ip",
        "destination_ip",
        destination_port=dnp3.destination_port.cast("int32"),
        protocol=ibis.literal("dnp3"),
        function=dnp3_fn,
        kind=ibis.cases(
            (dnp3_fn.isin(params.dnp3_disruptive), 2),
            (dnp3_fn.isin(params.dnp3_writes), 1),
            else_=0,
        ).cast("int8"),
    )
    requests = from_modbus.union(from_dnp3)
    return requests.filter(requests.source_ip.notnull() & requests.destination_ip.notnull())


def _declared(
    source: ir.StringValue, outstation: ir.StringValue, params: Params
) -> ir.BooleanValue:
    pairs = [m.replace(" ", "") for m in params.masters if ">" in m]
    anywhere = [m.strip() for m in params.masters if ">" not in m and m.strip()]
    declared: ir.BooleanValue = ibis.literal(False)
    if pairs:
        declared = declared | (source + ">" + outstation).isin(pairs)
    if anywhere:
        declared = declared | source.isin(anywhere)
    return declared


def _declared_for(outstation: ir.StringValue, params: Params) -> ir.ArrayValue:
    """The declared masters of the outstation, as an array."""
    parts: list[ir.ArrayValue] = []
    for entry in params.masters:
        master, _, target = entry.replace(" ", "").partition(">")
        if not master:
            continue
        applies = ibis.literal(True) if not target else outstation == target
        parts.append(
            ibis.ifelse(
                applies, ibis.literal([master], "array<string>"), ibis.literal([], "array<string>")
            )
        )
    out: ir.ArrayValue = ibis.literal([], "array<string>")
    for part in parts:
        out = out.concat(part)
    return out


@detection(
    id="ics.unexpected_command",
    title="ICS command from a host that is not a master of the outstation",
    attack=("T0855", "T0836", "T0816", "T0843"),
    inputs=("modbus", "dnp3"),
    severity="high",
)
def unexpected_command(modbus: ir.Table, dnp3: ir.Table, params: Params = Params()) -> ir.Table:
    """One alert per (source, outstation, UTC day) when the source sent Modbus write / DNP3
    write, select, operate, freeze or unsolicited-reporting commands, or restart, stop,
    diagnostics and programming commands, to an outstation it is not a master of. Masters are
    declared (``masters``: "master_ip>outstation_ip" or "master_ip") or learned: hosts that
    polled the outstation in at least ``min_poll_hours`` distinct hours of the
    ``learning_hours`` before the command's hour (causal: later traffic never makes an earlier
    command legitimate). Severity: high for writes and critical for disruptive commands once
    the outstation has a baseline (seen for ``min_poll_hours`` hours); low and medium before
    that, when nobody could have been learned yet. The evidence gives the commands, their
    functions, the protocol, the source's own polling hours and the known masters."""
    requests = _requests(modbus, dnp3, params)
    requests = requests.mutate(hour=requests.timestamp.truncate("h"))
    commands = requests.filter(requests.kind > 0)
    commands = commands.filter(~_declared(commands.source_ip, commands.destination_ip, params))
    by_hour = ["source_ip", "destination_ip", "hour"]
    commanded = commands.select(*by_hour).distinct()

    # Who polled each commanded outstation, hour by hour, in the learning period before.
    polls = requests.filter(requests.kind == 0)
    activity = polls.group_by(
        [polls.source_ip.name("poller"), polls.destination_ip.name("polled"), "hour"]
    ).aggregate(polls=polls.count())
    asked = commanded.select(outstation=commanded.destination_ip, at=commanded.hour).distinct()
    history = asked.join(
        activity,
        [
            asked.outstation == activity.polled,
            activity.hour < asked.at,
            activity.hour >= asked.at - ibis.interval(hours=params.learning_hours),
        ],
    )
    pollers = history.group_by(["outstation", "at", "poller"]).aggregate(
        hours=history.hour.nunique()
    )
    observed = history.group_by(["outstation", "at"]).aggregate(
        observed_hours=history.hour.nunique()
    )
    learned = pollers.filter((pollers.hours >= params.min_poll_hours) & params.learn_masters)

    verdict = commanded.left_join(
        pollers,
        [
            commanded.source_ip == pollers.poller,
            commanded.destination_ip == pollers.outstation,
            commanded.hour == pollers.at,
        ],
    ).select(*by_hour, own_hours=pollers.hours.fill_null(0))
    verdict = verdict.left_join(
        observed,
        [verdict.destination_ip == observed.outstation, verdict.hour == observed.at],
    ).select(*verdict.columns, observed_hours=observed.observed_hours.fill_null(0))
    known = params.learn_masters & (verdict.own_hours >= params.min_poll_hours)
    unexpected = verdict.filter(~known).mutate(day=verdict.hour.truncate("D"))

    key = ["source_ip", "destination_ip", "day"]
    baseline = unexpected.group_by(key).aggregate(
        own_hours=unexpected.own_hours.max(),
        observed_hours=unexpected.observed_hours.max(),
        hours=unexpected.count(),
    )
    sent = commands.semi_join(unexpected, by_hour)
    sent = sent.mutate(day=sent.hour.truncate("D"))
    per_day = sent.group_by(key).aggregate(
        first_seen=sent.timestamp.min(),
        last_seen=sent.timestamp.max(),
        commands=sent.count(),
        writes=(sent.kind == 1).sum(),
        disruptive=(sent.kind == 2).sum(),
        functions=sent.function.collect(distinct=True),
        protocol=sent.protocol.min(),
        port=sent.destination_port.min(),
    )
    # The masters known (learned) at the hours of the unexpected commands.
    at_hours = unexpected.select(outstation="destination_ip", at="hour", day="day").distinct()
    known_then = learned.join(at_hours, ["outstation", "at"])
    masters = known_then.group_by([known_then.outstation.name("destination_ip"), "day"]).aggregate(
        masters=known_then.poller.collect(distinct=True)
    )
    per = baseline.join(per_day, key).left_join(masters, ["destination_ip", "day"])
    declared = _declared_for(per.destination_ip, params)
    per = per.mutate(
        masters=per.masters.fill_null(ibis.literal([], "array<string>")).concat(declared)
    )
    mature = per.observed_hours >= params.min_poll_hours
    disruptive = per.disruptive > 0
    severity = ibis.cases(
        (mature & disruptive, "critical"),
        (mature, "high"),
        (disruptive, "medium"),
        else_="low",
    )
    score = ibis.cases(
        (mature & disruptive, 1.0),
        (mature, 0.8),
        (disruptive, 0.5),
        else_=0.3,
    )
    return per.select(
        entity=per.source_ip + "|" + per.destination_ip,
        window_start=per.day,
        first_seen=per.first_seen,
        last_seen=per.last_seen,
        source_ip=per.source_ip,
        destination_ip=per.destination_ip,
        destination_port=per.port,
        destination_domain=ibis.null("string"),
        score=score,
        severity=severity,
        evidence=ibis.struct(
            {
                "protocol": per.protocol,
                "commands": per.commands,
                "writes": per.writes,
                "disruptive": per.disruptive,
                "functions": per.functions.sort(),
                "known_masters": per.masters.unique().sort(),
                "source_poll_hours": per.own_hours,
                "outstation_observed_hours": per.observed_hours,
                "baseline_mature": mature,
                "hours_with_commands": per.hours,
            }
        ),
    )
