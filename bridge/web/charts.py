"""The report page's charts as SVG text, drawn on the server: values in, markup
out, no I/O.

Hand-written, not pygal: pygal 3.1 always writes an inline <script> (its
config) and puts every colour in an inline <style>, both refused by the
inbox's CSP (script-src 'self'; style-src 'self') - its charts would draw in
black and log a violation on every page - and it brings two more packages
for what is rectangles and text here. Colours are presentation attributes
(not styles, so the CSP allows them) beside classes a stylesheet may use;
tooltips are SVG <title>s, no script. Every string (line names come from
the PBX and the config) is made printable and XML-escaped; the result is
well-formed XML, inline in the page or served on its own.
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from dataclasses import dataclass

from bridge.core.safe_text import printable

WIDTH = 400  # the viewBox: the page scales it to the screen, a phone's included
_FONT = 13
_LEFT = 36  # room for the y axis' numbers
_BAR_ROW = 22  # a horizontal bar's height with its gap
_LABEL_LIMIT = 40  # characters of a label drawn (the tooltip has more)


@dataclass(frozen=True, slots=True)
class Series:
    """One colour of bars: its legend name, a value per label or group."""

    key: str  # a class name: s-<key> (ASCII, ours)
    name: str
    colour: str  # #rrggbb
    values: Sequence[int]


def stacked_bars(title: str, labels: Sequence[str], series: Sequence[Series]) -> str:
    """One bar per label, its series stacked bottom up in order; at most six
    labels are written under the bars, so they never overlap on a phone."""
    height, top, bottom = 240, 16 + _legend_height(series), 24
    plot = height - top - bottom
    totals = [sum(s.values[i] for s in series) for i in range(len(labels))]
    if not any(totals):
        return _empty(title, height, "No missed calls in this period")
    scale_max, ticks = _ticks(max(totals))
    slot = (WIDTH - _LEFT) / len(labels)
    bar = max(1.0, slot * 0.8)
    parts = [_legend(series, 0), *_y_axis(ticks, scale_max, top, plot)]
    every = math.ceil(len(labels) / 6)
    for i, label in enumerate(labels):
        x, y = _LEFT + i * slot + (slot - bar) / 2, float(top + plot)
        for s in series:
            value = s.values[i]
            if value:
                h = value / scale_max * plot
                y -= h
                tip = f"{label}: {s.name} {value}"
                parts.append(_rect(x, y, bar, h, s, tip))
        if i % every == 0:
            parts.append(_label(x + bar / 2, top + plot + 16, label, "middle", size=11))
    return _svg(title, height, parts)


def funnel(title: str, steps: Sequence[tuple[str, int]], colours: Sequence[str] = ()) -> str:
    """Each step a bar as long as its share of the first, with count and
    share; ``colours``: each step's (else blue)."""
    height = 8 + len(steps) * _BAR_ROW
    first = steps[0][1] if steps else 0
    if not first:
        return _empty(title, 60, "No missed calls in this period")
    label_width, room = 80, WIDTH - 80 - 80
    parts = []
    for i, (name, value) in enumerate(steps):
        y = 4 + i * _BAR_ROW
        share = value / first
        width = max(1.0, min(share, 1.0) * room) if value else 0.0
        parts.append(_label(label_width - 6, y + 14, name, "end"))
        colour = colours[i] if i < len(colours) else "#1565c0"
        series = Series(f"step-{i}", name, colour, ())
        parts.append(_rect(label_width, y, width, _BAR_ROW - 6, series, f"{name}: {value}"))
        parts.append(_label(label_width + width + 6, y + 14, f"{value} ({share:.0%})", "start"))
    return _svg(title, height, parts)


def histogram(title: str, buckets: Sequence[tuple[str, int]], colour: str = "#6a1b9a") -> str:
    """One bar per bucket, each labelled under it."""
    if not any(value for _, value in buckets):
        return _empty(title, 60, "No owner has acted on a lead in this period")
    series = Series("wait", "threads", colour, [value for _, value in buckets])
    labels = [name for name, _ in buckets]
    height, top, bottom = 200, 12, 24
    plot = height - top - bottom
    scale_max, ticks = _ticks(max(series.values))
    slot = (WIDTH - _LEFT) / len(buckets)
    parts = list(_y_axis(ticks, scale_max, top, plot))
    for i, (label, value) in enumerate(zip(labels, series.values, strict=True)):
        x, h = _LEFT + i * slot + slot * 0.1, value / scale_max * plot
        if value:
            parts.append(_rect(x, top + plot - h, slot * 0.8, h, series, f"{label}: {value}"))
        parts.append(_label(x + slot * 0.4, top + plot + 16, label, "middle", size=11))
    return _svg(title, height, parts)


