"""Tests for the server-side journey-map SVG renderer (no app, no database)."""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
import textwrap
import xml.etree.ElementTree as ET
from pathlib import Path

from markupsafe import Markup

from cxjourney.journey.map_svg import (
    LegendEntry,
    MapEdge,
    MapLabels,
    MapLane,
    MapNode,
    render_map,
)

SVG = "{http://www.w3.org/2000/svg}"
LABELS = MapLabels(
    title="Customer journey map",
    description="5 touchpoints in 3 stages",
    legend_title="Colour: owner team",
    forward_edge="Transition",
    backward_edge="Back to an earlier stage",
    exit_node="Exit touchpoint",
)
LEGEND = [LegendEntry("#1b9e77", "Billing"), LegendEntry("#d95f02", "Sales")]


def node(key: str, stage: str, *, name: str | None = None, exit_: bool = False) -> MapNode:
    return MapNode(
        key=key,
        name=name or f"Touchpoint {key}",
        stage_key=stage,
        url=f"/touchpoints/{key}",
        fill="#1b9e77",
        text_colour="#000000",
        value_label="Team: Billing",
        exit=exit_,
    )


# Input order deliberately differs from position order.
LANES = [MapLane("buy", "Purchase", 2), MapLane("aware", "Awareness", 0), MapLane("use", "Use", 5)]
NODES = [
    node("a1", "aware"),
    node("a2", "aware"),
    node("b1", "buy"),
    node("u1", "use"),
    node("u2", "use", exit_=True),
]
EDGES = [
    MapEdge("a1", "b1", backward=False),
    MapEdge("a2", "b1", backward=False),
    MapEdge("b1", "u1", backward=False),
    MapEdge("u1", "u2", backward=False),
    MapEdge("u1", "a2", backward=True),
]


def parse(svg: str) -> ET.Element:
    # Parsing the renderer's own output, not untrusted input.
    return ET.fromstring(svg)  # noqa: S314


def render(**overrides: object) -> Markup:
    args: dict[str, object] = {
        "lanes": LANES,
        "nodes": NODES,
        "edges": EDGES,
        "legend": LEGEND,
        "labels": LABELS,
    }
    args.update(overrides)
    return render_map(**args)  # type: ignore[arg-type]


def lane_ranges(root: ET.Element) -> dict[str, tuple[float, float]]:
    ranges = {}
    for group in root.iter(f"{SVG}g"):
        if group.get("class") == "map-lane":
            bg = next(r for r in group.iter(f"{SVG}rect") if r.get("class") == "map-lane-bg")
            x = float(bg.get("x", "nan"))
            ranges[group.get("data-key", "")] = (x, x + float(bg.get("width", "nan")))
    return ranges


def node_links(root: ET.Element) -> list[ET.Element]:
    return [a for a in root.iter(f"{SVG}a") if "map-node" in a.get("class", "").split()]


def node_box(link: ET.Element) -> tuple[float, float, float, float]:
    rect = next(r for r in link.iter(f"{SVG}rect") if r.get("class") == "map-node-box")
    x, y = float(rect.get("x", "nan")), float(rect.get("y", "nan"))
    return x, y, x + float(rect.get("width", "nan")), y + float(rect.get("height", "nan"))


def edge_paths(root: ET.Element) -> list[ET.Element]:
    group = next(g for g in root.iter(f"{SVG}g") if g.get("class") == "map-edges")
    return list(group.iter(f"{SVG}path"))


def test_output_is_markup_and_well_formed_svg() -> None:
    svg = render()
    assert isinstance(svg, Markup)
    root = parse(svg)
    assert root.tag == f"{SVG}svg"
    assert root.get("class") == "journey-map"
    assert root.get("role") == "group"
    assert root.get("viewBox", "").startswith("0 0 ")
    assert float(root.get("width", "0")) > 0
    assert float(root.get("height", "0")) > 0
    ids = {el.get("id"): el for el in root.iter() if el.get("id")}
    title = ids[root.get("aria-labelledby")]
    desc = ids[root.get("aria-describedby")]
    assert title.tag == f"{SVG}title"
    assert title.text == LABELS.title
    assert desc.text == LABELS.description
    markers = {el.get("id") for el in root.iter(f"{SVG}marker")}
    assert len(markers) == 2


