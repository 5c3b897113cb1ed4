"""Every registered detection is documented in docs/detections.md, generated from the code."""

from __future__ import annotations

from pathlib import Path

from signalfire.detections import ALL_DETECTIONS
from signalfire.detections.catalogue import render

DOC = Path(__file__).resolve().parents[2] / "docs" / "detections.md"


def test_catalogue_is_current() -> None:
    regenerate = "python -m signalfire.detections.catalogue > docs/detections.md"
    assert DOC.read_text() == render(), f"docs/detections.md is stale: {regenerate}"
    for detection_id in ALL_DETECTIONS:
        assert f"## `{detection_id}`" in DOC.read_text()