def grouped_bars(title: str, groups: Sequence[str], series: Sequence[Series]) -> str:
    """Per group (a line), one horizontal bar per series, on one scale."""
    if not groups:
        return _empty(title, 60, "No lines with calls in this period")
    top = 8 + _legend_height(series)
    row = 12
    group_height = 20 + row * len(series) + 10
    height = top + group_height * len(groups)
    most = max((v for s in series for v in s.values), default=0) or 1
    room = WIDTH - 40
    parts = [_legend(series, 0)]
    for g, name in enumerate(groups):
        y = top + g * group_height
        parts.append(_label(0, y + 14, name, "start", cls="group"))
        for k, s in enumerate(series):
            value, bar_y = s.values[g], y + 20 + k * row
            width = value / most * room
            if value:
                parts.append(_rect(0, bar_y, width, row - 2, s, f"{name}: {s.name} {value}"))
            parts.append(_label(width + 4, bar_y + row - 3, str(value), "start", size=10))
    return _svg(title, height, parts)


def _svg(title: str, height: int, parts: Sequence[str]) -> str:
    name = _escape(title)
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 {WIDTH} {height}"'
        f' width="100%" role="img" aria-label="{name}" font-family="sans-serif"'
        f' font-size="{_FONT}"><title>{name}</title>{"".join(parts)}</svg>'
    )


def _empty(title: str, height: int, message: str) -> str:
    return _svg(title, height, [_label(WIDTH / 2, height / 2, message, "middle", cls="empty")])


def _rect(x: float, y: float, width: float, height: float, series: Series, tip: str) -> str:
    return (
        f'<rect class="bar s-{_escape(series.key)}" x="{_n(x)}" y="{_n(y)}" width="{_n(width)}"'
        f' height="{_n(height)}" fill="{_colour(series.colour)}"><title>{_escape(tip, 120)}'
        "</title></rect>"
    )


def _label(
    x: float, y: float, text: str, anchor: str, *, size: int = _FONT, cls: str = "label"
) -> str:
    return (
        f'<text class="{cls}" x="{_n(x)}" y="{_n(y)}" text-anchor="{anchor}"'
        f' font-size="{size}" fill="#333">{_escape(text, _LABEL_LIMIT)}</text>'
    )


def _legend_height(series: Sequence[Series]) -> int:
    return 20 * math.ceil(len(series) / 2)


def _legend(series: Sequence[Series], y: int) -> str:
    """Two keys a row: fits a phone's width."""
    keys = []
    for i, s in enumerate(series):
        x, row_y = (i % 2) * (WIDTH / 2), y + (i // 2) * 20
        keys.append(
            f'<rect class="key s-{_escape(s.key)}" x="{_n(x)}" y="{row_y + 3}" width="12"'
            f' height="12" fill="{_colour(s.colour)}"/>'
            + _label(x + 18, row_y + 14, s.name, "start")
        )
    return f'<g class="legend">{"".join(keys)}</g>'


def _y_axis(ticks: Sequence[int], scale_max: int, top: int, plot: int) -> list[str]:
    lines = []
    for tick in ticks:
        y = top + plot - tick / scale_max * plot
        lines.append(
            f'<line class="grid" x1="{_LEFT}" x2="{WIDTH}" y1="{_n(y)}" y2="{_n(y)}"'
            ' stroke="#ddd" stroke-width="1"/>'
        )
        lines.append(_label(_LEFT - 6, y + 4, str(tick), "end", size=10))
    return lines


def _ticks(most: int) -> tuple[int, list[int]]:
    """A round top for the axis (1, 2 or 5 x 10^n a step, about four steps)."""
    raw = max(most, 1) / 4
    magnitude = 10 ** math.floor(math.log10(raw)) if raw >= 1 else 1
    step = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw)
    top = step * math.ceil(max(most, 1) / step)
    return top, list(range(0, top + 1, step))


def _escape(text: str, limit: int = 200) -> str:
    return html.escape(printable(text, limit), quote=True)


def _colour(value: str) -> str:
    """Only a #rrggbb of ours reaches an attribute."""
    digits = value.removeprefix("#")
    ok = len(digits) == 6 and all(c in "0123456789abcdefABCDEF" for c in digits)
    return value if ok else "#888888"


def _n(value: float) -> str:
    return f"{value:.1f}".removesuffix(".0")
