"""Server-side SVG rendering of the customer-journey map.

The map is one column ("lane") per journey stage, left to right by stage position, with the
stage's touchpoints stacked inside it as linked boxes and the designed transitions drawn as
arrows between them. Everything is computed here, in pure Python, so the page works without
JavaScript and the output can be tested byte for byte.

Constraints that shaped the code:

* The site runs under a strict Content-Security-Policy (``style-src 'self'``), so the markup
  carries no ``style`` attributes and no ``<style>`` element; only SVG presentation attributes
  and CSS classes (which the caller can style from its own stylesheet).
* Every string arrives already translated and is treated as untrusted: all text and attribute
  values go through :func:`markupsafe.escape`.
* Meaning never depends on colour alone: backward transitions are dashed and arced, exit
  touchpoints get square corners and a double border, and the legend shows all three.
* Identical input gives identical output (stable ordering, no hash-order dependence).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from markupsafe import Markup, escape

LANE_W = 200
NODE_W = 150
NODE_H = 44
ROW_GAP = 18
PITCH = NODE_H + ROW_GAP
HEADER_H = 52
# Free band between the lane headers and the first row: backward arcs are routed through it.
TOP_GUTTER = 40
BOTTOM_PAD = 24
RIGHT_MARGIN = 16
MIN_WIDTH = 480
NODE_CHARS = 20  # ~6.5 px per character at font-size 12 inside a 150 px box
HEADER_CHARS = 24
CHAR_W = 7.0  # generous estimate, so legend labels do not run into each other
FORWARD_COLOUR = "#4d4d4d"
BACKWARD_COLOUR = "#d55e00"  # Okabe-Ito vermillion: distinct from grey for colour-blind readers
LANE_FILLS = ("#f4f6f8", "#ffffff")
HEADER_FILL = "#e3e8ed"
INK = "#1a1a1a"
FALLBACK_FILL = "#cccccc"
# Okabe-Ito blue: one customer's path, distinct from the grey and vermillion transitions.
PATH_COLOUR = "#0072b2"
# Heat map marks: Okabe-Ito reddish purple for drift and clusters, black for hotspots.
DRIFT_COLOUR = "#cc79a7"
CLUSTER_COLOUR = "#cc79a7"
HOTSPOT_COLOUR = "#000000"
FAINT_OPACITY = "0.25"
UNVISITED_OPACITY = "0.45"
_COLOUR_RE = re.compile(r"#[0-9a-fA-F]{6}")
_UNSAFE_URL_RE = re.compile(r"\s*(javascript|data|vbscript):", re.IGNORECASE)


@dataclass(frozen=True)
class MapLane:
    key: str
    name: str
    position: int


@dataclass(frozen=True)
class MapNode:
    key: str
    name: str
    stage_key: str
    url: str
    fill: str
    text_colour: str
    value_label: str | None
    exit: bool = False


@dataclass(frozen=True)
class MapEdge:
    source: str
    target: str
    backward: bool


@dataclass(frozen=True)
class PathEdge:
    """A transition one customer took, ``count`` times (drawn over the designed map)."""

    source: str
    target: str
    count: int


@dataclass(frozen=True)
class PathHighlight:
    """One customer's observed path: visited touchpoints (key → visits) and transitions.

    ``visited_label`` and ``path_edge_label`` are the legend texts, already translated.
    """

    visits: dict[str, int]
    edges: list[PathEdge]
    visited_label: str
    path_edge_label: str


@dataclass(frozen=True)
class FlowEdge:
    """An observed transition of a window with its count; ``designed`` when the map has it."""

    source: str
    target: str
    count: int
    designed: bool


@dataclass(frozen=True)
class HeatOverlay:
    """The heat map's marks over the designed map (labels already translated).

    Edge width grows with the observed flow; observed transitions the design lacks ("map
    drift") are dashed with their counts; designed transitions never observed are faint;
    hotspots carry a triangle (shape, not only colour); every cluster's members a dashed
    outline with the cluster's number.
    """

    flows: list[FlowEdge]  # drift below ``min_drift`` customers is left out (clutter)
    hotspots: frozenset[str]
    clusters: list[list[str]]
    hotspot_label: str
    cluster_label: str  # with %(n)s for the cluster's number
    drift_label: str
    unobserved_label: str
    flow_label: str
    min_drift: int = 1


@dataclass(frozen=True)
class LegendEntry:
    fill: str
    label: str


@dataclass(frozen=True)
class MapLabels:
    title: str
    description: str
    legend_title: str
    forward_edge: str
    backward_edge: str
    exit_node: str


def _e(value: object) -> str:
    return str(escape(value))


def _trusted(svg: str) -> Markup:
    # The single place markup is blessed: every interpolated value above went through _e(),
    # or is a number, a validated "#rrggbb" colour, or a sanitised id prefix.
    return Markup(svg)  # noqa: S704


def _n(value: float) -> str:
    """Compact, stable number formatting for coordinates."""
    text = f"{value:.1f}".rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def _colour(value: str, fallback: str) -> str:
    return value if _COLOUR_RE.fullmatch(value) else fallback


def _wrap(text: str, width: int, max_lines: int = 2) -> list[str]:
    """Greedy wrap at spaces and after hyphens (German compounds such as
    "Social-Media-Anzeigen"); an overlong word is split with a hyphen; overflow ends in "…"."""
    # (piece, glue): glue is what joins the piece to the previous one on the same line.
    pieces: list[tuple[str, str]] = []
    for word in text.split():
        glue = " "
        for part in re.findall(r"[^-]+-?|-", word):
            while len(part) > width:
                pieces.append((part[: width - 1] + "-", glue))
                part, glue = part[width - 1 :], ""
            pieces.append((part, glue))
            glue = ""
    lines: list[str] = []
    for piece, glue in pieces:
        if lines and len(lines[-1]) + len(glue) + len(piece) <= width:
            lines[-1] += glue + piece
        else:
            lines.append(piece)
    if len(lines) > max_lines:
        last = lines[max_lines - 1][: width - 1].rstrip()
        lines = [*lines[: max_lines - 1], last + "…"]
    return lines


def _tspans(lines: list[str], x: float, centre_y: float, line_h: float) -> str:
    # Baselines are placed by hand (cap height ~ 0.35 em) instead of dominant-baseline,
    # which renders inconsistently across browsers.
    first = centre_y - (len(lines) - 1) * line_h / 2 + line_h * 0.35
    return "".join(
        f'<tspan x="{_n(x)}" y="{_n(first + i * line_h)}">{_e(line)}</tspan>'
        for i, line in enumerate(lines)
    )


def _order_lanes(lane_nodes: list[list[str]], edges: Iterable[MapEdge], sweeps: int = 3) -> None:
    """Reorder nodes within lanes by neighbour barycenter to cut crossings (in place)."""
    neighbours: dict[str, set[str]] = {}
    for edge in edges:
        if edge.source != edge.target:
            neighbours.setdefault(edge.source, set()).add(edge.target)
            neighbours.setdefault(edge.target, set()).add(edge.source)

    def reorder(index: int, ref: int) -> None:
        rank = {key: i for i, key in enumerate(lane_nodes[ref])}

        def weight(item: tuple[int, str]) -> tuple[float, int]:
            i, key = item
            # sorted(): float sums must not depend on set iteration order.
            ranks = [rank[n] for n in sorted(neighbours.get(key, ())) if n in rank]
            return (sum(ranks) / len(ranks) if ranks else float(i), i)

        lane_nodes[index] = [key for _, key in sorted(enumerate(lane_nodes[index]), key=weight)]

    count = len(lane_nodes)
    for _ in range(sweeps):
        for index in range(1, count):
            reorder(index, index - 1)
        for index in range(count - 2, -1, -1):
            reorder(index, index + 1)


def _ranks(lane_nodes: list[list[str]]) -> dict[str, int]:
    """Row of each node inside its lane.

    This is a multipartite layout with one layer per stage. networkx's
    ``multipartite_layout`` orders a layer by set iteration, which changes with the hash
    seed between processes, so rows come from the deterministic barycenter order instead.
    """
    return {key: row for keys in lane_nodes for row, key in enumerate(keys)}


Point = tuple[float, float]


def _edge_points(
    s: Point, t: Point, s_lane: int, t_lane: int, same: bool
) -> tuple[Point, Point, Point, Point]:
    """Start, two control points and end of the cubic curve of an edge."""
    (sx, sy), (tx, ty) = s, t
    if s_lane == t_lane:
        # Same stage: bulge out to the right of the lane, further for more distant rows.
        # A self-loop needs distinct ends, otherwise the path collapses to a point.
        spread = 10 if same else 0
        y1, y2 = sy + NODE_H / 2 - spread, ty + NODE_H / 2 + spread
        bulge = min(24 + abs(ty - sy) / PITCH * 6, 44)
        x = sx + NODE_W
        return (x, y1), (x + bulge, y1), (x + bulge, y2), (x, y2)
    if t_lane > s_lane:
        x1, y1, x2, y2 = sx + NODE_W, sy + NODE_H / 2, tx, ty + NODE_H / 2
        c = max(30.0, (x2 - x1) / 2)
        return (x1, y1), (x1 + c, y1), (x2 - c, y2), (x2, y2)
    # Going back: arc over the top, top edge to top edge, through the gutter under the headers.
    x1, y1, x2, y2 = sx + NODE_W * 0.3, sy, tx + NODE_W * 0.7, ty
    top = max(HEADER_H + 4, min(y1, y2) - 26 - 0.08 * (x1 - x2))
    return (x1, y1), (x1, top), (x2, top), (x2, y2)


def _edge_path(s: Point, t: Point, s_lane: int, t_lane: int, same: bool) -> str:
    (x1, y1), (c1x, c1y), (c2x, c2y), (x2, y2) = _edge_points(s, t, s_lane, t_lane, same)
    return f"M{_n(x1)},{_n(y1)} C{_n(c1x)},{_n(c1y)} {_n(c2x)},{_n(c2y)} {_n(x2)},{_n(y2)}"


def _midpoint(points: tuple[Point, Point, Point, Point]) -> Point:
    """The curve's point at t = 0.5: (P0 + 3 P1 + 3 P2 + P3) / 8."""
    (ax, ay), (bx, by), (cx, cy), (dx, dy) = points
    return (ax + 3 * bx + 3 * cx + dx) / 8, (ay + 3 * by + 3 * cy + dy) / 8


def _edge_attrs(backward: bool, prefix: str) -> str:
    if backward:
        return (
            f'class="map-edge map-edge-backward" stroke="{BACKWARD_COLOUR}" '
            f'stroke-dasharray="6 4" marker-end="url(#{prefix}-arrow-back)"'
        )
    return (
        f'class="map-edge map-edge-forward" stroke="{FORWARD_COLOUR}" '
        f'marker-end="url(#{prefix}-arrow)"'
    )


def _node_box(x: float, y: float, w: float, h: float, fill: str, exit_: bool) -> str:
    if not exit_:
        return (
            f'<rect class="map-node-box" x="{_n(x)}" y="{_n(y)}" width="{_n(w)}" '
            f'height="{_n(h)}" rx="6" fill="{fill}" stroke="{INK}" stroke-width="1"/>'
        )
    # Exit touchpoints: square corners plus an inner second border, recognisable in greyscale.
    return (
        f'<rect class="map-node-box" x="{_n(x)}" y="{_n(y)}" width="{_n(w)}" height="{_n(h)}" '
        f'fill="{fill}" stroke="{INK}" stroke-width="1.5"/>'
        f'<rect class="map-node-exit-border" x="{_n(x + 3)}" y="{_n(y + 3)}" '
        f'width="{_n(w - 6)}" height="{_n(h - 6)}" fill="none" stroke="{INK}" stroke-width="1"/>'
    )


def _legend(
    legend: list[LegendEntry],
    labels: MapLabels,
    top: float,
    width: float,
    prefix: str,
    highlight: PathHighlight | None = None,
    heat: HeatOverlay | None = None,
) -> tuple[str, float]:
    """Legend as a left-to-right flow that wraps at the map width; returns markup, height."""
    parts = [
        f'<g class="map-legend"><text class="map-legend-title" x="12" y="{_n(top + 14)}" '
        f'font-size="13" font-weight="bold" fill="{INK}">{_e(labels.legend_title)}</text>'
    ]
    x, y = 12.0, top + 26
    max_chars = max(4, int((width - 70) / CHAR_W))

    def place(icon_w: float, label: str) -> tuple[float, float]:
        nonlocal x, y
        text = label if len(label) <= max_chars else label[: max_chars - 1] + "…"
        item_w = icon_w + 6 + len(text) * CHAR_W + 18
        if x > 12 and x + item_w > width - 12:
            x, y = 12.0, y + 24
        ix, x = x, x + item_w
        parts.append(
            f'<text x="{_n(ix + icon_w + 6)}" y="{_n(y + 12)}" font-size="12" '
            f'fill="{INK}">{_e(text)}</text>'
        )
        return ix, y

    for entry in legend:
        ix, iy = place(16, entry.label)
        parts.append(
            f'<rect class="map-legend-swatch" x="{_n(ix)}" y="{_n(iy)}" width="16" height="16" '
            f'fill="{_colour(entry.fill, FALLBACK_FILL)}" stroke="{INK}" stroke-width="0.5"/>'
        )
    x, y = 12.0, y + (24 if legend else 0)
    for backward, label in ((False, labels.forward_edge), (True, labels.backward_edge)):
        ix, iy = place(40, label)
        parts.append(
            f'<path d="M{_n(ix)},{_n(iy + 8)} H{_n(ix + 34)}" fill="none" stroke-width="1.5" '
            f"{_edge_attrs(backward, prefix)}/>"
        )
    ix, iy = place(30, labels.exit_node)
    parts.append(f'<g class="map-node-exit">{_node_box(ix, iy - 1, 30, 18, "#ffffff", True)}</g>')
    if highlight is not None:
        ix, iy = place(30, highlight.visited_label)
        parts.append(
            f'<g class="map-node-visited">{_node_box(ix, iy - 1, 30, 18, "#ffffff", False)}'
            f"{_visited_ring(ix, iy - 1, 30, 18)}</g>"
        )
        ix, iy = place(40, highlight.path_edge_label)
        parts.append(
            f'<path class="map-path-edge" d="M{_n(ix)},{_n(iy + 8)} H{_n(ix + 34)}" '
            f'fill="none" stroke="{PATH_COLOUR}" stroke-width="3" '
            f'marker-end="url(#{prefix}-arrow-path)"/>'
        )
    if heat is not None:
        parts.extend(_heat_legend(heat, place, prefix))
    parts.append("</g>")
    return "".join(parts), y + 24 - top


def _visited_ring(x: float, y: float, w: float, h: float) -> str:
    return (
        f'<rect class="map-node-visited-ring" x="{_n(x - 3)}" y="{_n(y - 3)}" '
        f'width="{_n(w + 6)}" height="{_n(h + 6)}" rx="8" fill="none" '
        f'stroke="{PATH_COLOUR}" stroke-width="3"/>'
    )


def _visit_badge(x: float, y: float, visits: int) -> str:
    """The visit count in a circle on the node's top-right corner."""
    cx, cy = x + NODE_W - 4, y + 2
    return (
        f'<g class="map-node-visits" aria-hidden="true">'
        f'<circle cx="{_n(cx)}" cy="{_n(cy)}" r="10" fill="{PATH_COLOUR}"/>'
        f'<text x="{_n(cx)}" y="{_n(cy + 4)}" text-anchor="middle" font-size="11" '
        f'font-weight="bold" fill="#ffffff">{visits}</text></g>'
    )


def _path_edges(
    highlight: PathHighlight,
    by_key: dict[str, MapNode],
    origin: dict[str, Point],
    lane_index: dict[str, int],
    prefix: str,
) -> str:
    """The customer's transitions: blue, wider for more, with the count at the middle."""
    parts = ['<g class="map-path" fill="none">']
    labels = []
    for edge in highlight.edges:
        if edge.source not in by_key or edge.target not in by_key or edge.count < 1:
            continue
        src, dst = by_key[edge.source], by_key[edge.target]
        points = _edge_points(
            origin[src.key],
            origin[dst.key],
            lane_index[src.stage_key],
            lane_index[dst.stage_key],
            src.key == dst.key,
        )
        (x1, y1), (c1x, c1y), (c2x, c2y), (x2, y2) = points
        width = 2.5 + min(edge.count - 1, 5)
        parts.append(
            f'<path class="map-path-edge" d="M{_n(x1)},{_n(y1)} C{_n(c1x)},{_n(c1y)} '
            f'{_n(c2x)},{_n(c2y)} {_n(x2)},{_n(y2)}" stroke="{PATH_COLOUR}" '
            f'stroke-width="{_n(width)}" marker-end="url(#{prefix}-arrow-path)">'
            f"<title>{_e(src.name)} → {_e(dst.name)}: {edge.count}</title></path>"
        )
        mx, my = _midpoint(points)
        labels.append(
            f'<text class="map-path-count" x="{_n(mx)}" y="{_n(my + 4)}" text-anchor="middle" '
            f'font-size="12" font-weight="bold" fill="{PATH_COLOUR}" stroke="#ffffff" '
            f'stroke-width="3" paint-order="stroke" aria-hidden="true">{edge.count}</text>'
        )
    parts.extend(labels)
    parts.append("</g>")
    return "".join(parts)


def _flow_width(count: int, most: int) -> float:
    """1.5 px for the thinnest observed flow up to 9 px for the strongest."""
    return 1.5 + 7.5 * (count / most) if most else 1.5


def _hotspot_mark(x: float, y: float) -> str:
    """A warning triangle on the node's top-left corner."""
    cx, cy = x + 4, y + 2
    return (
        f'<g class="map-node-hotspot" aria-hidden="true">'
        f'<path d="M{_n(cx)},{_n(cy - 10)} L{_n(cx + 10)},{_n(cy + 8)} L{_n(cx - 10)},'
        f'{_n(cy + 8)} z" fill="#ffffff" stroke="{HOTSPOT_COLOUR}" stroke-width="2"/>'
        f'<text x="{_n(cx)}" y="{_n(cy + 6)}" text-anchor="middle" font-size="11" '
        f'font-weight="bold" fill="{HOTSPOT_COLOUR}">!</text></g>'
    )


def _cluster_outline(x: float, y: float, number: int) -> str:
    return (
        f'<g class="map-node-cluster" aria-hidden="true">'
        f'<rect x="{_n(x - 5)}" y="{_n(y - 5)}" width="{_n(NODE_W + 10)}" '
        f'height="{_n(NODE_H + 10)}" rx="9" fill="none" stroke="{CLUSTER_COLOUR}" '
        f'stroke-width="2.5" stroke-dasharray="5 3"/>'
        f'<text x="{_n(x + NODE_W + 2)}" y="{_n(y + NODE_H + 4)}" text-anchor="end" '
        f'font-size="11" font-weight="bold" fill="{CLUSTER_COLOUR}" stroke="#ffffff" '
        f'stroke-width="3" paint-order="stroke">C{number}</text></g>'
    )


def _heat_edges(
    heat: HeatOverlay,
    edges: list[MapEdge],
    by_key: dict[str, MapNode],
    origin: dict[str, Point],
    lane_index: dict[str, int],
    prefix: str,
) -> str:
    """Designed edges by observed flow (faint when never observed), then the drift."""
    flows = {(f.source, f.target): f for f in heat.flows if f.count > 0}
    most = max((f.count for f in flows.values()), default=0)
    parts = ['<g class="map-edges map-heat-edges" fill="none">']
    labels = []

    def curve(src: MapNode, dst: MapNode) -> tuple[Point, Point, Point, Point]:
        return _edge_points(
            origin[src.key],
            origin[dst.key],
            lane_index[src.stage_key],
            lane_index[dst.stage_key],
            src.key == dst.key,
        )

    def d(points: tuple[Point, Point, Point, Point]) -> str:
        (x1, y1), (c1x, c1y), (c2x, c2y), (x2, y2) = points
        return f"M{_n(x1)},{_n(y1)} C{_n(c1x)},{_n(c1y)} {_n(c2x)},{_n(c2y)} {_n(x2)},{_n(y2)}"

    for edge in sorted(edges, key=lambda e: e.backward):
        src, dst = by_key[edge.source], by_key[edge.target]
        flow = flows.get((edge.source, edge.target))
        if flow is None:
            parts.append(
                f'<path class="map-edge map-edge-unobserved" d="{d(curve(src, dst))}" '
                f'stroke="{FORWARD_COLOUR}" stroke-width="1" opacity="{FAINT_OPACITY}" '
                f'marker-end="url(#{prefix}-arrow)"><title>{_e(src.name)} → {_e(dst.name)}: '
                f"{_e(heat.unobserved_label)}</title></path>"
            )
            continue
        colour = BACKWARD_COLOUR if edge.backward else FORWARD_COLOUR
        marker = "arrow-back" if edge.backward else "arrow"
        parts.append(
            f'<path class="map-edge map-edge-observed" d="{d(curve(src, dst))}" '
            f'stroke="{colour}" stroke-width="{_n(_flow_width(flow.count, most))}" '
            f'marker-end="url(#{prefix}-{marker})"><title>{_e(src.name)} → {_e(dst.name)}: '
            f"{flow.count}</title></path>"
        )
    designed = {(e.source, e.target) for e in edges}
    for flow in sorted(flows.values(), key=lambda f: (f.source, f.target)):
        if (flow.source, flow.target) in designed or flow.designed or flow.count < heat.min_drift:
            continue
        if flow.source not in by_key or flow.target not in by_key:
            continue
        src, dst = by_key[flow.source], by_key[flow.target]
        points = curve(src, dst)
        parts.append(
            f'<path class="map-edge map-edge-drift" d="{d(points)}" stroke="{DRIFT_COLOUR}" '
            f'stroke-width="{_n(_flow_width(flow.count, most))}" stroke-dasharray="7 4" '
            f'marker-end="url(#{prefix}-arrow-drift)"><title>{_e(src.name)} → {_e(dst.name)}: '
            f"{flow.count} ({_e(heat.drift_label)})</title></path>"
        )
        mx, my = _midpoint(points)
        labels.append(
            f'<text class="map-drift-count" x="{_n(mx)}" y="{_n(my + 4)}" text-anchor="middle" '
            f'font-size="11" font-weight="bold" fill="{DRIFT_COLOUR}" stroke="#ffffff" '
            f'stroke-width="3" paint-order="stroke" aria-hidden="true">{flow.count}</text>'
        )
    parts.extend(labels)
    parts.append("</g>")
    return "".join(parts)


def _heat_legend(heat: HeatOverlay, place: Any, prefix: str) -> list[str]:
    parts = []
    ix, iy = place(22, heat.hotspot_label)
    parts.append(_hotspot_mark(ix + 6, iy + 8))
    ix, iy = place(30, heat.cluster_label.replace("%(n)s", "1"))
    parts.append(
        f'<rect x="{_n(ix)}" y="{_n(iy)}" width="30" height="16" rx="5" fill="none" '
        f'stroke="{CLUSTER_COLOUR}" stroke-width="2.5" stroke-dasharray="5 3"/>'
    )
    ix, iy = place(40, heat.flow_label)
    parts.append(
        f'<path d="M{_n(ix)},{_n(iy + 8)} H{_n(ix + 34)}" fill="none" stroke="{FORWARD_COLOUR}" '
        f'stroke-width="5" marker-end="url(#{prefix}-arrow)"/>'
    )
    ix, iy = place(40, heat.drift_label)
    parts.append(
        f'<path d="M{_n(ix)},{_n(iy + 8)} H{_n(ix + 34)}" fill="none" stroke="{DRIFT_COLOUR}" '
        f'stroke-width="2.5" stroke-dasharray="7 4" marker-end="url(#{prefix}-arrow-drift)"/>'
    )
    ix, iy = place(40, heat.unobserved_label)
    parts.append(
        f'<path d="M{_n(ix)},{_n(iy + 8)} H{_n(ix + 34)}" fill="none" stroke="{FORWARD_COLOUR}" '
        f'stroke-width="1" opacity="{FAINT_OPACITY}" marker-end="url(#{prefix}-arrow)"/>'
    )
    return parts


def render_map(
    lanes: list[MapLane],
    nodes: list[MapNode],
    edges: list[MapEdge],
    legend: list[LegendEntry],
    labels: MapLabels,
    *,
    id_prefix: str = "journey-map",
    highlight: PathHighlight | None = None,
    heat: HeatOverlay | None = None,
) -> Markup:
    """Render the journey map as a complete ``<svg>`` element.

    ``id_prefix`` namespaces the element ids (title, description, arrow markers); pass a
    different one when a page shows more than one map. ``highlight`` draws one customer's
    path over the map: visited touchpoints ringed with their visit count, the others
    faded, and the transitions they took as blue arrows with their counts. ``heat`` draws
    the heat map's marks instead of the plain designed transitions (see HeatOverlay).
    """
    prefix = re.sub(r"[^A-Za-z0-9_-]", "-", id_prefix) or "journey-map"
    head = (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="journey-map" role="group" '
        f'aria-labelledby="{prefix}-title" aria-describedby="{prefix}-desc"'
    )
    meta = (
        f'<title id="{prefix}-title">{_e(labels.title)}</title>'
        f'<desc id="{prefix}-desc">{_e(labels.description)}</desc>'
    )
    ordered_lanes: list[MapLane] = []
    lane_index: dict[str, int] = {}
    for lane in sorted(lanes, key=lambda la: la.position):  # stable: ties keep input order
        if lane.key not in lane_index:
            lane_index[lane.key] = len(ordered_lanes)
            ordered_lanes.append(lane)
    if not ordered_lanes:
        return _trusted(f'{head} viewBox="0 0 320 40" width="320" height="40">{meta}</svg>')

    by_key: dict[str, MapNode] = {}
    lane_nodes: list[list[str]] = [[] for _ in ordered_lanes]
    for node in nodes:
        if node.stage_key in lane_index and node.key not in by_key:
            by_key[node.key] = node
            lane_nodes[lane_index[node.stage_key]].append(node.key)
    valid_edges = [e for e in edges if e.source in by_key and e.target in by_key]
    _order_lanes(lane_nodes, valid_edges)
    ranks = _ranks(lane_nodes)

    rows = max(1, *(len(keys) for keys in lane_nodes))
    lanes_h = HEADER_H + TOP_GUTTER + rows * PITCH - ROW_GAP + BOTTOM_PAD
    width = max(MIN_WIDTH, len(ordered_lanes) * LANE_W + RIGHT_MARGIN)
    legend_svg, legend_h = _legend(legend, labels, lanes_h + 8, width, prefix, highlight, heat)
    height = lanes_h + 8 + legend_h

    parts = [
        f'{head} viewBox="0 0 {_n(width)} {_n(height)}" width="{_n(width)}" '
        f'height="{_n(height)}" font-family="inherit">',
        meta,
        "<defs>",
    ]
    markers = [("arrow", FORWARD_COLOUR), ("arrow-back", BACKWARD_COLOUR)]
    if highlight is not None:
        markers.append(("arrow-path", PATH_COLOUR))
    if heat is not None:
        markers.append(("arrow-drift", DRIFT_COLOUR))
    # On the heat map edges are up to 9 px wide: arrowheads in user units keep one size.
    size = (
        'markerUnits="userSpaceOnUse" markerWidth="11" markerHeight="11"'
        if heat
        else ('markerWidth="7" markerHeight="7"')
    )
    for suffix, colour in markers:
        parts.append(
            f'<marker id="{prefix}-{suffix}" viewBox="0 0 10 10" refX="9" refY="5" '
            f'{size} orient="auto">'
            f'<path d="M0,0 L10,5 L0,10 z" fill="{colour}"/></marker>'
        )
    parts.append("</defs>")

    for index, lane in enumerate(ordered_lanes):
        x = index * LANE_W
        lines = _wrap(lane.name, HEADER_CHARS)
        parts.append(
            f'<g class="map-lane" data-key="{_e(lane.key)}"><title>{_e(lane.name)}</title>'
            f'<rect class="map-lane-bg" x="{x}" y="0" width="{LANE_W}" height="{_n(lanes_h)}" '
            f'fill="{LANE_FILLS[index % 2]}"/>'
            f'<rect class="map-lane-header" x="{x}" y="0" width="{LANE_W}" height="{HEADER_H}" '
            f'fill="{HEADER_FILL}"/>'
            f'<text class="map-lane-title" text-anchor="middle" font-size="13" '
            f'font-weight="bold" fill="{INK}">'
            f"{_tspans(lines, x + LANE_W / 2, HEADER_H / 2, 16)}</text></g>"
        )

    origin: dict[str, tuple[float, float]] = {
        key: (
            lane_index[by_key[key].stage_key] * LANE_W + (LANE_W - NODE_W) / 2,
            HEADER_H + TOP_GUTTER + ranks[key] * PITCH,
        )
        for key in by_key
    }
    if heat is not None:
        parts.append(_heat_edges(heat, valid_edges, by_key, origin, lane_index, prefix))
    else:
        parts.append('<g class="map-edges" fill="none" stroke-width="1.5">')
        # Backward edges last so their dashes stay visible where they cross forward ones.
        for edge in sorted(valid_edges, key=lambda e: e.backward):
            src, dst = by_key[edge.source], by_key[edge.target]
            d = _edge_path(
                origin[src.key],
                origin[dst.key],
                lane_index[src.stage_key],
                lane_index[dst.stage_key],
                src.key == dst.key,
            )
            parts.append(
                f'<path d="{d}" {_edge_attrs(edge.backward, prefix)}>'
                f"<title>{_e(src.name)} → {_e(dst.name)}</title></path>"
            )
        parts.append("</g>")
    if highlight is not None:
        parts.append(_path_edges(highlight, by_key, origin, lane_index, prefix))

    cluster_of = (
        {key: n for n, members in enumerate(heat.clusters, 1) for key in members}
        if heat is not None
        else {}
    )
    parts.append('<g class="map-nodes">')
    for keys in lane_nodes:
        for key in keys:
            node = by_key[key]
            x, y = origin[key]
            url = "#" if _UNSAFE_URL_RE.match(node.url) else node.url
            spoken = f"{node.name}: {node.value_label}" if node.value_label else node.name
            tooltip = f"{node.name}\n{node.value_label}" if node.value_label else node.name
            classes = "map-node map-node-exit" if node.exit else "map-node"
            visits = highlight.visits.get(key, 0) if highlight is not None else 0
            marks = ""
            if heat is not None:
                if key in heat.hotspots:
                    classes += " map-node-is-hotspot"
                    marks += _hotspot_mark(x, y)
                if key in cluster_of:
                    marks += _cluster_outline(x, y, cluster_of[key])
            extra = ""
            if highlight is not None:
                classes += " map-node-visited" if visits else " map-node-unvisited"
                extra = "" if visits else f' opacity="{UNVISITED_OPACITY}"'
            parts.append(
                f'<a href="{_e(url)}" class="{classes}" data-key="{_e(node.key)}"{extra} '
                f'aria-label="{_e(spoken)}"><title>{_e(tooltip)}</title>'
                f"{_node_box(x, y, NODE_W, NODE_H, _colour(node.fill, FALLBACK_FILL), node.exit)}"
                f"{_visited_ring(x, y, NODE_W, NODE_H) if visits else ''}"
                f'<text class="map-node-label" text-anchor="middle" font-size="12" '
                f'fill="{_colour(node.text_colour, INK)}">'
                f"{_tspans(_wrap(node.name, NODE_CHARS), x + NODE_W / 2, y + NODE_H / 2, 14)}"
                f"</text>{_visit_badge(x, y, visits) if visits else ''}{marks}</a>"
            )
    parts.append("</g>")
    parts.append(legend_svg)
    parts.append("</svg>")
    return _trusted("".join(parts))
