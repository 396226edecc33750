"""Server-side SVG charts for the reporting dashboards (no JavaScript, no CDN).

Each function returns a self-contained `<svg>` string sized by viewBox so it scales with its card.
"""

from __future__ import annotations

from html import escape

PALETTE = ["#4f46e5", "#0ea5e9", "#10b981", "#f59e0b", "#ef4444", "#8b5cf6", "#64748b", "#ec4899"]
STATUS_COLOURS = {
    "open": "#10b981",
    "pending_approval": "#f59e0b",
    "draft": "#94a3b8",
    "filled": "#4f46e5",
    "closed": "#64748b",
}


def hbars(data: list[tuple[str, float]], unit: str = "", width: int = 520) -> str:
    if not data:
        return '<p class="muted">No data yet.</p>'
    row, label_w = 30, 150
    top = max(v for _, v in data) or 1
    h = row * len(data) + 10
    parts = [f'<svg class="chart" viewBox="0 0 {width} {h}" role="img">']
    for i, (label, value) in enumerate(data):
        y = 5 + i * row
        w = (width - label_w - 70) * value / top
        parts.append(
            f'<text x="{label_w - 8}" y="{y + 18}" text-anchor="end" class="lbl">{escape(str(label))}</text>'
            f'<rect x="{label_w}" y="{y + 4}" width="{w:.1f}" height="{row - 10}" rx="4" fill="{PALETTE[i % len(PALETTE)]}"/>'
            f'<text x="{label_w + w + 6:.1f}" y="{y + 18}" class="val">{value:g}{escape(unit)}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def columns(data: list[tuple[str, float]], width: int = 560, height: int = 220) -> str:
    if not data:
        return '<p class="muted">No data yet.</p>'
    pad_l, pad_b, pad_t = 30, 28, 14
    top = max(v for _, v in data) or 1
    slot = (width - pad_l) / len(data)
    inner = height - pad_b - pad_t
    parts = [f'<svg class="chart" viewBox="0 0 {width} {height}" role="img">']
    for frac in (0.0, 0.5, 1.0):
        y = pad_t + inner * (1 - frac)
        parts.append(
            f'<line x1="{pad_l}" x2="{width}" y1="{y:.1f}" y2="{y:.1f}" class="grid"/>'
            f'<text x="{pad_l - 6}" y="{y + 4:.1f}" text-anchor="end" class="lbl">{top * frac:.0f}</text>'
        )
    for i, (label, value) in enumerate(data):
        bh = inner * value / top
        x = pad_l + i * slot + slot * 0.15
        parts.append(
            f'<rect x="{x:.1f}" y="{pad_t + inner - bh:.1f}" width="{slot * 0.7:.1f}" height="{bh:.1f}" rx="3" fill="{PALETTE[0]}">'
            f"<title>{escape(label)}: {value:g}</title></rect>"
        )
        if i % 2 == 0:
            parts.append(
                f'<text x="{x + slot * 0.35:.1f}" y="{height - 8}" text-anchor="middle" class="lbl">{escape(label)}</text>'
            )
    parts.append("</svg>")
    return "".join(parts)


def stacked(data: list[tuple[str, dict[str, int]]], width: int = 560) -> str:
    if not data:
        return '<p class="muted">No data yet.</p>'
    row, label_w = 30, 150
    top = max(sum(v.values()) for _, v in data) or 1
    h = row * len(data) + 34
    parts = [f'<svg class="chart" viewBox="0 0 {width} {h}" role="img">']
    for i, (label, counts) in enumerate(data):
        y, x = 5 + i * row, float(label_w)
        parts.append(
            f'<text x="{label_w - 8}" y="{y + 18}" text-anchor="end" class="lbl">{escape(label)}</text>'
        )
        for status, colour in STATUS_COLOURS.items():
            n = counts.get(status, 0)
            w = (width - label_w - 40) * n / top
            if n:
                parts.append(
                    f'<rect x="{x:.1f}" y="{y + 4}" width="{w:.1f}" height="{row - 10}" fill="{colour}">'
                    f"<title>{escape(label)} {status}: {n}</title></rect>"
                )
            x += w
        parts.append(
            f'<text x="{x + 6:.1f}" y="{y + 18}" class="val">{sum(counts.values())}</text>'
        )
    lx = label_w
    for status, colour in STATUS_COLOURS.items():
        parts.append(
            f'<rect x="{lx}" y="{h - 20}" width="10" height="10" fill="{colour}"/>'
            f'<text x="{lx + 14}" y="{h - 11}" class="lbl">{status.replace("_", " ")}</text>'
        )
        lx += 112
    parts.append("</svg>")
    return "".join(parts)
