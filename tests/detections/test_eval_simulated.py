"""On the simulator's day of traffic: every injected attack is found, and at least 90 % of the
alerts above medium severity are explained by an injected attack."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from signalfire.simulate.scoring import score
from signalfire.store import Store
from signalfire.store.alerts import list_alerts


def test_every_attack_found_and_precision_above_medium(
    simulated: tuple[Path, dict[str, Any]],
) -> None:
    db, truth = simulated
    with Store.open(db, read_only=True) as store:
        alerts = list_alerts(store.con)
    result = score(alerts, truth)
    expected = {a["expected_detection"] for a in truth["attacks"]}
    from signalfire.detections import ALL_DETECTIONS

    # Attacks whose detection is not built yet (intel.indicator_match: the intelligence issue)
    # are not counted here.
    pending = {a["id"] for a in truth["attacks"] if a["expected_detection"] not in ALL_DETECTIONS}
    assert set(result.missed) <= pending, result.to_json()
    assert expected - set(ALL_DETECTIONS) <= {"intel.indicator_match"}
    assert result.precision >= 0.9, {
        k: [(a["source_ip"], a["destination_ip"], a["severity"]) for a in v][:5]
        for k, v in result.false_positives.items()
    }
