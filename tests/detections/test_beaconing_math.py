"""The scoring of network.beaconing on synthetic series: jitter up to ±50 %, missed beats,
failed connections, bursts and whole-second timestamps keep a beacon's clock; random traffic
gets none. Each case is a day of conn rows run through the real detection on DuckDB."""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from signalfire import runner
from signalfire.store import Store
from signalfire.store.alerts import list_alerts

BEACONING = "network.beaconing"
DAY = 1_772_409_600  # 2026-03-02 00:00 UTC
SRC, DST = "10.9.0.10", "203.0.113.99"


def beacon_times(
    rng: random.Random, period: float, jitter: float, missed: float, hours: float = 24.0
) -> list[float]:
    """A sleep-and-jitter implant: every sleep is period × (1 ± jitter), some beats missed."""
    out, t = [], DAY + 60.0
    while t < DAY + hours * 3600 - 60:
        if rng.random() >= missed:
            out.append(t)
        t += period * (1 + rng.uniform(-jitter, jitter))
    return out


def poisson_times(rng: random.Random, mean: float) -> list[float]:
    out, t = [], DAY + 60.0
    while t < DAY + 86_340:
        out.append(t)
        t += rng.expovariate(1 / mean)
    return out


def conn_rows(
    times: list[float], *, state: str = "SF", whole: bool = False, port: int = 443
) -> list[dict[str, Any]]:
    rows = []
    for i, t in enumerate(times):
        seconds = round(t) if whole else t
        rows.append(
            {
                "timestamp": seconds,
                "uid": f"C{state}{i:07d}{port}",
                "source_ip": SRC,
                "source_port": 40000 + i % 20000,
                "destination_ip": DST,
                "destination_port": port,
                "network_transport": "tcp",
                "network_protocol": "ssl" if state == "SF" else None,
                "source_bytes": 420 if state == "SF" else 0,
                "destination_bytes": 1380 if state == "SF" else 0,
                "source_ip_bytes": 640 if state == "SF" else 120,
                "destination_packets": 5 if state == "SF" else 0,
                "connection_state": state,
            }
        )
    return rows


