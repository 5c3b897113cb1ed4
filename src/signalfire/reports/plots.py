"""Small inline SVG charts, so a report is one file that opens anywhere, offline."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape


def bar_chart(
    values: Sequence[float],
    labels: Sequence[str] | None = None,
    *,
    title: str = "",
    width: int = 520,
    height: int = 140,
) -> str:
    """An SVG bar chart of ``values`` (e.g. a beacon's interval histogram)."""
    n = len(values)
    if n == 0:
        return ""
    top = max(max(values), 1e-12)
    pad_left, pad_bottom, pad_top = 36, 22, 18
    plot_w, plot_h = width - pad_left - 6, height - pad_bottom - pad_top
    bar_w = plot_w / n
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'role="img" aria-label="{escape(title)}" class="chart">',
        f'<text x="{pad_left}" y="12" class="chart-title">{escape(title)}</text>',
        f'<line x1="{pad_left}" y1="{pad_top + plot_h}" x2="{width - 6}" y2="{pad_top + plot_h}" '
        'class="axis"/>',
        f'<text x="{pad_left - 4}" y="{pad_top + 8}" text-anchor="end" class="tick">'
        f"{_fmt(top)}</text>",
    ]
    for i, value in enumerate(values):
        h = plot_h * (value / top) if top else 0
        x = pad_left + i * bar_w
        label = labels[i] if labels and i < len(labels) else str(i)
        y, w = pad_top + plot_h - h, max(bar_w - 1, 1)
        parts.append(
            f'<rect x="{x + 0.5:.1f}" y="{y:.1f}" width="{w:.1f}" height="{h:.1f}" class="bar">'
            f"<title>{escape(label)}: {_fmt(value)}</title></rect>"
        )
    step = max(1, n // 8)
    for i in range(0, n, step):
        label = labels[i] if labels and i < len(labels) else str(i)
        x = pad_left + i * bar_w + bar_w / 2
        parts.append(
            f'<text x="{x:.1f}" y="{height - 6}" text-anchor="middle" class="tick">'
            f"{escape(label)}</text>"
        )
    parts.append("</svg>")
    return "".join(parts)


def _fmt(value: float) -> str:
    return f"{value:,.0f}" if abs(value) >= 10 else f"{value:.2g}"
