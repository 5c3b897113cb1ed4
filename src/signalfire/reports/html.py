"""The analysis report: alerts ranked, each with its evidence and plots, in one HTML file."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jinja2

from signalfire import __version__
from signalfire.reports.plots import bar_chart

_ENV = jinja2.Environment(
    loader=jinja2.PackageLoader("signalfire.reports", "templates"),
    autoescape=jinja2.select_autoescape(["html"]),
)


def _plots(evidence: dict[str, Any]) -> list[str]:
    """A chart for every list of numbers in the evidence (histograms, hourly counts)."""
    charts = []
    for key, value in evidence.items():
        if (
            isinstance(value, list)
            and len(value) >= 3
            and all(isinstance(v, int | float) and not isinstance(v, bool) for v in value)
            and not key.endswith(("_edges", "_labels", "_bins"))
        ):
            labels = None
            for suffix in ("_edges", "_labels", "_bins"):
                candidate = evidence.get(key.removesuffix("_counts") + suffix) or evidence.get(
                    key + suffix
                )
                if isinstance(candidate, list):
                    labels = [_short(v) for v in candidate]
                    break
            charts.append(bar_chart(value, labels, title=key.replace("_", " ")))
    return charts


def _short(value: object) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def _scalars(evidence: dict[str, Any]) -> list[tuple[str, str]]:
    rows = []
    for key, value in evidence.items():
        if isinstance(value, list):
            if len(value) <= 12:
                rows.append((key, ", ".join(_short(v) for v in value)))
            continue
        if isinstance(value, float):
            rows.append((key, f"{value:.4g}"))
        elif value is not None:
            rows.append((key, str(value)))
    return rows


def render(alerts: list[dict[str, Any]], status: dict[str, Any], *, limit: int = 300) -> str:
    """The report as HTML text."""
    shown = [
        {**a, "plots": _plots(a["evidence"]), "facts": _scalars(a["evidence"])}
        for a in alerts[:limit]
    ]
    return _ENV.get_template("analysis.html.j2").render(
        alerts=shown,
        total=len(alerts),
        by_severity=Counter(a["severity"] for a in alerts),
        by_detection=Counter(a["detection"] for a in alerts).most_common(),
        status=status,
        generated=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        version=__version__,
    )


def write(path: Path, alerts: list[dict[str, Any]], status: dict[str, Any]) -> Path:
    """Write the report; return its path."""
    path.write_text(render(alerts, status), encoding="utf-8")
    return path
