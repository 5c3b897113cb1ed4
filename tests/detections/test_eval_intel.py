"""The intelligence match on the simulator's day: every known-bad indicator the simulated
attackers used is matched, and nothing else is (the feed also lists values nobody contacted)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from signalfire.simulate.scoring import SEVERITY_ORDER, matches
from signalfire.store import Store
from signalfire.store.alerts import list_alerts

MATCH = "intel.indicator_match"


def test_known_bad_indicators_all_matched_and_nothing_else(
    simulated: tuple[Path, dict[str, Any]],
) -> None:
    db, truth = simulated
    with Store.open(db, read_only=True) as store:
        alerts = list_alerts(store.con, detection=[MATCH])
        sightings = store.con.execute(
            "SELECT count(*) FROM sightings JOIN alerts USING (alert_id)"
        ).fetchone()
    matched = {a["evidence"]["indicator"] for a in alerts}
    assert matched == set(truth["indicators"]["contacted"])
    assert not matched & set(truth["indicators"]["never_contacted"])
    # The two attacks that only intelligence can see are found above medium, by their victims.
    for attack in truth["attacks"]:
        if attack["expected_detection"] == MATCH:
            hits = [a for a in alerts if matches(a, attack)]
            assert hits, attack["id"]
            assert min(SEVERITY_ORDER.index(a["severity"]) for a in hits) > 2, hits
    # Every alert above medium is about an injected attack; the resolvers that relayed the
    # victims' lookups are alerted at low severity only, and say so.
    for alert in alerts:
        if SEVERITY_ORDER.index(alert["severity"]) > SEVERITY_ORDER.index("medium"):
            assert any(matches(alert, attack) for attack in truth["attacks"]), alert
        if alert["evidence"]["relayed_by_resolver"]:
            assert alert["severity"] == "low"
    assert sightings is not None and sightings[0] >= len(alerts)
