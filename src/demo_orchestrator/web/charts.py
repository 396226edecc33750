"""Small server-side SVG charts for the usage page: no script, no external library."""

from __future__ import annotations

from html import escape

PALETTE = ("#4f46e5", "#0891b2", "#16a34a", "#d97706", "#db2777", "#7c3aed", "#0d9488")


def bar_chart(
    items: list[tuple[str, float]], *, title: str, unit: str = "", decimals: int = 2
) -> str:
    """Horizontal bars, one per item, labelled with their value."""
    width, row, label_w, pad = 640, 28, 170, 8
    height = max(1, len(items)) * row + 40
    top = max((v for _, v in items), default=0.0) or 1.0
    parts = [
        (
            f'<svg class="chart" role="img" aria-label="{escape(title)}" '
            f'viewBox="0 0 {width} {height}" xmlns="http://www.w3.org/2000/svg">'
        ),
        f'<text x="0" y="18" class="chart-title">{escape(title)}</text>',
    ]
    if not items:
        parts.append('<text x="0" y="52" class="chart-empty">no demos in this period</text>')
    for index, (label, value) in enumerate(items):
        y = 32 + index * row
        bar = (width - label_w - 90) * value / top
        colour = PALETTE[index % len(PALETTE)]
        parts.append(
            f'<text x="{label_w - pad}" y="{y + 17}" text-anchor="end" class="chart-label">'
            f"{escape(label[:26])}</text>"
            f'<rect x="{label_w}" y="{y + 4}" width="{bar:.1f}" height="{row - 10}" rx="3" '
            f'fill="{colour}"><title>{escape(label)}: {value:.{decimals}f}{unit}</title></rect>'
            f'<text x="{label_w + bar + 6:.1f}" y="{y + 17}" class="chart-value">'
            f"{value:.{decimals}f}{escape(unit)}</text>"
        )
    parts.append("</svg>")
    return "".join(parts)


def column_chart(items: list[tuple[str, float]], *, title: str) -> str:
    """Vertical columns over time (e.g. demos per day)."""
    width, height, base, pad = 640, 220, 180, 30
    top = max((v for _, v in items), default=0.0) or 1.0
    step = (width - pad) / max(1, len(items))
    parts = [
        (
            f'<svg class="chart" role="img" aria-label="{escape(title)}" '
            f'viewBox="0 0 {width} {height}" xmlns="http://www.w3.org/2000/svg">'
        ),
        f'<text x="0" y="18" class="chart-title">{escape(title)}</text>',
        f'<line x1="{pad}" y1="{base}" x2="{width}" y2="{base}" class="chart-axis"/>',
    ]
    if not items:
        parts.append('<text x="40" y="100" class="chart-empty">no demos in this period</text>')
    for index, (label, value) in enumerate(items):
        h = (base - 40) * value / top
        x = pad + index * step + step * 0.15
        parts.append(
            f'<rect x="{x:.1f}" y="{base - h:.1f}" width="{step * 0.7:.1f}" height="{h:.1f}" '
            f'rx="3" fill="{PALETTE[0]}"><title>{escape(label)}: {value:g}</title></rect>'
            f'<text x="{x + step * 0.35:.1f}" y="{base - h - 4:.1f}" text-anchor="middle" '
            f'class="chart-value">{value:g}</text>'
        )
        if len(items) <= 16 or index % max(1, len(items) // 8) == 0:
            parts.append(
                f'<text x="{x + step * 0.35:.1f}" y="{base + 16}" text-anchor="middle" '
                f'class="chart-label">{escape(label[5:])}</text>'
            )
    parts.append("</svg>")
    return "".join(parts)