def test_each_node_is_one_link_inside_its_lane() -> None:
    root = parse(render())
    links = node_links(root)
    assert sorted(a.get("data-key", "") for a in links) == sorted(n.key for n in NODES)
    ranges = lane_ranges(root)
    # Lanes are drawn left to right by position, not input order.
    assert sorted(ranges, key=lambda k: ranges[k][0]) == ["aware", "buy", "use"]
    by_key = {n.key: n for n in NODES}
    for link in links:
        n = by_key[link.get("data-key", "")]
        assert link.get("href") == n.url
        assert link.get("aria-label") == f"{n.name}: Team: Billing"
        x1, _, x2, _ = node_box(link)
        lo, hi = ranges[n.stage_key]
        assert lo <= x1 < x2 <= hi
        title = link.find(f"{SVG}title")
        assert title is not None
        assert title.text is not None
        assert n.name in title.text
        assert "Team: Billing" in title.text


def test_backward_edges_look_different_from_forward_ones() -> None:
    root = parse(render())
    paths = edge_paths(root)
    assert len(paths) == len(EDGES)
    backward = [p for p in paths if "map-edge-backward" in p.get("class", "")]
    forward = [p for p in paths if "map-edge-forward" in p.get("class", "")]
    assert len(backward) == 1
    assert len(forward) == 4
    assert backward[0].get("stroke-dasharray")
    assert all(p.get("stroke-dasharray") is None for p in forward)
    assert {p.get("stroke") for p in forward} == {"#4d4d4d"}
    assert backward[0].get("stroke") not in {p.get("stroke") for p in forward}
    assert backward[0].get("marker-end") != forward[0].get("marker-end")
    for p in paths:
        assert " C" in p.get("d", "")  # curved, not straight
        assert p.get("marker-end", "").startswith("url(#")
    title = backward[0].find(f"{SVG}title")
    assert title is not None
    assert title.text == "Touchpoint u1 → Touchpoint a2"


def test_exit_node_has_distinct_shape() -> None:
    root = parse(render())
    links = {a.get("data-key"): a for a in node_links(root)}
    exit_link, normal = links["u2"], links["u1"]
    assert "map-node-exit" in exit_link.get("class", "").split()
    assert "map-node-exit" not in normal.get("class", "").split()
    assert len(list(exit_link.iter(f"{SVG}rect"))) > len(list(normal.iter(f"{SVG}rect")))


def test_no_inline_styles() -> None:
    svg = str(render())
    root = parse(svg)
    assert all("style" not in el.attrib for el in root.iter())
    assert not any(el.tag == f"{SVG}style" for el in root.iter())
    assert "style=" not in svg
    assert "<style" not in svg


def test_untrusted_strings_are_escaped() -> None:
    evil = "<script>alert(\"x\")</script> & 'quote'"
    lanes = [MapLane("s", evil, 0)]
    nodes = [
        MapNode('k"><script>', evil, "s", '/t?a=1&b="2"', "#000000", "#ffffff", evil),
        MapNode("bad-url", "Plain", "s", "javascript:alert(1)", "red;x", "#fff", None),
    ]
    edges = [MapEdge('k"><script>', "bad-url", backward=False)]
    labels = MapLabels(evil, evil, evil, evil, evil, evil)
    svg = str(render_map(lanes, nodes, edges, [LegendEntry("#ffffff", evil)], labels))
    assert "<script" not in svg.lower()
    root = parse(svg)
    links = {a.get("data-key"): a for a in node_links(root)}
    assert links['k"><script>'].get("href") == '/t?a=1&b="2"'
    assert links["bad-url"].get("href") == "#"
    assert "javascript:" not in svg
    assert "red;x" not in svg
    title = links['k"><script>'].find(f"{SVG}title")
    assert title is not None
    assert title.text == f"{evil}\n{evil}"


