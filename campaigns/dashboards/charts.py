"""Charts and the map as SVG drawn on the server: no script, no style attribute.

Colours are presentation attributes (fill=...) and classes, so the pages keep their
Content-Security-Policy (style-src 'self'). Every chart has a table beside it.
"""
from __future__ import annotations

import re
# bandit B405: only parses the map shipped inside the pygal_maps_world package
import xml.etree.ElementTree as ElementTree  # nosec B405
from functools import lru_cache
from importlib import resources

from flask_babel import format_date
from markupsafe import Markup, escape

from campaigns.dashboards.operations import CountryBreakdown, DayCount

ONLINE_FILL = "#b3261e"
PAPER_FILL = "#5b5b57"
#: map colours from few to many signatures (colour-blind safe sequential reds)
MAP_STEPS = ["#fcbba1", "#fc9272", "#fb6a4a", "#de2d26", "#a50f15"]
NO_DATA_FILL = "#e5e1d8"


def _nice_max(value: int) -> int:
    """A round number at least ``value``, for the top of the axis."""
    if value <= 5:
        return 5
    magnitude = 10 ** (len(str(value)) - 1)
    for step in (1, 2, 2.5, 5, 10):
        top = int(step * magnitude)
        if top >= value:
            return top
    return value


def bar_chart(days: list[DayCount], title: str, description: str) -> Markup:
    """Stacked bars, online then paper, one per day."""
    width, height, left, bottom, top = 640, 220, 44, 24, 10
    plot_w, plot_h = width - left - 8, height - bottom - top
    peak = _nice_max(max((d.online + d.paper for d in days), default=0))
    slot = plot_w / max(len(days), 1)
    bar = max(slot * 0.7, 1)
    parts = [
        f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" '
        f'aria-labelledby="chart-title chart-desc" xmlns="http://www.w3.org/2000/svg">',
        f'<title id="chart-title">{escape(title)}</title>',
        f'<desc id="chart-desc">{escape(description)}</desc>',
    ]
    for fraction in (0, 0.5, 1):
        y = top + plot_h * (1 - fraction)
        parts.append(f'<line x1="{left}" x2="{width - 8}" y1="{y:.1f}" y2="{y:.1f}" '
                     f'stroke="#e5e1d8" stroke-width="1"/>')
        parts.append(f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end" font-size="11" '
                     f'fill="#5b5b57">{int(peak * fraction)}</text>')
    for i, day in enumerate(days):
        x = left + i * slot + (slot - bar) / 2
        online_h = plot_h * day.online / peak
        paper_h = plot_h * day.paper / peak
        y_online = top + plot_h - online_h
        label = escape(f"{day.day.isoformat()}: {day.online} + {day.paper}")
        parts.append(f'<g><title>{label}</title>')
        if day.online:
            parts.append(f'<rect class="bar-online" x="{x:.1f}" y="{y_online:.1f}" '
                         f'width="{bar:.1f}" height="{online_h:.1f}" fill="{ONLINE_FILL}"/>')
        if day.paper:
            parts.append(f'<rect class="bar-paper" x="{x:.1f}" y="{y_online - paper_h:.1f}" '
                         f'width="{bar:.1f}" height="{paper_h:.1f}" fill="{PAPER_FILL}"/>')
        parts.append("</g>")
    if days:
        last = len(days) - 1
        for day_index, anchor in sorted({0: "start", last // 2: "middle", last: "end"}.items()):
            x = left + day_index * slot + (0 if anchor == "start" else slot if anchor == "end" else slot / 2)
            parts.append(f'<text x="{x:.1f}" y="{height - 6}" text-anchor="{anchor}" font-size="11" '
                         f'fill="#5b5b57">{escape(format_date(days[day_index].day, "d MMM"))}</text>')
    parts.append("</svg>")
    # bandit B704: every text in parts went through escape() above
    return Markup("".join(parts))  # nosec B704


@lru_cache(maxsize=1)
def world_paths() -> dict[str, list[str]]:
    """Country code (upper case) -> SVG path data, from pygal_maps_world's world map."""
    source = resources.files("pygal_maps_world").joinpath("worldmap.svg").read_bytes()
    # bandit B314: a file of an installed package, not input from anyone
    root = ElementTree.fromstring(source)  # nosec B314
    paths: dict[str, list[str]] = {}
    for group in root.iter("{http://www.w3.org/2000/svg}g"):
        classes = (group.get("class") or "").split()
        if "country" not in classes:
            continue
        code = classes[0].upper()
        paths[code] = [p.get("d") for p in group.iter("{http://www.w3.org/2000/svg}path")]
    return paths


_SAFE_PATH = re.compile(r"^[0-9a-zA-Z .,\-]*$")


def world_map(breakdown: CountryBreakdown, title: str, names: dict[str, str]) -> str:
    """A choropleth world map as a standalone SVG document (served as an image)."""
    totals = {row.country: row.total for row in breakdown.rows}
    peak = max(totals.values(), default=0)
    parts = ['<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 2475 1388" role="img" '
             'aria-labelledby="map-title">',
             f'<title id="map-title">{escape(title)}</title>',
             f'<rect width="2475" height="1388" fill="#ffffff"/>',
             f'<g fill="{NO_DATA_FILL}" stroke="#ffffff" stroke-width="0.8">']
    for code, paths in world_paths().items():
        count = totals.get(code, 0)
        fill = ""
        if count and peak:
            step = min(int(len(MAP_STEPS) * count / (peak + 1)), len(MAP_STEPS) - 1)
            fill = f' fill="{MAP_STEPS[step]}"'
        label = escape(f"{names.get(code, code)}: {count}")
        parts.append(f"<g{fill}><title>{label}</title>")
        parts.extend(f'<path d="{d}"/>' for d in paths if _SAFE_PATH.match(d or ""))
        parts.append("</g>")
    parts.append("</g></svg>")
    return "".join(parts)
