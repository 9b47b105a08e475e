"""Server-side SVG charts: one module for every trend chart of the product.

A chart is a series of labelled values (None leaves a gap) drawn as a line or as bars. The
markup follows the rules of ``journey/map_svg.py``: no ``style`` attributes (strict CSP),
every text escaped, meaning not by colour alone, identical input → identical output. Each
chart carries a ``<title>``/``<desc>`` and a ``<title>`` per point (the hover value); the
Jinja macro ``templates/macros/charts.html`` adds the data table as the text alternative.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from markupsafe import Markup, escape

INK = "#1a1a1a"
GRID = "#d0d5da"
# Okabe & Ito blue: readable for every common colour-vision deficiency and in greyscale.
SERIES = "#0072B2"
NULL_MARK = "#767676"

ChartKind = Literal["line", "bar"]


@dataclass(frozen=True)
class ChartSize:
    width: int
    height: int
    left: int = 52  # room for the value axis labels
    right: int = 12
    top: int = 12
    bottom: int = 28  # room for the month labels


FULL = ChartSize(520, 200)
SMALL = ChartSize(320, 130, left=44, bottom=24)


@dataclass(frozen=True)
class Chart:
    """A rendered chart and the data behind it (for the table fallback)."""

    id: str
    title: str
    description: str
    value_heading: str
    labels: list[str]
    display: list[str]  # formatted values, "–" for None
    values: list[float | None]
    svg: Markup


def _e(value: object) -> str:
    return str(escape(value))


def _n(value: float) -> str:
    text = f"{value:.1f}".rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def _range(values: Sequence[float], kind: ChartKind) -> tuple[float, float]:
    low, high = min(values), max(values)
    if kind == "bar":
        low, high = min(low, 0.0), max(high, 0.0)
    if high == low:
        return (low - 1.0, high + 1.0) if kind == "line" else (low, low + 1.0)
    pad = (high - low) * 0.08
    return (low - pad if kind == "line" else low, high + pad)


def render_chart(
    *,
    chart_id: str,
    title: str,
    description: str,
    labels: Sequence[str],
    values: Sequence[float | None],
    display: Sequence[str],
    axis: Sequence[str] = (),
    kind: ChartKind = "line",
    size: ChartSize = FULL,
    no_data: str = "",
) -> Markup:
    """The ``<svg>`` of one series; ``display`` are the formatted values (hover titles),
    ``axis`` the formatted low, middle and high value-axis labels (computed by the caller
    with :func:`axis_values`)."""
    prefix = re.sub(r"[^A-Za-z0-9_-]", "-", chart_id) or "chart"
    w, h = size.width, size.height
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart chart-{kind}" role="img" '
        f'viewBox="0 0 {w} {h}" width="{w}" height="{h}" font-family="inherit" '
        f'aria-labelledby="{prefix}-title {prefix}-desc">'
        f'<title id="{prefix}-title">{_e(title)}</title>'
        f'<desc id="{prefix}-desc">{_e(description)}</desc>'
    ]
    present = [v for v in values if v is not None]
    plot_w = w - size.left - size.right
    plot_h = h - size.top - size.bottom
    count = max(len(values), 1)
    step = plot_w / count
    x_of = [size.left + step * (i + 0.5) for i in range(len(values))]

    # Month labels: every one when they fit, else every k-th (always the last).
    every = max(1, -(-len(labels) * 44 // max(plot_w, 1)))
    parts.append(f'<g class="chart-x" font-size="11" fill="{INK}" text-anchor="middle">')
    for i, label in enumerate(labels):
        if i % every == 0 or i == len(labels) - 1:
            parts.append(f'<text x="{_n(x_of[i])}" y="{h - 8}">{_e(label)}</text>')
    parts.append("</g>")

    if not present:
        parts.append(
            f'<text class="chart-empty" x="{_n(w / 2)}" y="{_n(size.top + plot_h / 2)}" '
            f'font-size="12" fill="{NULL_MARK}" text-anchor="middle">{_e(no_data)}</text></svg>'
        )
        return Markup("".join(parts))  # noqa: S704 - every value above went through _e()

    low, high = _range(present, kind)

    def y_of(value: float) -> float:
        return size.top + plot_h - (value - low) / (high - low) * plot_h

    parts.append(f'<g class="chart-grid" stroke="{GRID}" stroke-width="1">')
    grid = (low, (low + high) / 2, high)
    for value in grid:
        y = y_of(value)
        parts.append(f'<line x1="{size.left}" y1="{_n(y)}" x2="{w - size.right}" y2="{_n(y)}"/>')
    parts.append("</g>")
    if axis:
        parts.append(f'<g class="chart-y" font-size="11" fill="{INK}" text-anchor="end">')
        for value, text in zip(grid, axis, strict=False):
            parts.append(f'<text x="{size.left - 6}" y="{_n(y_of(value) + 4)}">{_e(text)}</text>')
        parts.append("</g>")

    parts.append('<g class="chart-series">')
    if kind == "bar":
        base = y_of(max(low, 0.0) if low <= 0 <= high else low)
        bar_w = step * 0.6
        for i, value in enumerate(values):
            tip = f"<title>{_e(labels[i])}: {_e(display[i])}</title>"
            if value is None:
                parts.append(
                    f'<g class="chart-null">{tip}<text x="{_n(x_of[i])}" y="{_n(base - 4)}" '
                    f'font-size="11" fill="{NULL_MARK}" text-anchor="middle">–</text></g>'
                )
                continue
            y = y_of(value)
            top, height = min(y, base), abs(base - y)
            parts.append(
                f'<rect class="chart-bar" x="{_n(x_of[i] - bar_w / 2)}" y="{_n(top)}" '
                f'width="{_n(bar_w)}" height="{_n(max(height, 1))}" fill="{SERIES}">{tip}</rect>'
            )
    else:
        # One path per run of values: a missing month is a gap, never a zero.
        runs: list[list[int]] = [[]]
        for i, value in enumerate(values):
            if value is None:
                if runs[-1]:
                    runs.append([])
            else:
                runs[-1].append(i)
        for run in runs:
            if len(run) > 1:
                d = " ".join(
                    f"{'M' if j == 0 else 'L'}{_n(x_of[i])},{_n(y_of(values[i]))}"  # type: ignore[arg-type]
                    for j, i in enumerate(run)
                )
                parts.append(
                    f'<path class="chart-line" d="{d}" fill="none" stroke="{SERIES}" '
                    f'stroke-width="2"/>'
                )
        for i, value in enumerate(values):
            tip = f"<title>{_e(labels[i])}: {_e(display[i])}</title>"
            if value is None:
                parts.append(
                    f'<g class="chart-null">{tip}<text x="{_n(x_of[i])}" '
                    f'y="{_n(size.top + plot_h - 4)}" font-size="11" fill="{NULL_MARK}" '
                    f'text-anchor="middle">–</text></g>'
                )
            else:
                parts.append(
                    f'<circle class="chart-point" cx="{_n(x_of[i])}" cy="{_n(y_of(value))}" '
                    f'r="3.5" fill="{SERIES}" stroke="#ffffff" stroke-width="1">{tip}</circle>'
                )
    parts.append("</g></svg>")
    return Markup("".join(parts))  # noqa: S704 - every value above went through _e()


def axis_values(values: Sequence[float | None], kind: ChartKind = "line") -> tuple[float, ...]:
    """The low, middle and high values of the value axis (for the caller to format)."""
    present = [v for v in values if v is not None]
    if not present:
        return ()
    low, high = _range(present, kind)
    return (low, (low + high) / 2, high)


def build_chart(
    *,
    chart_id: str,
    title: str,
    description: str,
    value_heading: str,
    labels: Sequence[str],
    values: Sequence[float | None],
    display: Sequence[str],
    axis: Sequence[str] = (),
    kind: ChartKind = "line",
    size: ChartSize = FULL,
    no_data: str = "",
) -> Chart:
    """A chart with its SVG and the data for the table fallback."""
    return Chart(
        id=chart_id,
        title=title,
        description=description,
        value_heading=value_heading,
        labels=list(labels),
        display=list(display),
        values=list(values),
        svg=render_chart(
            chart_id=chart_id,
            title=title,
            description=description,
            labels=labels,
            values=values,
            display=display,
            axis=axis,
            kind=kind,
            size=size,
            no_data=no_data,
        ),
    )