@pytest.fixture
def detect(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """detect(rows) -> the beaconing alerts raised on those conn rows."""
    counter = iter(range(1_000_000))

    def run(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        path = Path(tmp_path_factory.mktemp("beacon")) / f"b{next(counter)}.duckdb"
        table = pa.Table.from_pylist(rows)
        micros = pa.array([round(r["timestamp"] * 1_000_000) for r in rows], pa.int64())
        table = table.set_column(0, "timestamp", micros.cast(pa.timestamp("us")))
        with Store.open(path) as store:
            store.con.register("sf_rows", table)
            store.con.execute("INSERT INTO conn BY NAME SELECT * FROM sf_rows")
            store.con.unregister("sf_rows")
            runner.detect(store, only=[BEACONING])
            return list_alerts(store.con, detection=[BEACONING])

    yield run


def the_alert(alerts: list[dict[str, Any]]) -> dict[str, Any]:
    found = [a for a in alerts if a["destination_ip"] == DST]
    assert len(found) == 1, alerts
    return found[0]


@pytest.mark.parametrize("jitter", [0.0, 0.1, 0.2, 0.3, 0.4, 0.5])
def test_jitter_up_to_half_the_period_keeps_the_clock(detect: Any, jitter: float) -> None:
    rng = random.Random(int(jitter * 100))
    alert = the_alert(detect(conn_rows(beacon_times(rng, 300, jitter, 0.05))))
    assert alert["severity"] in ("high", "critical")
    evidence = alert["evidence"]
    assert 270 < evidence["period_seconds"] < 330
    # Jitter costs at most half its size: ±50 % still leaves a timing score of 0.75.
    assert evidence["timing_score"] >= 0.95 - jitter / 2 - 0.05
    assert evidence["on_beat_fraction"] > 0.95


@settings(
    max_examples=8,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    period=st.floats(30, 1800),
    jitter=st.floats(0, 0.5),
    missed=st.floats(0, 0.15),
    seed=st.integers(0, 2**32 - 1),
)
def test_any_jittered_beacon_is_alerted(
    detect: Any, period: float, jitter: float, missed: float, seed: int
) -> None:
    # At least ~80 beats a day (a period up to 15 minutes) make a high alert even at ±50 %
    # jitter and 15 % missed beats; a beacon every half hour (~40 beats) is at least medium.
    times = beacon_times(random.Random(seed), period, jitter, missed)
    alert = the_alert(detect(conn_rows(times)))
    wanted = ("high", "critical") if period <= 900 else ("medium", "high", "critical")
    assert alert["severity"] in wanted, alert["evidence"]


@settings(
    max_examples=6,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(mean=st.floats(60, 3600), seed=st.integers(0, 2**32 - 1))
def test_random_traffic_has_no_clock(detect: Any, mean: float, seed: int) -> None:
    alerts = detect(conn_rows(poisson_times(random.Random(seed), mean)))
    assert [a for a in alerts if a["severity"] not in ("info", "low")] == []


def test_missed_beats_cost_less_than_in_ritas_score(detect: Any) -> None:
    # A third of the beats missed: RITA's quartiles drift (skewed intervals, wide MAD); the
    # intervals still fall on multiples of the period.
    alert = the_alert(detect(conn_rows(beacon_times(random.Random(7), 300, 0.3, 0.33))))
    evidence = alert["evidence"]
    assert evidence["missed_beats"] > 70
    assert 280 < evidence["period_seconds"] < 340
    assert evidence["timing_score"] > 0.7
    assert evidence["timing_score"] > evidence["rita_timing_score"] + 0.1
    assert alert["severity"] in ("high", "critical")


def test_failed_connections_do_not_hide_or_fake_a_clock(detect: Any) -> None:
    rng = random.Random(3)
    beats = beacon_times(rng, 120, 0.2, 0.05)
    noise = poisson_times(rng, 90)
    rows = conn_rows(beats) + conn_rows(noise, state="S0")
    alert = the_alert(detect(rows))
    assert alert["evidence"]["track"] == "answered"
    assert alert["severity"] in ("high", "critical")
    assert 110 < alert["evidence"]["period_seconds"] < 130


def test_never_answered_clock_is_reported_at_most_medium(detect: Any) -> None:
    times = beacon_times(random.Random(5), 30, 0.05, 0.0, hours=2)
    alert = the_alert(detect(conn_rows(times, state="S0")))
    assert alert["evidence"]["track"] == "unanswered"
    assert alert["evidence"]["timing_score"] > 0.9
    assert alert["severity"] == "medium"
    assert alert["evidence"]["severity_capped_because"] in (None, "never answered")


def test_whole_second_timestamps_of_a_fast_beacon(detect: Any) -> None:
    # Every 10 s ±5 %: rounding to whole seconds alone moves intervals by up to 10 %.
    times = beacon_times(random.Random(11), 10, 0.05, 0.02, hours=6)
    alert = the_alert(detect(conn_rows(times, whole=True)))
    assert alert["evidence"]["whole_second_timestamps"] is True
    assert alert["evidence"]["jitter"] < 0.05
    assert alert["severity"] in ("high", "critical")


def test_bursts_are_one_beat(detect: Any) -> None:
    # Each check-in opens two connections 0.3 s apart (and the log holds one of them twice).
    times = beacon_times(random.Random(13), 600, 0.25, 0.05)
    rows = conn_rows(times) + conn_rows([t + 0.3 for t in times], port=443)
    for i, row in enumerate(rows[len(times) :]):
        row["uid"] = f"Cburst{i:07d}"
    rows += [dict(r, uid=r["uid"] + "dup") for r in rows[:50]]
    alert = the_alert(detect(rows))
    assert alert["evidence"]["beats"] == len(times)
    assert 540 < alert["evidence"]["period_seconds"] < 660
    assert alert["severity"] in ("high", "critical")
