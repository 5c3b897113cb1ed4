"""Beaconing: a host that calls the same destination on a clock, the heartbeat of most C2."""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import ibis
import ibis.expr.types as ir

from signalfire.detections.network.traffic import is_announcement
from signalfire.detections.registry import SEVERITIES, detection

#: Zeek states of a connection the responder did not answer (or only refused).
FAILED_STATES = ("S0", "REJ", "RSTOS0", "RSTRH", "SH", "SHR")
#: One series per kind ("ip" or "name"), day, source, key (address or name) and track
#: (answered or not); the alert's entity drops the track.
_SERIES = ("kind", "day", "src", "key", "answered")
_ENTITY = ("kind", "day", "src", "key")
_HOURS = 24
# Joins the parts of a series' top destination key (not a regex character: Spark's split
# takes a pattern).
_SEP = "~"
# 1.4826 × MAD estimates a standard deviation (normal consistency constant).
_MAD_TO_SD = 1.4826
# Fewer non-empty hours than this say nothing about steadiness (a short capture, a series that
# straddles an hour boundary): such series are always scored.
_MIN_HOURS = 4


@dataclass(frozen=True)
class Params:
    # RITA's floor: four connections give three intervals, the fewest a spread can be read from.
    min_connections: int = 4
    # RITA's ceiling: a connection a second all day long is a stream, not a heartbeat.
    max_connections: int = 86_400
    # Connections closer than this to the previous one of the series are one beat: a check-in
    # that opens two sockets, a CONNECT request and the TLS inside it, a log ingested twice.
    # Far below any C2 sleep worth the name (seconds to hours).
    burst_seconds: float = 2.0
    # A TCP attempt from the same source port within this time is one connect() retried: Zeek
    # logs a SYN retransmitted after the first record timed out as a record of its own.
    retry_seconds: float = 30.0
    # Only series with at most this many connections a day, or whose non-empty hourly counts
    # are steady, are put in order and scored. Steady: robust variance/mean, (1.4826 × MAD)² /
    # median, at most ``max_dispersion``, or (for a few beats an hour, where a MAD of small
    # counts is too coarse) variance/mean without the quietest and busiest hour at most
    # ``max_trimmed_dispersion``. Beacons measure 0.04-0.3 on either, a Poisson process about
    # 1 and human-driven traffic far more; on a simulated 10 M-connection day this leaves 3 %
    # of the rows for the costly ordered analysis.
    dense_series: int = 48
    max_dispersion: float = 1.0
    max_trimmed_dispersion: float = 0.5
    # An interval within ±50 % of the period is one beat: Cobalt Strike and Sliver jitter their
    # sleep by at most 50 % by default, so this is what a beacon can do without losing its clock.
    jitter_tolerance: float = 0.5
    # Up to three beats in a row may be missed (host busy, packet lost) and the series is still
    # on its clock; a longer silence is a pause, neither a beat nor evidence against one.
    max_missed_beats: int = 3
    # An interval that spans missed beats is half the evidence of a single beat: it fits the
    # clock, but so does a random interval of about that length.
    missed_beat_weight: float = 0.5
    # Pseudo-intervals counted as off the clock: a few regular intervals happen by chance, so a
    # series needs tens of them to score near 1 (20 regular intervals give 0.8, 200 give 0.98).
    prior_intervals: float = 5.0
    # RITA's histogram settings: bars within 5 % of the tallest are one mode; one outlier bar is
    # forgiven; the bimodal fit needs 11 hours with connections, the duration score 6, and 12
    # consecutive hours are ideal.
    hist_mode_sensitivity: float = 0.05
    hist_bimodal_outlier_removal: int = 1
    hist_bimodal_min_hours: int = 11
    duration_min_hours: int = 6
    duration_ideal_consecutive_hours: int = 12
    # The score is timing × (base + (1 - base) × mean(size, histogram, duration)): without a
    # clock nothing scores, and the three corroborating scores can at most double the clock's
    # evidence. RITA adds the four instead, so all-day random traffic reaches 0.75-0.89 there
    # (measured on simulated days), a few hundredths below real beacons.
    corroboration_base: float = 0.5
    # Severity steps. Measured: the simulator's beacons (±12-40 % jitter, all day) score
    # 0.87-0.93 and a ±50 % one with 15 % missed beats 0.72 or more; no benign outbound series of
    # five simulated days passed 0.56 and Poisson traffic scores about 0.45. So nothing is
    # raised below 0.55, high starts under the weakest beacon and above the strongest benign
    # series, and critical is kept for clean clocks.
    min_score: float = 0.55
    medium_score: float = 0.62
    high_score: float = 0.7
    critical_score: float = 0.9
    # Inside the network periodic traffic is the norm (NTP, monitoring, ICS polling, backup
    # agents): such series are reported, at most at this severity.
    internal_max_severity: str = "medium"
    # Nobody answered: an implant may be knocking on a dead C2, but retry loops to dead services
    # are common too and no data flowed.
    unanswered_max_severity: str = "medium"
    # Protocols periodic by design (Zeek service names): a series made only of them is capped.
    expected_periodic_services: tuple[str, ...] = ("ntp",)
    expected_periodic_max_severity: str = "low"
    # When an address series and a name series (SNI/Host) describe the same connections, keep
    # the name (it says more) unless the address series scores this much higher.
    name_preference: float = 0.05
    # Fixed edges (seconds) of the interval histogram in the evidence: one axis for every alert,
    # from sub-second bursts to a day; the last count is everything at or above the last edge.
    # fmt: off
    interval_edges: tuple[float, ...] = (
        0, 1, 2, 5, 10, 20, 30, 45, 60, 90, 120, 180, 240, 300, 450, 600, 900, 1200, 1800,
        2700, 3600, 7200, 14400, 28800, 86400,
    )
    # fmt: on


