"""The tracker's chart: SVG drawn on the server (no script, no style attribute), with the
table beside it on the page carrying the same figures."""
from __future__ import annotations

from markupsafe import Markup, escape

BAR_FILL = "#b3261e"
TRACK_FILL = "#e5e1d8"


def reply_rate_chart(records, title: str, description: str) -> Markup:
    """One horizontal bar per company: the share of its campaigns answered publicly."""
    rows = sorted(records, key=lambda r: (-(r.reply_rate or 0), r.target.name.lower()))
    # narrow, so that on a phone the text stays readable; wide screens cap it with CSS
    label_w, bar_w, row_h, top = 150, 210, 26, 8
    width = label_w + bar_w + 48
    height = top * 2 + row_h * max(len(rows), 1)
    parts = [
        f'<svg class="chart chart-compact" viewBox="0 0 {width} {height}" role="img" '
        f'aria-labelledby="rate-chart-title rate-chart-desc" xmlns="http://www.w3.org/2000/svg">',
        f'<title id="rate-chart-title">{escape(title)}</title>',
        f'<desc id="rate-chart-desc">{escape(description)}</desc>',
    ]
    for i, rec in enumerate(rows):
        y = top + i * row_h
        rate = rec.reply_rate or 0
        name = rec.target.name if len(rec.target.name) <= 22 else rec.target.name[:21] + "\u2026"
        parts.append(f'<text x="{label_w - 8}" y="{y + 17}" text-anchor="end" font-size="12" '
                     f'fill="#1d1d1b">{escape(name)}</text>')
        parts.append(f'<rect x="{label_w}" y="{y + 5}" width="{bar_w}" height="16" fill="{TRACK_FILL}"/>')
        parts.append(f'<rect x="{label_w}" y="{y + 5}" width="{bar_w * rate:.1f}" height="16" '
                     f'fill="{BAR_FILL}"/>')
        parts.append(f'<text x="{label_w + bar_w + 6}" y="{y + 17}" font-size="12" '
                     f'fill="#1d1d1b">{round(rate * 100)}%</text>')
    parts.append("</svg>")
    # bandit B704: every text above is escaped; numbers are formatted by us
    return Markup("".join(parts))  # nosec B704
