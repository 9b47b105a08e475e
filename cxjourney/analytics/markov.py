"""First-order Markov churn attribution with removal effects (Anderl et al. 2016, as in the
ChannelAttribution package), computed exactly instead of by simulation.

States: START, every touchpoint, and the absorbing CHURN and STAY. The input is the count of
each observed transition (a path START → a → b → CHURN adds one to (START, a), (a, b) and
(b, CHURN)); transition probabilities are counts ÷ row totals. P(CHURN) is the probability of
absorption in CHURN from START: with Q the transient-to-transient block and r the
probabilities of stepping into CHURN, the vector b of absorption probabilities solves
(I − Q) b = r, and P(CHURN) = b[START].

Removing touchpoint k sends every transition into k to STAY. The chain without k then churns
exactly when the full chain churns without ever visiting k, so by the strong Markov property

    P_without_k(CHURN) = b[START] − h(START, k) · b[k],   h(START, k) = N[START, k] ÷ N[k, k],

where N = (I − Q)⁻¹ is the fundamental matrix and h the probability of ever reaching k. One
factorisation of I − Q therefore gives every removal effect: no simulation, no solve per
removal. RE_k = 1 − P_without_k(CHURN) ÷ P(CHURN).

Input that real paths never produce is handled so that the solve stays regular:
- a state entered but without outgoing counts is taken to go to STAY (a path that stops
  without an outcome is counted as staying); its row appears so in the probabilities;
- states not reachable from START, or from which CHURN cannot be reached (a closed loop of
  counts, say), are left out of the solve: they cannot change P(CHURN) and their removal
  effect is 0.
"""

from __future__ import annotations

from collections import Counter, defaultdict, deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import scipy.linalg
import scipy.sparse
import scipy.sparse.linalg
from numpy.typing import NDArray

# Touchpoint keys are lowercase slugs (journey.services.KEY_PATTERN): no parentheses.
START = "(start)"
CHURN = "(churn)"
STAY = "(stay)"
_SPECIAL = frozenset({START, CHURN, STAY})

# Above this many transient states the solve goes sparse; below it a dense LU is faster.
DENSE_LIMIT = 400
# Right-hand sides per sparse block solve for the diagonal of the fundamental matrix.
_BLOCK = 256


@dataclass(frozen=True)
class MarkovResult:
    """P(CHURN) from START, and per reported touchpoint its removal effect and churn share."""

    p_churn: float | None  # None when there are no paths at all
    removal_effects: dict[str, float]  # 0–1
    attributed_churn: dict[str, float]  # sums to `churned` unless every effect is 0
    transition_probabilities: dict[tuple[str, str], float]


def transition_counts(paths: Iterable[tuple[Sequence[str], bool]]) -> dict[tuple[str, str], int]:
    """Count the transitions of explicit paths: (touchpoint keys in order, churned?).

    Consecutive repeats collapse into one visit; each path starts at START and ends in CHURN
    or STAY (an empty sequence goes there directly). Raises ValueError for a key equal to
    START, CHURN or STAY.
    """
    counts: Counter[tuple[str, str]] = Counter()
    for keys, churned in paths:
        previous = START
        for key in keys:
            if key in _SPECIAL:
                raise ValueError(f"{key!r} is reserved for the Markov model's own states.")
            if key != previous:
                counts[previous, key] += 1
                previous = key
        counts[previous, CHURN if churned else STAY] += 1
    return dict(counts)


def markov_attribution(
    counts: Mapping[tuple[str, str], float],
    touchpoints: Iterable[str],
    *,
    churned: float | None = None,
    method: Literal["auto", "dense", "sparse"] = "auto",
) -> MarkovResult:
    """Compute P(CHURN), the removal effect and the attributed churn of every touchpoint.

    ``counts`` maps (source, target) to a transition count: source START or a touchpoint,
    target a touchpoint, CHURN or STAY. ``touchpoints`` are the keys to report, visited or
    not; a touchpoint that occurs in ``counts`` but not here is still a state of the chain
    but gets no removal effect and no share. ``churned`` (the churned customers to share
    out, in proportion to the removal effects) defaults to the paths ending in CHURN.
    ``method`` forces the dense or the sparse solver (both exact); ``auto`` picks by size.

    Raises ValueError for a negative count, a transition out of CHURN or STAY or into START,
    or START, CHURN or STAY among ``touchpoints``.
    """
    reported = list(dict.fromkeys(touchpoints))
    if _SPECIAL.intersection(reported):
        raise ValueError("START, CHURN and STAY are not touchpoints.")
    rows = _rows(counts)
    totals = {source: sum(row.values()) for source, row in rows.items()}
    probabilities = {
        (source, target): n / totals[source]
        for source, row in rows.items()
        for target, n in row.items()
    }
    if churned is None:
        churned = sum(row.get(CHURN, 0) for row in rows.values())
    zeros = dict.fromkeys(reported, 0.0)
    if START not in rows:
        return MarkovResult(None, zeros, dict(zeros), probabilities)

    states = _transient_states(rows)
    if not states:  # CHURN cannot be reached: nobody churned
        return MarkovResult(0.0, zeros, dict(zeros), probabilities)
    index = {state: i for i, state in enumerate(states)}
    sparse = method == "sparse" or (method == "auto" and len(states) > DENSE_LIMIT)
    b_start, hits = _absorption(probabilities, index, sparse=sparse)

    effects = dict(zeros)
    for key in reported:
        if key in index:
            without = min(max(b_start - hits[index[key]], 0.0), b_start)
            effects[key] = 1.0 - without / b_start
    total = sum(effects.values())
    attributed = {key: churned * re / total if total else 0.0 for key, re in effects.items()}
    return MarkovResult(b_start, effects, attributed, probabilities)