def _rank(severity: str) -> int:
    return SEVERITIES.index(severity)


def _by(t: ir.Table, columns: tuple[str, ...] = _SERIES) -> list[ir.Value]:
    return [t[c] for c in columns]


def _by_sid(t: ir.Table) -> list[ir.Value]:
    """Windows and groups of the ordered analysis go by the series' integer id: sorting by one
    integer is several times cheaper than by five columns, three of them text."""
    return [t.sid]


def _seconds(ts: ir.TimestampValue) -> ir.FloatingValue:
    """Epoch seconds with milliseconds: the sub-second time that DuckDB and Spark both give
    (DuckDB's epoch already has a fraction, Spark's does not: both are floored first)."""
    whole = ts.epoch_seconds().cast("float64").floor()
    return whole + ts.millisecond().cast("float64") / 1000.0


def _is_name(name: ir.StringValue) -> ir.BooleanValue:
    """A server name, not an address literal (no top-level domain ends in a digit; IPv6
    literals are bracketed): sessions to literals are already in their address series."""
    return (name.notnull() & (name != "") & ~name.right(1).isin(list("0123456789]"))).fill_null(
        False
    )


def _event_rows(t: ir.Table, valid: ir.BooleanValue, full: bool, **columns: ir.Value) -> ir.Table:
    """One source's events: the series keys and, when ``full``, what the analysis reads, else
    only the hour of day (for the dense-series filter). The two variants are separate trees so
    that the engine scans the source twice rather than materialising it."""
    ts = t.timestamp
    cols: dict[str, ir.Value] = {
        "kind": columns["kind"],
        "day": ts.truncate("D"),
        "src": t.source_ip,
        "key": columns["key"],
        "answered": columns["answered"],
    }
    if full:
        cols.update(
            timestamp=ts,
            t=_seconds(ts),
            ms=ts.millisecond().cast("int64"),
            dst_ip=t.destination_ip,
            dst_port=t.destination_port.cast("int64"),
            sport=t.source_port.fill_null(-1).cast("int64"),
            tcp=columns["tcp"],
            uid=t.uid.fill_null(""),
            bytes=columns["bytes"],
            service=columns["service"],
            src_internal=t.source_internal,
            dst_internal=t.destination_internal,
        )
    else:
        cols.update(hour=ts.hour().cast("int64"), proxied=columns["via_proxy"].cast("int64"))
    rows = t.select(**cols, sf_valid=valid & ts.notnull() & t.source_ip.notnull())
    return rows.filter(rows.sf_valid).drop("sf_valid")


