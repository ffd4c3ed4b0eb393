"""Charts drawn on the server as inline SVG: the console's overview and the
report share them, the browser needs no script for them, and a PDF prints
them sharp.

Each chart is an `<svg role="img">` with a title and a one-line description a
screen reader reads; exact figures are in the tables beside them.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, tzinfo

from markupsafe import Markup, escape

# Colours that stay apart for the common colour-vision deficiencies (Okabe-Ito).
COLOURS = {
    "answered": "#009E73",
    "did_you_mean": "#E69F00",
    "declined": "#999999",
    "humans": "#0072B2",
    "messages": "#0072B2",
    "conversations": "#E69F00",
    "negative": "#D55E00",
    "queue": "#CC79A7",
    "spike": "#D55E00",
}
FONT = 'font-family="system-ui, sans-serif" font-size="11"'


@dataclass(frozen=True)
class Series:
    name: str
    values: Sequence[float | None]
    colour: str


def nice_ceiling(value: float) -> float:
    """1, 2 or 5 times a power of ten, at least `value` (and at least 1)."""
    if value <= 1:
        return 1.0
    power = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 5, 10):
        if step * power >= value:
            return float(step * power)
    return float(10 * power)


def _time_ticks(times: Sequence[datetime], tz: tzinfo, most: int = 12) -> list[int]:
    """Indexes of `times` to label: whole hours, at most about `most`."""
    if not times:
        return []
    span_hours = max(1.0, (times[-1] - times[0]).total_seconds() / 3600)
    every = next(h for h in (1, 2, 3, 4, 6, 12, 24, 48, 168) if span_hours / h <= most)
    ticks = []
    for index, at in enumerate(times):
        local = at.astimezone(tz)
        if local.minute == 0 and (local.hour + 24 * local.toordinal()) % every == 0:
            ticks.append(index)
    return ticks


def _label(at: datetime, tz: tzinfo, span_days: float) -> str:
    local = at.astimezone(tz)
    return local.strftime("%d/%m %Hh" if span_days > 1 else "%Hh")


def _frame(
    width: int, height: int, title: str, description: str, body: list[str]
) -> Markup:
    return Markup(
        f'<svg class="chart" viewBox="0 0 {width} {height}" width="{width}" '
        f'height="{height}" role="img" aria-label="{escape(title)}" {FONT}>'
        f"<title>{escape(title)}</title><desc>{escape(description)}</desc>"
        + "".join(body)
        + "</svg>"
    )


def _axes(
    times: Sequence[datetime],
    tz: tzinfo,
    top: float,
    box: tuple[int, int, int, int],
    y_format: Callable[[float], str],
) -> list[str]:
    left, right, upper, lower = box
    parts = []
    # Five steps: 1, 2, 5 x 10^n tops give round gridlines (0.2, 0.4, 1, 2, 4, 10).
    for step in range(6):
        value = top * step / 5
        y = lower - (lower - upper) * step / 5
        parts.append(
            f'<line x1="{left}" x2="{right}" y1="{y:.1f}" y2="{y:.1f}" '
            f'stroke="#e4e4e4"/><text x="{left - 4}" y="{y + 4:.1f}" '
            f'text-anchor="end" fill="#555">{escape(y_format(value))}</text>'
        )
    if times:
        span_days = (times[-1] - times[0]).total_seconds() / 86400
        slot = (right - left) / len(times)
        for index in _time_ticks(times, tz):
            x = left + slot * index
            parts.append(
                f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{lower}" y2="{lower + 4}" '
                f'stroke="#888"/><text x="{x:.1f}" y="{lower + 16}" '
                f'text-anchor="middle" fill="#555">'
                f"{escape(_label(times[index], tz, span_days))}</text>"
            )
    return parts


def _legend(series: Sequence[Series], left: int, y: int) -> list[str]:
    parts, x = [], left
    for item in series:
        parts.append(
            f'<rect x="{x}" y="{y - 9}" width="10" height="10" fill="{item.colour}"/>'
            f'<text x="{x + 14}" y="{y}" fill="#333">{escape(item.name)}</text>'
        )
        x += 24 + 7 * len(item.name)
    return parts


def line_chart(
    times: Sequence[datetime],
    series: Sequence[Series],
    tz: tzinfo,
    title: str,
    description: str,
    y_format: Callable[[float], str] = lambda v: f"{v:.0f}",
    top: float | None = None,
    width: int = 900,
    height: int = 210,
) -> Markup:
    """Lines over time; None values leave a gap."""
    box = (44, width - 10, 24, height - 24)
    peak = max((v for s in series for v in s.values if v is not None), default=0.0)
    top = top or nice_ceiling(peak)
    left, right, upper, lower = box
    slot = (right - left) / max(1, len(times))
    body = _axes(times, tz, top, box, y_format) + _legend(series, left, 14)
    for item in series:
        path, pen_down = [], False
        values = list(item.values)
        for index, value in enumerate(values):
            if value is None:
                pen_down = False
                continue
            x = left + slot * (index + 0.5)
            y = lower - (lower - upper) * min(value, top) / top
            path.append(f"{'L' if pen_down else 'M'}{x:.1f} {y:.1f}")
            pen_down = True
            # A value with no neighbour (one hour with messages, between
            # hours without) draws no line: a dot shows it.
            before = values[index - 1] if index > 0 else None
            after = values[index + 1] if index + 1 < len(values) else None
            if before is None and after is None:
                body.append(
                    f'<circle cx="{x:.1f}" cy="{y:.1f}" r="2.5" fill="{item.colour}"/>'
                )
        if path:
            body.append(
                f'<path d="{" ".join(path)}" fill="none" stroke="{item.colour}" '
                'stroke-width="1.6" stroke-linejoin="round"/>'
            )
    return _frame(width, height, title, description, body)


def share_chart(
    times: Sequence[datetime],
    shares: Sequence[float | None],
    name: str,
    tz: tzinfo,
    title: str,
    description: str,
    width: int = 900,
    height: int = 200,
) -> Markup:
    """A share (0 to 1) over time, in per cent, its top fitted to the data
    (a top under 5 % is labelled to a tenth: 0.2 %, 0.4 %…, not 0 %, 0 %…)."""
    peak = max((share for share in shares if share), default=0.01)
    top = nice_ceiling(100 * peak) / 100
    digits = 1 if top < 0.05 else 0
    return line_chart(
        times,
        [Series(name, shares, COLOURS["negative"])],
        tz,
        title,
        description,
        y_format=lambda v: f"{100 * v:.{digits}f} %",
        top=top,
        width=width,
        height=height,
    )


def stacked_bars(
    times: Sequence[datetime],
    stacks: Sequence[Series],
    tz: tzinfo,
    title: str,
    description: str,
    width: int = 900,
    height: int = 230,
) -> Markup:
    """One bar per time slot, its parts stacked in the order given."""
    box = (44, width - 10, 24, height - 24)
    totals = [sum(s.values[i] or 0 for s in stacks) for i in range(len(times))]
    top = nice_ceiling(max(totals, default=0))
    left, right, upper, lower = box
    slot = (right - left) / max(1, len(times))
    body = _axes(times, tz, top, box, lambda v: f"{v:.0f}") + _legend(stacks, left, 14)
    for index in range(len(times)):
        base = 0.0
        for item in stacks:
            value = item.values[index] or 0
            if not value:
                continue
            y_top = lower - (lower - upper) * (base + value) / top
            bar = (lower - upper) * value / top
            body.append(
                f'<rect x="{left + slot * index + 1:.1f}" y="{y_top:.1f}" '
                f'width="{max(1.0, slot - 2):.1f}" height="{bar:.1f}" '
                f'fill="{item.colour}"><title>{escape(item.name)}: {value:.0f}'
                "</title></rect>"
            )
            base += value
    return _frame(width, height, title, description, body)


def hbars(
    rows: Sequence[tuple[str, float]],
    title: str,
    colour: str = "#0072B2",
    value_format: Callable[[float], str] = lambda v: f"{v:.0f}",
    width: int = 460,
) -> Markup:
    """Horizontal bars, largest first as given, with their values."""
    line = 22
    height = max(line, line * len(rows)) + 6
    label_width = 190
    peak = max((value for _, value in rows), default=0) or 1
    body = []
    for index, (label, value) in enumerate(rows):
        y = index * line + 4
        length = (width - label_width - 60) * value / peak
        shown = label if len(label) <= 30 else label[:29] + "…"
        body.append(
            f'<text x="{label_width - 6}" y="{y + 14}" text-anchor="end" '
            f'fill="#333">{escape(shown)}</text>'
            f'<rect x="{label_width}" y="{y + 3}" width="{max(1.0, length):.1f}" '
            f'height="14" fill="{colour}"/>'
            f'<text x="{label_width + length + 4:.1f}" y="{y + 14}" fill="#333">'
            f"{escape(value_format(value))}</text>"
        )
    description = "; ".join(f"{label}: {value_format(v)}" for label, v in rows)
    return _frame(width, height, title, description, body)


def sparkline(
    values: Sequence[int], title: str, width: int = 120, height: int = 28
) -> Markup:
    """A small bar per value (a group's messages per hour), latest on the right."""
    peak = max(values, default=0) or 1
    slot = width / max(1, len(values))
    body = [
        f'<rect x="{slot * index:.1f}" y="{height - height * value / peak:.1f}" '
        f'width="{max(1.0, slot - 1):.1f}" height="{height * value / peak:.1f}" '
        f'fill="{COLOURS["spike"] if index >= len(values) - 1 else "#0072B2"}"/>'
        for index, value in enumerate(values)
        if value
    ]
    description = ", ".join(str(value) for value in values)
    return _frame(width, height, title, description, body)
