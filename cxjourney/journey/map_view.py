"""Assemble the journey map for a page: touchpoints, transitions and a measure → SVG."""

from __future__ import annotations

from dataclasses import dataclass

from flask import url_for
from flask_babel import gettext as _
from markupsafe import Markup
from sqlalchemy.orm import Session

from . import services
from .graph import JourneyValidation, NodeInfo, build_graph, validate_graph
from .map_svg import (
    LegendEntry,
    MapEdge,
    MapLabels,
    MapLane,
    MapNode,
    PathEdge,
    PathHighlight,
    render_map,
)
from .measures import MapMeasure, Value, colour_nodes
from .models import Stage, Touchpoint


@dataclass(frozen=True)
class MapRow:
    """One touchpoint as the text alternative of the map lists it."""

    touchpoint: Touchpoint
    value: str
    fill: str


@dataclass(frozen=True)
class JourneyMapView:
    svg: Markup
    stages: list[Stage]
    rows_by_stage: dict[int, list[MapRow]]
    legend: list[LegendEntry]
    touchpoint_count: int
    transition_count: int
    validation: JourneyValidation
    touchpoints_by_key: dict[str, Touchpoint]


def format_value(measure: MapMeasure, value: Value) -> str:
    if value is None:
        return _("no value")
    if isinstance(value, float):
        return f"{value:g}{measure.unit}"
    return str(value)


def build_map(session: Session, measure: MapMeasure) -> JourneyMapView:
    """The map of all active touchpoints, coloured by ``measure``."""
    stages = services.list_stages(session)
    touchpoints = services.list_touchpoints(session)
    pairs = services.list_designed_pairs(session)
    values = measure.compute(session, touchpoints)
    colouring = colour_nodes(measure, values, _("no value"))
    position = {s.id: s.position for s in stages}
    label = str(measure.label)

    nodes = [
        MapNode(
            key=tp.key,
            name=tp.name,
            stage_key=tp.stage.key,
            url=url_for("journey.touchpoint", key=tp.key),
            fill=colouring.fills[tp.key],
            text_colour=colouring.text_colours[tp.key],
            value_label=f"{label}: {format_value(measure, values.get(tp.key))}",
            exit=tp.exit,
        )
        for tp in touchpoints
    ]
    stage_of = {tp.key: position[tp.stage_id] for tp in touchpoints}
    edges = [
        MapEdge(source=s, target=t, backward=stage_of[t] < stage_of[s])
        for s, t in pairs
        if s in stage_of and t in stage_of
    ]
    validation = validate_graph(
        build_graph([NodeInfo(tp.key, stage_of[tp.key], tp.exit) for tp in touchpoints], pairs)
    )
    legend = [LegendEntry(fill, text) for fill, text in colouring.legend]
    labels = MapLabels(
        title=_("Customer journey map"),
        description=_(
            "Touchpoints: %(num)d, stages: %(stages)d, colour: %(measure)s.",
            num=len(touchpoints),
            stages=len(stages),
            measure=label,
        ),
        legend_title=_("Colour: %(measure)s", measure=label),
        forward_edge=_("Transition"),
        backward_edge=_("Transition back to an earlier stage"),
        exit_node=_("Exit touchpoint"),
    )
    svg = render_map(
        [MapLane(s.key, s.name, s.position) for s in stages], nodes, edges, legend, labels
    )
    rows: dict[int, list[MapRow]] = {s.id: [] for s in stages}
    for tp in touchpoints:
        rows[tp.stage_id].append(
            MapRow(tp, format_value(measure, values.get(tp.key)), colouring.fills[tp.key])
        )
    return JourneyMapView(
        svg,
        stages,
        rows,
        legend,
        len(touchpoints),
        len(edges),
        validation,
        {tp.key: tp for tp in touchpoints},
    )


PATH_NODE_FILL = "#ffffff"
PATH_NODE_INK = "#1a1a1a"


def build_path_map(
    session: Session,
    visits: dict[str, int],
    edges: list[PathEdge],
    *,
    id_prefix: str = "customer-path",
) -> Markup:
    """The designed map of all active touchpoints with one customer's path drawn over it.

    ``visits`` maps touchpoint keys to the customer's visits there, ``edges`` are the
    transitions they took with counts. Touchpoints that are archived are not on the map;
    the page lists the whole path as text.
    """
    stages = services.list_stages(session)
    touchpoints = services.list_touchpoints(session)
    pairs = services.list_designed_pairs(session)
    position = {s.id: s.position for s in stages}
    stage_of = {tp.key: position[tp.stage_id] for tp in touchpoints}
    nodes = [
        MapNode(
            key=tp.key,
            name=tp.name,
            stage_key=tp.stage.key,
            url=url_for("journey.touchpoint", key=tp.key),
            fill=PATH_NODE_FILL,
            text_colour=PATH_NODE_INK,
            value_label=_("Visits: %(n)d", n=visits.get(tp.key, 0)),
            exit=tp.exit,
        )
        for tp in touchpoints
    ]
    designed = [
        MapEdge(source=s, target=t, backward=stage_of[t] < stage_of[s])
        for s, t in pairs
        if s in stage_of and t in stage_of
    ]
    visited = sum(1 for tp in touchpoints if visits.get(tp.key))
    labels = MapLabels(
        title=_("Journey of this customer"),
        description=_(
            "Touchpoints visited: %(visited)d of %(num)d; transitions taken: %(edges)d.",
            visited=visited,
            num=len(touchpoints),
            edges=sum(e.count for e in edges),
        ),
        legend_title=_("Legend"),
        forward_edge=_("Designed transition"),
        backward_edge=_("Designed transition back to an earlier stage"),
        exit_node=_("Exit touchpoint"),
    )
    highlight = PathHighlight(
        visits=dict(visits),
        edges=list(edges),
        visited_label=_("Visited (number of visits)"),
        path_edge_label=_("Transition taken (number of times)"),
    )
    return render_map(
        [MapLane(s.key, s.name, s.position) for s in stages],
        nodes,
        designed,
        [],
        labels,
        id_prefix=id_prefix,
        highlight=highlight,
    )