def _events(conn: ir.Table, tls: ir.Table, http: ir.Table, *, full: bool) -> ir.Table:
    """Every connection as an event of its address series, and every TLS session and HTTP
    request with a server name as an event of its name series (the name is the SNI, the Host
    header or the CONNECT target, without port)."""
    dst = conn.destination_ip
    ip = _event_rows(
        conn,
        dst.notnull() & ~is_announcement(dst),
        full,
        kind=ibis.literal("ip"),
        key=dst,
        answered=conn.connection_state.fill_null("").notin(FAILED_STATES)
        & (conn.destination_packets.fill_null(1) > 0),
        tcp=(conn.network_transport == "tcp").fill_null(False),
        bytes=conn.source_ip_bytes.fill_null(conn.source_bytes).cast("float64"),
        service=conn.network_protocol.fill_null(""),
        via_proxy=ibis.literal(False),
    )
    # A named session got an answer: its TLS handshake or HTTP request was seen.
    # (No strip(): on Spark, Ibis trims the letters v and f as well as white space.)
    sni = tls.tls_server_name.lower()
    host = http.url_domain.fill_null(http.url_original).lower()
    port_at = host.find(":")
    host = ibis.ifelse(port_at > 0, host.substr(0, port_at), host)
    uri = http.url_original.fill_null("").lower()
    proxied = (
        (http.http_request_method == "CONNECT").fill_null(False)
        | uri.startswith("http://")
        | uri.startswith("https://")
    )
    names = [
        _event_rows(
            t,
            _is_name(name),
            full,
            kind=ibis.literal("name"),
            key=name,
            answered=ibis.literal(True),
            tcp=ibis.literal(True),
            bytes=ibis.null("float64"),
            service=ibis.literal(service),
            via_proxy=via,
        )
        for t, name, service, via in (
            (tls, sni, "ssl", ibis.literal(False)),
            (http, host, "http", proxied),
        )
    ]
    return ibis.union(ip, *names)


def _observed(conn: ir.Table, tls: ir.Table, http: ir.Table) -> ir.Table:
    """The observed span of each day (first and last event of any source), in epoch seconds:
    RITA's histogram cuts it in 24 bars and its duration score measures the share covered."""
    spans = [
        t.group_by(day=t.timestamp.truncate("D")).aggregate(
            first=t.timestamp.min(), last=t.timestamp.max()
        )
        for t in (conn, tls, http)
    ]
    both = ibis.union(*spans)
    both = both.filter(both.day.notnull())
    obs = both.group_by("day").aggregate(first=both.first.min(), last=both.last.max())
    return obs.select("day", obs_start=_seconds(obs.first), obs_end=_seconds(obs.last))


def _dense_filter(conn: ir.Table, tls: ir.Table, http: ir.Table, p: Params) -> ir.Table:
    """The series worth putting in order (see ``dense_series``), and whether any of their
    events went through an explicit proxy."""
    series = list(_SERIES)
    e = _events(conn, tls, http, full=False)
    bars = e.group_by([*series, "hour"]).aggregate(c=e.count(), proxied=e.proxied.max())
    bars = bars.mutate(level=bars.c.median().over(ibis.window(group_by=_by(bars))))
    per = bars.group_by(series).aggregate(
        n=bars.c.sum(),
        hours=bars.count(),
        level=bars.level.max(),
        mad=(bars.c - bars.level).abs().median(),
        sum2=(bars.c * bars.c).sum(),
        low=bars.c.min(),
        high=bars.c.max(),
        proxied=bars.proxied.max(),
    )
    dispersion = (_MAD_TO_SD * per.mad) ** 2 / per.level
    inner = ibis.greatest(per.hours - 2, 1)
    mean = (per.n - per.low - per.high) / inner
    square = (per.sum2 - per.low * per.low - per.high * per.high) / inner
    trimmed = (square - mean * mean) / ibis.greatest(mean, 1e-9)
    steady = (dispersion <= p.max_dispersion) | (
        (per.hours > _MIN_HOURS) & (trimmed <= p.max_trimmed_dispersion)
    )
    keep = per.filter(
        per.n >= p.min_connections,
        per.n <= p.max_connections,
        (per.n <= p.dense_series) | (per.hours < _MIN_HOURS) | steady,
    )
    order = [keep[c] for c in series]
    return keep.select(*series, "proxied", sid=ibis.row_number().over(ibis.window(order_by=order)))


def _with_bytes(events: ir.Table, conn: ir.Table) -> ir.Table:
    """Name events take the bytes of their connection (same uid); address events keep theirs.
    The small table goes on the left of every join: Ibis then reuses the big one as it is
    instead of extending its join chain, so that the engine computes it once."""
    sizes = conn.select(uid=conn.uid, conn_bytes=conn.source_ip_bytes.fill_null(conn.source_bytes))
    named = events.filter(events.kind == "name")
    sizes = sizes.semi_join(named, sizes.uid == named.uid)
    sizes = sizes.group_by("uid").aggregate(conn_bytes=sizes.conn_bytes.max())
    j = sizes.right_join(events, sizes.uid == events.uid)
    return j.select(
        *[c for c in events.columns if c not in ("uid", "bytes")],
        uid=j.uid_right,
        bytes=j.bytes.fill_null(j.conn_bytes.cast("float64")),
    )


