"""The designed journey as a networkx graph, and its validation."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import networkx as nx


@dataclass(frozen=True)
class NodeInfo:
    key: str
    stage_position: int
    exit: bool = False


@dataclass(frozen=True)
class JourneyValidation:
    """What a touchpoint manager should look at; none of it blocks saving."""

    entries: list[str] = field(default_factory=list)
    unreachable: list[str] = field(default_factory=list)
    dead_ends: list[str] = field(default_factory=list)
    backward: list[tuple[str, str]] = field(default_factory=list)

    def as_dict(self) -> dict[str, list[str] | list[list[str]]]:
        return {
            "entries": list(self.entries),
            "unreachable": list(self.unreachable),
            "dead_ends": list(self.dead_ends),
            "backward": [[s, t] for s, t in self.backward],
        }

    @property
    def is_clean(self) -> bool:
        return not (self.unreachable or self.dead_ends)


def build_graph(nodes: Iterable[NodeInfo], edges: Iterable[tuple[str, str]]) -> nx.DiGraph:
    """Directed graph of active touchpoints (node attrs: stage_position, exit)."""
    graph = nx.DiGraph()
    for node in nodes:
        graph.add_node(node.key, stage_position=node.stage_position, exit=node.exit)
    for source, target in edges:
        if source in graph and target in graph:
            graph.add_edge(source, target)
    return graph


def validate_graph(graph: nx.DiGraph) -> JourneyValidation:
    """Entries (no way in), touchpoints no entry reaches, dead ends, backward transitions.

    A dead end is a touchpoint without a way on that is not an exit touchpoint: leaving
    through the cancellation is the design, stopping at the first invoice is not.
    """
    entries = sorted(n for n in graph.nodes if graph.in_degree(n) == 0)
    reachable: set[str] = set()
    for entry in entries:
        reachable |= nx.descendants(graph, entry) | {entry}
    unreachable = sorted(set(graph.nodes) - reachable)
    dead_ends = sorted(
        n for n in graph.nodes if graph.out_degree(n) == 0 and not graph.nodes[n]["exit"]
    )
    backward = sorted(
        (s, t)
        for s, t in graph.edges
        if graph.nodes[t]["stage_position"] < graph.nodes[s]["stage_position"]
    )
    return JourneyValidation(entries, unreachable, dead_ends, backward)