def _rows(counts: Mapping[tuple[str, str], float]) -> dict[str, dict[str, float]]:
    """source → target → count, positive counts only, plus STAY for rows never left."""
    rows: dict[str, dict[str, float]] = defaultdict(dict)
    for (source, target), n in counts.items():
        if n < 0:
            raise ValueError(f"Negative count for {source!r} → {target!r}.")
        if source in (CHURN, STAY) or target == START:
            raise ValueError(f"{source!r} → {target!r} is not a transition of the model.")
        if n > 0:
            rows[source][target] = rows[source].get(target, 0) + n
    for target in sorted({t for row in list(rows.values()) for t in row} - _SPECIAL - set(rows)):
        rows[target] = {STAY: 1}
    return dict(rows)


def _transient_states(rows: Mapping[str, Mapping[str, float]]) -> list[str]:
    """States reachable from START from which CHURN can be reached, START first (empty when
    CHURN cannot be reached). On these I − Q is regular: from each, the chain leaves them."""
    reachable = _search(START, {s: list(row) for s, row in rows.items()})
    backwards: dict[str, list[str]] = defaultdict(list)
    for source, row in rows.items():
        for target in row:
            backwards[target].append(source)
    to_churn = _search(CHURN, backwards)
    if START not in to_churn:
        return []
    return [START, *sorted((reachable & to_churn) - _SPECIAL - {START})]


def _search(origin: str, edges: Mapping[str, Sequence[str]]) -> set[str]:
    seen = {origin}
    queue = deque([origin])
    while queue:
        for nxt in edges.get(queue.popleft(), ()):
            if nxt not in seen:
                seen.add(nxt)
                queue.append(nxt)
    return seen


def _absorption(
    probabilities: Mapping[tuple[str, str], float], index: Mapping[str, int], *, sparse: bool
) -> tuple[float, list[float]]:
    """b[START], and per transient state k the churn reached through k: h(START, k) · b[k]."""
    n = len(index)
    r = np.zeros(n)
    entries: list[tuple[int, int, float]] = []
    for (source, target), p in probabilities.items():
        i = index.get(source)
        if i is None:
            continue
        if target == CHURN:
            r[i] = p
        elif target in index:  # other targets cannot churn: as good as STAY
            entries.append((i, index[target], p))
    ii = np.array([e[0] for e in entries], dtype=np.intp)
    jj = np.array([e[1] for e in entries], dtype=np.intp)
    qq = np.array([e[2] for e in entries], dtype=float)
    start = index[START]
    solve = _sparse_solve if sparse else _dense_solve
    b, n_start, n_diag = solve(n, (ii, jj, qq), r, start)
    return float(b[start]), (n_start / n_diag * b).tolist()


_Entries = tuple[NDArray[np.intp], NDArray[np.intp], NDArray[np.float64]]
_Solution = tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]


def _dense_solve(n: int, q: _Entries, r: NDArray[np.float64], start: int) -> _Solution:
    """b = N r, row START of N and the diagonal of N = (I − Q)⁻¹, from one dense LU."""
    a = np.eye(n)
    np.subtract.at(a, (q[0], q[1]), q[2])
    lu = scipy.linalg.lu_factor(a, check_finite=False)
    fundamental = scipy.linalg.lu_solve(lu, np.eye(n), check_finite=False)
    return fundamental @ r, fundamental[start], np.diag(fundamental).copy()


def _sparse_solve(n: int, q: _Entries, r: NDArray[np.float64], start: int) -> _Solution:
    """The same from one sparse LU, solving for the columns of N in blocks."""
    matrix = scipy.sparse.identity(n, format="csc") - scipy.sparse.csc_matrix(
        (q[2], (q[0], q[1])), shape=(n, n)
    )
    lu = scipy.sparse.linalg.splu(matrix.tocsc())
    n_start, n_diag = np.empty(n), np.empty(n)
    for lo in range(0, n, _BLOCK):  # columns lo..hi of N, a block at a time
        hi = min(lo + _BLOCK, n)
        rows, cols = np.arange(lo, hi), np.arange(hi - lo)
        block = np.zeros((n, hi - lo))
        block[rows, cols] = 1.0
        columns = lu.solve(block)
        n_start[lo:hi], n_diag[lo:hi] = columns[start], columns[rows, cols]
    return lu.solve(r), n_start, n_diag