def _beats(events: ir.Table, obs: ir.Table, p: Params) -> ir.Table:
    """The beats of the series worth scoring, one row each: connections after merging bursts
    and retried SYNs, with the interval from the previous beat (``delta``, null for the first),
    the statistics of their series (window aggregates) and their interval's class."""
    # Ordered by the exact timestamp (t has milliseconds), then anything that can still tie,
    # so that every engine keeps the same event of a burst.
    order = [events.timestamp, events.sport, events.uid, events.service]
    w = ibis.window(group_by=_by_sid(events), order_by=order)
    e = events.mutate(prev_t=events.t.lag().over(w), prev_sport=events.sport.lag().over(w))
    gap = e.t - e.prev_t
    retry = e.tcp & (e.sport == e.prev_sport) & (gap <= p.retry_seconds)
    e = e.filter(e.prev_t.isnull() | ((gap > p.burst_seconds) & ~retry))
    w = ibis.window(group_by=_by_sid(e), order_by=[e.timestamp, e.sport, e.uid, e.service])
    e = e.mutate(delta=e.t - e.t.lag().over(w)).drop("prev_t", "prev_sport")
    j = obs.inner_join(e, "day")
    e = j.select(*e.columns, "obs_start", "obs_end")
    whole = ibis.window(group_by=_by_sid(e))
    same_destination = ibis.window(
        group_by=[e.sid, e.dst_ip, e.dst_port, e.service, e.dst_internal]
    )
    e = e.mutate(
        n_beats=e.count().over(whole),
        n_intervals=e.delta.count().over(whole),
        period=ibis.greatest(e.delta.median().over(whole), 0.001),
        iq1=e.delta.quantile(0.25).over(whole),
        iq3=e.delta.quantile(0.75).over(whole),
        bmed=e.bytes.median().over(whole),
        bq1=e.bytes.quantile(0.25).over(whole),
        bq3=e.bytes.quantile(0.75).over(whole),
        per_destination=e.count().over(same_destination),
    )
    e = e.filter(e.n_intervals >= p.min_connections - 1, e.n_beats <= p.max_connections)
    tau, top = p.jitter_tolerance, p.max_missed_beats + 1
    r = e.delta / e.period
    k = ibis.greatest((r + 0.5).floor(), 1)
    on_beat = e.delta.notnull() & (((k == 1) & (r >= 1 - tau)) | ((k >= 2) & (k <= top)))
    # The median interval overestimates the period when beats are missed: the beat period is
    # the median of the on-beat intervals divided by the beats they span (one refinement), and
    # intervals are classed against it.
    beat_period = ibis.ifelse(on_beat, e.delta / k, ibis.null("float64")).median()
    e = e.mutate(beat_period=beat_period.over(ibis.window(group_by=_by_sid(e))))
    e = e.mutate(beat_period=ibis.greatest(e.beat_period.fill_null(e.period), 0.001))
    r = e.delta / e.beat_period
    k = ibis.greatest((r + 0.5).floor(), 1)
    span = ibis.greatest(e.obs_end - e.obs_start, 1e-9)
    return e.mutate(
        ratio=r,
        beats_in=k,
        residual=(e.delta / k - e.beat_period).abs(),
        bin=ibis.least(((e.t - e.obs_start) / span * _HOURS).floor(), _HOURS - 1).cast("int64"),
        # Sorts by use, then address: the most used destination is the max of the series.
        destination=e.per_destination.cast("string").lpad(12, "0")
        + _SEP
        + e.dst_ip
        + _SEP
        + e.dst_port.cast("string")
        + _SEP
        + e.service
        + _SEP
        + ibis.ifelse(e.dst_internal, "1", "0"),
    )