def test_output_is_deterministic_across_processes() -> None:
    assert render() == render()
    # Hash randomisation must not leak into the layout (e.g. via set iteration order).
    script = textwrap.dedent(
        """
        import sys
        sys.path[:0] = sys.argv[1:]
        import test_map_svg as t
        sys.stdout.write(str(t.render()))
        """
    )
    here = Path(__file__).resolve().parent
    outputs = set()
    for seed in ("1", "2", "3"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        result = subprocess.run(
            [sys.executable, "-c", script, str(here), str(here.parent)],
            capture_output=True,
            text=True,
            env=env,
            check=True,
        )
        outputs.add(result.stdout)
    assert outputs == {str(render())}


def big_map() -> tuple[list[MapLane], list[MapNode], list[MapEdge]]:
    counts = [3, 4, 6, 10, 6, 5, 3, 3]  # 40 touchpoints, one crowded lane
    lanes = [MapLane(f"s{i}", f"Stage number {i} with a long name", i) for i in range(8)]
    nodes = [
        node(f"t{i}-{j}", f"s{i}", name=f"Touchpoint {i}.{j} with quite a long name", exit_=i == 7)
        for i, count in enumerate(counts)
        for j in range(count)
    ]
    keys = [[n.key for n in nodes if n.stage_key == f"s{i}"] for i in range(8)]
    edges = [
        MapEdge(k, keys[i + 1][(j * 3) % len(keys[i + 1])], backward=False)
        for i in range(7)
        for j, k in enumerate(keys[i])
    ]
    edges += [MapEdge(keys[5][0], keys[1][2], backward=True), MapEdge("t3-0", "t3-9", False)]
    return lanes[::-1], nodes, edges


def test_forty_nodes_do_not_overlap_and_fit() -> None:
    lanes, nodes, edges = big_map()
    root = parse(render_map(lanes, nodes, edges, LEGEND, LABELS))
    links = node_links(root)
    assert len(links) == 40
    boxes = [node_box(a) for a in links]
    for (ax1, ay1, ax2, ay2), (bx1, by1, bx2, by2) in itertools.combinations(boxes, 2):
        assert ax2 <= bx1 or bx2 <= ax1 or ay2 <= by1 or by2 <= ay1
    _, _, vb_w, vb_h = (float(v) for v in root.get("viewBox", "").split())
    assert all(x1 >= 0 and x2 <= vb_w and y1 >= 0 and y2 <= vb_h for x1, y1, x2, y2 in boxes)
    # Lane headers sit above every node.
    header = next(r for r in root.iter(f"{SVG}rect") if r.get("class") == "map-lane-header")
    header_bottom = float(header.get("y", "0")) + float(header.get("height", "0"))
    assert all(y1 >= header_bottom for _, y1, _, _ in boxes)
    # Long names are wrapped to at most two lines and shortened with an ellipsis.
    for link in links:
        spans = list(link.iter(f"{SVG}tspan"))
        assert 1 <= len(spans) <= 2
        assert all(len(s.text or "") <= 20 for s in spans)


def test_long_name_is_truncated_but_kept_in_title() -> None:
    name = "A very long touchpoint name that cannot possibly fit in two short lines"
    root = parse(render_map([LANES[0]], [node("x", "buy", name=name)], [], [], LABELS))
    (link,) = node_links(root)
    spans = [s.text or "" for s in link.iter(f"{SVG}tspan")]
    assert len(spans) == 2
    assert spans[-1].endswith("…")
    title = link.find(f"{SVG}title")
    assert title is not None
    assert title.text is not None
    assert title.text.startswith(name)


def test_empty_input_does_not_crash() -> None:
    root = parse(render_map([], [], [], [], LABELS))
    assert root.get("class") == "journey-map"
    assert root.find(f"{SVG}title") is not None
    assert not node_links(root)
    # Legend entries without lanes or nodes are fine too.
    parse(render_map([MapLane("s", "Stage", 0)], [], [], LEGEND, LABELS))


def test_orphans_are_skipped_and_empty_lanes_keep_headers() -> None:
    lanes = [*LANES, MapLane("empty", "Nobody here", 9)]
    nodes = [*NODES, node("ghost", "no-such-stage")]
    edges = [*EDGES, MapEdge("a1", "ghost", False), MapEdge("missing", "b1", False)]
    root = parse(render(lanes=lanes, nodes=nodes, edges=edges))
    assert "ghost" not in {a.get("data-key") for a in node_links(root)}
    assert len(edge_paths(root)) == len(EDGES)
    assert "empty" in lane_ranges(root)
    texts = "".join(root.itertext())
    assert "Nobody here" in texts
