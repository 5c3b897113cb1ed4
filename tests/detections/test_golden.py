"""Golden tests: each folder ``tests/detections/<detection id>/`` holds ``input/`` (logs the
project wrote for the case) and ``expected.json``; the detection must raise exactly the alerts
listed there (matched on source, destination, port, domain and severity), with scores in [0, 1]
and the evidence keys listed. Options: ``"internal"`` (CIDRs), ``"params"`` (overrides),
``"allow"`` (allowlist entries: value, type, reason). Indicators in ``intel/`` are imported first.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from signalfire import runner
from signalfire.detections import ALL_DETECTIONS
from signalfire.intel.indicators import IndicatorStore
from signalfire.store import Store

HERE = Path(__file__).parent
CASES = sorted(p for p in HERE.iterdir() if (p / "expected.json").is_file())
KEYS = ("source_ip", "destination_ip", "destination_port", "destination_domain", "severity")


def test_every_detection_has_a_golden_case() -> None:
    assert {p.name for p in CASES} >= set(ALL_DETECTIONS)


@pytest.mark.parametrize("case", CASES, ids=[p.name for p in CASES])
def test_golden(case: Path, tmp_path: Path) -> None:
    expected = json.loads((case / "expected.json").read_text())
    detection = case.name
    with Store.open(tmp_path / "golden.duckdb") as store:
        summary = runner.ingest(store, [case / "input"])
        assert summary.rejected == 0, "golden inputs must parse cleanly"
        if (case / "intel").is_dir():
            intel = IndicatorStore(store)
            imported = intel.import_paths([case / "intel"])
            assert not imported.failed and imported.to_json()["errors"] == 0, imported.to_json()
            for entry in expected.get("allow", []):
                intel.allow(entry["value"], type=entry.get("type"), reason=entry["reason"])
        runner.detect(
            store,
            internal=expected.get("internal"),
            only=[detection],
            overrides={detection: expected.get("params", {})},
        )
        rows = store.con.execute(
            f"SELECT {', '.join(KEYS)}, score, evidence FROM alerts WHERE detection = ? "
            "ORDER BY ALL",
            [detection],
        ).fetchall()
        again = runner.detect(
            store,
            internal=expected.get("internal"),
            only=[detection],
            overrides={detection: expected.get("params", {})},
        )
        assert again.to_json()["new"] == 0, "re-running must not duplicate alerts"
    got = sorted(json.dumps(dict(zip(KEYS, r[: len(KEYS)], strict=True))) for r in rows)
    want = sorted(json.dumps({k: a.get(k) for k in KEYS}) for a in expected["alerts"])
    assert got == want
    for row in rows:
        assert 0.0 <= row[len(KEYS)] <= 1.0
        evidence = json.loads(row[len(KEYS) + 1])
        for key in expected.get("evidence_keys", []):
            assert key in evidence, f"evidence lacks {key}"