def _aggregate(b: ir.Table, p: Params) -> ir.Table:
    """One row per series: its statistics, the interval classes and the two histograms."""
    tau, top = p.jitter_tolerance, p.max_missed_beats + 1
    has = b.delta.notnull()
    single = has & (b.beats_in == 1) & (b.ratio >= 1 - tau)
    multi = has & (b.beats_in >= 2) & (b.beats_in <= top)
    expected = list(p.expected_periodic_services)
    unexpected = b.service.notin(expected) if expected else ibis.literal(True)
    edges = [float(x) for x in p.interval_edges]
    no_value = ibis.null("float64")
    s = b.group_by("sid").aggregate(
        kind=b.kind.max(),
        day=b.day.max(),
        src=b.src.max(),
        key=b.key.max(),
        answered=b.answered.cast("int64").max() > 0,
        beats=b.n_beats.max(),
        intervals=b.n_intervals.max(),
        period=b.period.max(),
        beat_period=b.beat_period.max(),
        iq1=b.iq1.max(),
        iq3=b.iq3.max(),
        bmed=b.bmed.max(),
        bq1=b.bq1.max(),
        bq3=b.bq3.max(),
        obs_start=b.obs_start.max(),
        obs_end=b.obs_end.max(),
        first_t=b.t.min(),
        last_t=b.t.max(),
        first_seen=b.timestamp.min(),
        last_seen=b.timestamp.max(),
        mad=(b.delta - b.period).abs().median(),
        bmad=(b.bytes - b.bmed).abs().median(),
        # A null-masked column rather than ``where=``: Spark rejects a filtered percentile.
        jitter_mad=ibis.ifelse(single | multi, b.residual, no_value).median(),
        n_single=single.cast("int64").sum(),
        n_multi=multi.cast("int64").sum(),
        n_short=(has & (b.ratio < 1 - tau)).cast("int64").sum(),
        n_pause=(has & (b.beats_in > top)).cast("int64").sum(),
        missed=ibis.ifelse(multi, b.beats_in - 1, 0).sum(),
        fractional=(b.ms != 0).cast("int64").sum(),
        unexpected=unexpected.cast("int64").sum(),
        via_proxy=b.proxied.max(),
        src_inside=b.src_internal.cast("int64").max() > 0,
        destinations=b.dst_ip.nunique(),
        destination=b.destination.max(),
        **{f"h{i}": (b.bin == i).cast("int64").sum() for i in range(_HOURS)},
        **{
            f"ih{i}": (has & (b.delta >= lo) & (b.delta < hi)).cast("int64").sum()
            for i, (lo, hi) in enumerate(itertools.pairwise(edges))
        },
        ih_over=(has & (b.delta >= edges[-1])).cast("int64").sum(),
    )
    parts = s.destination.split(_SEP)
    return s.mutate(
        dst_ip=parts[1],
        dst_port=parts[2].cast("int64"),
        service=parts[3],
        dst_inside=parts[4] == "1",
    )


def _bar_shape(s: ir.Table, p: Params) -> ir.Table:
    """RITA's bimodal fit (the two most common bar heights, as a count of bars) and the longest
    run of consecutive hours with connections (wrapping around the day), from the 24 hourly
    counts of each series."""
    bars = s.select("sid", h=ibis.array([s[f"h{i}"] for i in range(_HOURS)]))
    bars = bars.unnest("h", offset="bin")
    bars = bars.filter(bars.h > 0)
    w = ibis.window(group_by=_by_sid(bars))
    size = ibis.greatest((bars.h.max().over(w) * p.hist_mode_sensitivity).ceil(), 1)
    bars = bars.mutate(
        mode=(bars.h / size).floor(),
        island=bars.bin
        - ibis.row_number().over(ibis.window(group_by=_by_sid(bars), order_by=bars.bin)),
    )
    same_mode = ibis.window(group_by=[*_by_sid(bars), bars.mode])
    same_run = ibis.window(group_by=[*_by_sid(bars), bars.island])
    bars = bars.mutate(
        freq=bars.count().over(same_mode),
        run=bars.count().over(same_run),
        run_lo=bars.bin.min().over(same_run),
        run_hi=bars.bin.max().over(same_run),
    )
    w = ibis.window(group_by=_by_sid(bars))
    bars = bars.mutate(top1=bars.freq.max().over(w))
    w = ibis.window(group_by=_by_sid(bars))
    first_mode = ibis.ifelse(bars.freq == bars.top1, bars.mode, ibis.null("float64"))
    bars = bars.mutate(top_mode=first_mode.max().over(w))
    none = ibis.null("int64")
    shape = bars.group_by("sid").aggregate(
        top1=bars.top1.max(),
        top2=ibis.ifelse(bars.mode != bars.top_mode, bars.freq, none).max().fill_null(0),
        longest=bars.run.max(),
        run_at_start=ibis.ifelse(bars.run_lo == 0, bars.run, none).max(),
        run_at_end=ibis.ifelse(bars.run_hi == _HOURS - 1, bars.run, none).max(),
        islands=bars.island.nunique(),
    )
    wrap = (shape.islands >= 2) & shape.run_at_start.notnull() & shape.run_at_end.notnull()
    return shape.select(
        "sid",
        modal_bars=shape.top1 + shape.top2,
        longest=ibis.ifelse(
            wrap, ibis.greatest(shape.longest, shape.run_at_start + shape.run_at_end), shape.longest
        ),
    )


