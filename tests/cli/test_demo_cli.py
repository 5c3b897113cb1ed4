"""The README's first command: `signalfire demo` finds every injected attack."""

from __future__ import annotations

import json
from pathlib import Path

from tests.cli.test_cli import run


def test_demo_finds_every_attack(tmp_path: Path) -> None:
    done = run("demo", "--dir", str(tmp_path), "--json")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    scored = result["ground_truth_score"]
    assert scored["missed"] == [] and len(scored["found"]) == 11, scored
    assert scored["precision"] >= 0.9, scored
    # The simulated threat feed was imported and matched.
    assert result["intel_import"]["indicators"] == 14
    assert result["detect"]["detections"]["intel.indicator_match"]["alerts"] > 0
    assert (tmp_path / "signalfire.duckdb").is_file()
