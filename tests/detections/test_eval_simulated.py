"""On the simulator's day of traffic: every injected attack is found, and at least 90 % of the
alerts above medium severity are explained by an injected attack."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from signalfire.detections import ALL_DETECTIONS
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
    # Every injected attack has its detection registered, and every one is found.
    assert {a["expected_detection"] for a in truth["attacks"]} <= set(ALL_DETECTIONS)
    assert result.missed == [], result.to_json()
    assert len(result.found) == len(truth["attacks"])
    assert result.precision >= 0.9, {
        k: [(a["source_ip"], a["destination_ip"], a["severity"]) for a in v][:5]
        for k, v in result.false_positives.items()
    }