def _bowley(q1: ir.NumericValue, q2: ir.NumericValue, q3: ir.NumericValue) -> ir.NumericValue:
    """RITA's Bowley skewness: 0 when the quartiles are less than 10 (seconds or bytes) apart
    or the median sits on a quartile, where the measure is noise."""
    den = q3 - q1
    usable = (den >= 10) & (q2 != q1) & (q2 != q3)
    return ibis.ifelse(usable, (q1 + q3 - 2 * q2) / ibis.greatest(den, 1e-9), 0.0).fill_null(0.0)


def _mad_score(median: ir.NumericValue, mad: ir.NumericValue, default: float) -> ir.NumericValue:
    """RITA's MAD score: 1 - MAD/median, floored at 0; ``default`` when the median is below 1."""
    score = ibis.greatest((median - mad) / ibis.greatest(median, 1e-9), 0.0)
    return ibis.ifelse(median >= 1, score, default).fill_null(default)


def _scores(s: ir.Table, p: Params) -> ir.Table:
    """The sub-scores, RITA's score and ours, for every series."""
    hours = [s[f"h{i}"] for i in range(_HOURS)]
    total_bars = sum((h > 0).cast("int64") for h in hours)
    sumsq = sum(h * h for h in hours)
    mean = s.beats / _HOURS
    cv = ibis.greatest(sumsq / _HOURS - mean * mean, 0.0).sqrt() / mean
    cv_score = ibis.ifelse(cv > 1, 0.0, 1 - cv)
    fit = ibis.ifelse(
        total_bars >= p.hist_bimodal_min_hours,
        ibis.least(
            s.modal_bars / ibis.greatest(total_bars - p.hist_bimodal_outlier_removal, 1), 1.0
        ),
        0.0,
    )
    histogram = ibis.greatest(cv_score, fit)
    span = ibis.greatest(s.obs_end - s.obs_start, 1e-9)
    coverage = ibis.least((s.last_t - s.first_t) / span, 1.0)
    consistency = ibis.least(s.longest / p.duration_ideal_consecutive_hours, 1.0)
    duration = ibis.ifelse(
        total_bars >= p.duration_min_hours, ibis.greatest(coverage, consistency), 0.0
    )
    skew = _bowley(s.iq1, s.period, s.iq3)
    rita_timing = ((1 - skew.abs()) + _mad_score(s.period, s.mad, 1.0)) / 2
    size = ((1 - _bowley(s.bq1, s.bmed, s.bq3).abs()) + _mad_score(s.bmed, s.bmad, 0.0)) / 2
    rita = (rita_timing + size + histogram + duration) / 4
    # The clock: the share of intervals that are one beat or a few beats with misses (half
    # weight), shrunk for short series, times one minus half the jitter left once the
    # timestamps' own resolution (whole seconds or milliseconds) is taken off.
    resolution = ibis.ifelse(s.fractional == 0, 0.5, 0.0005)
    beat = s.beat_period
    jitter = ibis.least(ibis.greatest(s.jitter_mad.fill_null(beat) - resolution, 0.0) / beat, 1.0)
    regular = (s.n_single + p.missed_beat_weight * s.n_multi) / (s.intervals + p.prior_intervals)
    timing = regular * (1 - jitter / 2)
    support = (size + histogram + duration) / 3
    score = timing * (p.corroboration_base + (1 - p.corroboration_base) * support)
    return s.mutate(
        total_bars=total_bars,
        histogram=histogram,
        coverage=coverage,
        duration=duration,
        skew=skew,
        rita_timing=rita_timing,
        size=size,
        rita=rita,
        jitter=jitter,
        timing=timing,
        score=ibis.least(ibis.greatest(score, 0.0), 1.0),
    )


def _severity(s: ir.Table, p: Params) -> ir.Table:
    """Severity rank from the score, capped for internal, unanswered and by-design-periodic
    series, with the reason of the cap."""
    rank = ibis.cases(
        (s.score >= p.critical_score, _rank("critical")),
        (s.score >= p.high_score, _rank("high")),
        (s.score >= p.medium_score, _rank("medium")),
        else_=_rank("low"),
    )
    internal = s.src_inside & s.dst_inside & (s.via_proxy == 0)
    by_design = s.unexpected == 0
    caps: list[tuple[ir.BooleanValue, int, ir.StringValue]] = [
        (
            by_design,
            _rank(p.expected_periodic_max_severity),
            "protocol periodic by design: " + s.service,
        ),
        (~s.answered, _rank(p.unanswered_max_severity), ibis.literal("never answered")),
        (internal, _rank(p.internal_max_severity), ibis.literal("internal to internal")),
    ]
    cap = ibis.least(*[ibis.ifelse(when, level, _rank("critical")) for when, level, _ in caps])
    # The reason is the cap that lowered the severity (the lowest one when several apply).
    reason = ibis.cases(
        *[(when & (rank > level) & (cap == level), text) for when, level, text in caps],
        else_=ibis.null("string"),
    )
    return s.mutate(rank=ibis.least(rank, cap), cap_reason=reason)


def _one_per_beacon(s: ir.Table, p: Params) -> ir.Table:
    """One alert per entity (its best track), and one per beacon: a name series and the
    address series of its main destination describe the same connections, so only the
    better is kept (the name unless the address scores ``name_preference`` more)."""
    s = s.mutate(
        pick=ibis.row_number().over(
            ibis.window(
                group_by=_by(s, _ENTITY),
                order_by=[s.rank.desc(), s.score.desc(), s.answered.desc()],
            )
        )
    )
    s = s.filter(s.pick == 0)
    link = ibis.ifelse(s.kind == "ip", s.key, s.dst_ip)
    w = ibis.window(group_by=[s.day, s.src, link])
    none = ibis.null("float64")
    s = s.mutate(
        name_score=ibis.ifelse(s.kind == "name", s.score, none).max().over(w),
        ip_score=ibis.ifelse(s.kind == "ip", s.score, none).max().over(w),
    )
    by_name = (s.kind == "ip") & (s.name_score >= s.score - p.name_preference)
    by_address = (s.kind == "name") & (s.ip_score > s.score + p.name_preference)
    return s.filter(~(by_name.fill_null(False) | by_address.fill_null(False)))


@detection(
    id="network.beaconing",
    title="Periodic connections (possible C2 beaconing)",
    attack=("T1071", "T1071.001", "T1573"),
    inputs=("conn", "tls", "http"),
    severity="medium",
)
def beaconing(conn: ir.Table, tls: ir.Table, http: ir.Table, params: Params = Params()) -> ir.Table:
    """One alert per periodic series and UTC day: a source that calls one destination address,
    or one server name, on a clock. Names are the TLS SNI, the HTTP Host header and the target
    of a proxy ``CONNECT``, so a beacon through an explicit proxy (client → proxy, name in
    ``http.log``/``ssl.log``) or a CDN (one address, many names) is seen as its own series.
    Every direction is analysed: outbound, inbound to exposed servers, and inside the network.

    How it works:

    1. **Series and tracks.** Every connection is an event of its (source, destination address)
       series, every named TLS session or HTTP request one of its (source, name) series, per
       day (``window_start``). Answered connections and connections nobody answered (Zeek
       ``S0``, ``REJ``, ``RSTOS0``, ``RSTRH``, ``SH``, ``SHR``) are separate tracks, so that
       failed attempts neither make nor break a clock; a never-answered clock (a dead C2 that
       the implant keeps knocking on) is still reported, capped at ``medium``.
    2. **Dense-series filter.** Series with more than ``dense_series`` connections are only
       put in order when their non-empty hourly counts are steady: robust variance/mean
       (1.4826 × MAD)² / median ≤ ``max_dispersion``, or variance/mean without the quietest
       and busiest hour ≤ ``max_trimmed_dispersion``. A beacon is near 0, a Poisson process
       near 1, human traffic far above; this keeps the costly ordered analysis off the bulk
       of the traffic.
    3. **Beats.** Within a series, events less than ``burst_seconds`` after the previous one
       belong to the same beat (two sockets per check-in, a CONNECT and the TLS inside it, a
       log ingested twice), and a TCP attempt from the same source port within
       ``retry_seconds`` is the same ``connect()`` retried. Intervals are measured between
       beats on millisecond timestamps.
    4. **Timing, robust to jitter and missed beats.** The period is the median interval,
       refined once as the median of on-beat intervals divided by the beats they span (so that
       missed beats do not stretch it). Each interval is one beat when within
       ±``jitter_tolerance`` (50 %) of the period, *k* beats with *k* − 1 missed when it
       rounds to *k* ≤ ``max_missed_beats`` + 1 periods (half weight), else a short interval
       (an extra connection) or a pause. ``timing`` =
       (one-beat + ½ × missed-beat intervals) / (intervals + ``prior_intervals``) ×
       (1 − jitter / 2), where jitter is the median distance of interval / k from the period,
       as a share of the period, less the timestamps' resolution (half a second when every
       timestamp of the series is a whole second). Poisson traffic scores about 0.45, a
       ±50 % jittered beacon 0.75-0.85, a clean one 0.95 and more.
    5. **RITA's sub-scores** (RITA v5, on the same beats): timing = mean of 1 − the absolute
       Bowley skewness and 1 − MAD/median of the intervals; ``size_score`` = the same on the
       bytes each connection sent (IP bytes); ``histogram_score`` = the better of 1 − CV of
       24 bars over the day's observed span (hourly on a full day) and the bimodal fit (share
       of bars in the two most common heights, from 11 bars); ``duration_score`` = the better
       of the coverage of the observed span and the longest run of consecutive hours / 12,
       from 6 hours. ``rita_score`` is their mean, given for comparison.
    6. **Score** = timing × (0.5 + 0.5 × mean(size, histogram, duration)): no clock, no score;
       regular sizes and an all-day, every-hour presence at most double the clock's
       evidence.
    7. **Severity**: low from 0.55, medium from 0.62, high from 0.7, critical from 0.9; at most
       ``medium`` inside the network (unless through a proxy) and for never-answered series,
       at most ``low`` for protocols periodic by design (Zeek service ``ntp``). The evidence
       says which cap applied.
    8. **One alert per beacon.** One per entity (its better track); when a name series and the
       address series of its main destination both score, the name is kept unless the
       address scores ``name_preference`` more.

    Evidence: the series kind, track, direction, the cap applied, beats, period, jitter, the
    interval classes (on-beat fraction, missed beats, short intervals, pauses), whether the
    timestamps were whole seconds, every sub-score (ours and RITA's), the Bowley skewness and
    MAD of the intervals, median and MAD of bytes, coverage, hours seen, longest run of
    hours, destinations, service, the 24 hourly counts, and the interval histogram (counts in
    the fixed bins of ``interval_edges_seconds``, the last count for everything above) for the
    report to plot.
    """
    p = params
    series = list(_SERIES)
    keep = _dense_filter(conn, tls, http, p)
    events = _events(conn, tls, http, full=True)
    events = keep.inner_join(events, series).select(*events.columns, "proxied", "sid")
    beats = _beats(_with_bytes(events, conn), _observed(conn, tls, http), p)
    agg = _aggregate(beats, p)
    s = _scores(agg.inner_join(_bar_shape(agg, p), "sid"), p)
    s = s.filter(s.score >= p.min_score)
    s = _one_per_beacon(_severity(s, p), p)
    severity = ibis.cases(*[(s.rank == i, name) for i, name in enumerate(SEVERITIES)])
    direction = ibis.cases(
        (s.via_proxy > 0, "outbound via proxy"),
        (s.src_inside & s.dst_inside, "internal"),
        (s.src_inside, "outbound"),
        (s.dst_inside, "inbound"),
        else_="external",
    )
    edges = [float(x) for x in p.interval_edges]
    return s.select(
        entity=s.kind + "|" + s.src + "|" + s.key,
        window_start=s.day,
        first_seen=s.first_seen,
        last_seen=s.last_seen,
        source_ip=s.src,
        destination_ip=s.dst_ip,
        destination_port=s.dst_port.cast("int32"),
        destination_domain=ibis.ifelse(s.kind == "name", s.key, ibis.null("string")),
        score=s.score,
        severity=severity,
        evidence=ibis.struct(
            {
                "series": s.kind,
                "track": ibis.ifelse(s.answered, "answered", "unanswered"),
                "direction": direction,
                "severity_capped_because": s.cap_reason,
                "beats": s.beats,
                "period_seconds": s.beat_period,
                "jitter": s.jitter,
                "on_beat_fraction": (s.n_single + s.n_multi) / s.intervals,
                "missed_beats": s.missed,
                "short_intervals": s.n_short,
                "pauses": s.n_pause,
                "whole_second_timestamps": s.fractional == 0,
                "timing_score": s.timing,
                "size_score": s.size,
                "histogram_score": s.histogram,
                "duration_score": s.duration,
                "rita_timing_score": s.rita_timing,
                "rita_score": s.rita,
                "interval_skewness": s.skew,
                "interval_mad_seconds": s.mad,
                "bytes_median": s.bmed,
                "bytes_mad": s.bmad,
                "coverage": s.coverage,
                "hours_seen": s.total_bars,
                "longest_run_hours": s.longest,
                "destinations": s.destinations,
                "service": s.service,
                "hourly_counts": ibis.array([s[f"h{i}"] for i in range(_HOURS)]),
                "interval_edges_seconds": ibis.literal(edges, type="array<float64>"),
                "interval_counts": ibis.array(
                    [s[f"ih{i}"] for i in range(len(edges) - 1)] + [s.ih_over]
                ),
            }
        ),
    )
