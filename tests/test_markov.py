"""Markov churn attribution: exact P(CHURN) and removal effects against hand computations
and against a brute-force solve per removal."""

from __future__ import annotations

import random
import time

import numpy as np
import pytest

from cxjourney.analytics.markov import (
    CHURN,
    START,
    STAY,
    markov_attribution,
    transition_counts,
)

EXACT = 1e-12

# Four paths: a→b→c churn twice, a→b stays, a churns.
#   START→a 4;  a→b 3, a→CHURN 1;  b→c 2, b→STAY 1;  c→CHURN 2.
#   P(CHURN) = 1/4 + 3/4 · 2/3 · 1 = 3/4.
#   Without a: START→STAY, P = 0, RE = 1.
#   Without b: only a→CHURN is left, P = 1/4, RE = 1 − (1/4)/(3/4) = 2/3.
#   Without c: a→b→(c→)STAY, P = 1/4, RE = 2/3.
#   Σ RE = 7/3; 3 churned: a 3 · 1 · 3/7 = 9/7, b and c 3 · 2/3 · 3/7 = 6/7.
CHAIN = [(["a", "b", "c"], True)] * 2 + [(["a", "b"], False), (["a"], True)]

# Branching: START→a 1/2, START→b 1/2; a→c 1/2, a→STAY 1/2; b→c 1/2, b→CHURN 1/2;
# c→CHURN 1/2, c→STAY 1/2.
#   b_c = 1/2, b_a = 1/4, b_b = 1/2 + 1/4 = 3/4, P(CHURN) = (1/4 + 3/4)/2 = 1/2.
#   Without a: P = 3/8, RE = 1/4.  Without b: P = 1/8, RE = 3/4.
#   Without c: b_a = 0, b_b = 1/2, P = 1/4, RE = 1/2.
BRANCHES = [
    (["a", "c"], True),
    (["a"], False),
    (["b", "c"], False),
    (["b"], True),
]

# A loop: a→b→a churns, a→b stays, a stays.
#   a: →b 2, →CHURN 1, →STAY 1 (1/2, 1/4, 1/4);  b: →a 1, →STAY 1 (1/2, 1/2).
#   b_a = 1/4 + 1/2 · b_b, b_b = 1/2 · b_a  ⇒  b_a = 1/3 = P(CHURN).
#   Without a: P = 0, RE = 1.  Without b: b_a = 1/4, RE = 1 − (1/4)/(1/3) = 1/4.
LOOP = [(["a", "b", "a"], True), (["a", "b"], False), (["a"], False)]


def test_transition_counts_start_and_end_every_path():
    assert transition_counts(CHAIN) == {
        (START, "a"): 4,
        ("a", "b"): 3,
        ("a", CHURN): 1,
        ("b", "c"): 2,
        ("b", STAY): 1,
        ("c", CHURN): 2,
    }


def test_transition_counts_collapse_consecutive_repeats():
    assert transition_counts([(["a", "a", "b", "b", "a"], False)]) == {
        (START, "a"): 1,
        ("a", "b"): 1,
        ("b", "a"): 1,
        ("a", STAY): 1,
    }


def test_empty_path_goes_from_start_to_its_outcome():
    assert transition_counts([([], True), ([], False), ([], False)]) == {
        (START, CHURN): 1,
        (START, STAY): 2,
    }


def test_transition_counts_reject_reserved_keys():
    with pytest.raises(ValueError, match="reserved"):
        transition_counts([([CHURN], False)])


def test_chain_p_churn_and_removal_effects():
    result = markov_attribution(transition_counts(CHAIN), ["a", "b", "c"])
    assert result.p_churn == pytest.approx(3 / 4, abs=EXACT)
    assert result.removal_effects == pytest.approx({"a": 1, "b": 2 / 3, "c": 2 / 3}, abs=EXACT)


def test_chain_attributed_churn_shares_the_churned_customers():
    result = markov_attribution(transition_counts(CHAIN), ["a", "b", "c"])
    assert result.attributed_churn == pytest.approx({"a": 9 / 7, "b": 6 / 7, "c": 6 / 7}, abs=EXACT)


def test_chain_transition_probabilities_are_counts_over_row_totals():
    result = markov_attribution(transition_counts(CHAIN), ["a", "b", "c"])
    assert result.transition_probabilities == pytest.approx(
        {
            (START, "a"): 1,
            ("a", "b"): 3 / 4,
            ("a", CHURN): 1 / 4,
            ("b", "c"): 2 / 3,
            ("b", STAY): 1 / 3,
            ("c", CHURN): 1,
        },
        abs=EXACT,
    )


def test_branching_chain():
    result = markov_attribution(transition_counts(BRANCHES), ["a", "b", "c"])
    assert result.p_churn == pytest.approx(1 / 2, abs=EXACT)
    assert result.removal_effects == pytest.approx({"a": 1 / 4, "b": 3 / 4, "c": 1 / 2}, abs=EXACT)


def test_loop():
    result = markov_attribution(transition_counts(LOOP), ["a", "b"])
    assert result.p_churn == pytest.approx(1 / 3, abs=EXACT)
    assert result.removal_effects == pytest.approx({"a": 1, "b": 1 / 4}, abs=EXACT)


@pytest.mark.parametrize("method", ["dense", "sparse"])
def test_both_solvers_give_the_hand_computed_values(method):
    result = markov_attribution(transition_counts(BRANCHES), ["a", "b", "c"], method=method)
    assert result.p_churn == pytest.approx(1 / 2, abs=EXACT)
    assert result.removal_effects == pytest.approx({"a": 1 / 4, "b": 3 / 4, "c": 1 / 2}, abs=EXACT)


def test_attributed_churn_sums_to_churned():
    result = markov_attribution(transition_counts(BRANCHES), ["a", "b", "c"], churned=17)
    assert sum(result.attributed_churn.values()) == pytest.approx(17, abs=EXACT)
    # shares in proportion to 1/4 : 3/4 : 1/2
    assert result.attributed_churn == pytest.approx(
        {"a": 17 / 6, "b": 17 / 2, "c": 17 / 3}, abs=EXACT
    )


def test_churned_defaults_to_paths_ending_in_churn():
    result = markov_attribution(transition_counts(CHAIN), ["a", "b", "c"])
    assert sum(result.attributed_churn.values()) == pytest.approx(3, abs=EXACT)


def test_no_churn_gives_zero_effects():
    paths = [(["a", "b"], False), (["b"], False)]
    result = markov_attribution(transition_counts(paths), ["a", "b"], churned=0)
    assert result.p_churn == 0
    assert result.removal_effects == {"a": 0, "b": 0}
    assert result.attributed_churn == {"a": 0, "b": 0}


def test_no_paths_gives_no_p_churn():
    result = markov_attribution({}, ["a", "b"])
    assert result.p_churn is None
    assert result.removal_effects == {"a": 0, "b": 0}
    assert result.attributed_churn == {"a": 0, "b": 0}
    assert result.transition_probabilities == {}


def test_touchpoint_never_visited_has_zero_effect():
    result = markov_attribution(transition_counts(CHAIN), ["a", "b", "c", "unvisited"])
    assert result.removal_effects["unvisited"] == 0
    assert result.attributed_churn["unvisited"] == 0
    assert result.removal_effects["b"] == pytest.approx(2 / 3, abs=EXACT)


def test_churn_straight_from_start_is_not_attributed():
    # half the paths churn without any touchpoint: removing a changes nothing
    result = markov_attribution(transition_counts([([], True), (["a"], False)]), ["a"])
    assert result.p_churn == pytest.approx(1 / 2, abs=EXACT)
    assert result.removal_effects == {"a": 0}
    assert result.attributed_churn == {"a": 0}


def test_row_without_outgoing_counts_goes_to_stay():
    counts = {(START, "a"): 2, (START, "b"): 2, ("b", CHURN): 2}
    result = markov_attribution(counts, ["a", "b"])
    assert result.transition_probabilities[("a", STAY)] == 1
    assert result.p_churn == pytest.approx(1 / 2, abs=EXACT)
    assert result.removal_effects == pytest.approx({"a": 0, "b": 1}, abs=EXACT)


def test_states_unreachable_from_start_do_not_break_the_solve():
    counts = {
        (START, "a"): 1,
        (START, STAY): 1,
        ("a", CHURN): 1,
        ("x", "y"): 3,  # never entered from START, and x ↔ y never leave
        ("y", "x"): 3,
        ("z", CHURN): 5,
    }
    result = markov_attribution(counts, ["a", "x", "y", "z"])
    assert result.p_churn == pytest.approx(1 / 2, abs=EXACT)
    assert result.removal_effects == pytest.approx({"a": 1, "x": 0, "y": 0, "z": 0}, abs=EXACT)


def test_a_trap_that_never_ends_counts_as_not_churning():
    # from a, half go into the closed loop x ↔ y, which can never churn
    counts = {(START, "a"): 4, ("a", "x"): 2, ("a", CHURN): 2, ("x", "y"): 1, ("y", "x"): 1}
    result = markov_attribution(counts, ["a", "x", "y"])
    assert result.p_churn == pytest.approx(1 / 2, abs=EXACT)
    assert result.removal_effects == pytest.approx({"a": 1, "x": 0, "y": 0}, abs=EXACT)


def test_invalid_counts_are_rejected():
    with pytest.raises(ValueError, match="Negative"):
        markov_attribution({(START, "a"): -1}, ["a"])
    with pytest.raises(ValueError, match="not a transition"):
        markov_attribution({(CHURN, "a"): 1}, ["a"])
    with pytest.raises(ValueError, match="not touchpoints"):
        markov_attribution({(START, CHURN): 1}, [STAY])


def _brute_force(counts, touchpoints):
    """P(CHURN) and removal effects by one dense solve per removal, the textbook way."""
    states = sorted({s for s, _ in counts} | {t for _, t in counts} - {CHURN, STAY})
    totals = {s: sum(n for (a, _), n in counts.items() if a == s) for s in states}

    def p_churn(removed):
        alive = [s for s in states if s != removed]
        index = {s: i for i, s in enumerate(alive)}
        a = np.eye(len(alive))
        r = np.zeros(len(alive))
        for (source, target), n in counts.items():
            if source == removed:
                continue
            if target == CHURN:
                r[index[source]] += n / totals[source]
            elif target in index:
                a[index[source], index[target]] -= n / totals[source]
        return np.linalg.solve(a, r)[index[START]]

    p = p_churn(None)
    return p, {k: 1 - p_churn(k) / p for k in touchpoints}


def _random_paths(rng, touchpoints, n_paths):
    return [
        (rng.choices(touchpoints, k=rng.randint(0, 8)), rng.random() < 0.3) for _ in range(n_paths)
    ]


@pytest.mark.parametrize("method", ["dense", "sparse"])
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_random_journeys_match_a_solve_per_removal(method, seed):
    rng = random.Random(seed)  # noqa: S311 - reproducible test data, not secrets
    touchpoints = [f"t{i}" for i in range(25)]
    counts = transition_counts(_random_paths(rng, touchpoints, 400))
    p, effects = _brute_force(counts, touchpoints)
    result = markov_attribution(counts, touchpoints, method=method)
    assert result.p_churn == pytest.approx(p, abs=EXACT)
    assert result.removal_effects == pytest.approx(effects, abs=1e-10)


def test_two_hundred_touchpoints_take_milliseconds():
    rng = random.Random(7)  # noqa: S311 - reproducible test data, not secrets
    touchpoints = [f"t{i}" for i in range(200)]
    counts = transition_counts(_random_paths(rng, touchpoints, 5000))
    started = time.perf_counter()
    result = markov_attribution(counts, touchpoints)
    elapsed = time.perf_counter() - started
    assert all(0 < re <= 1 for re in result.removal_effects.values())
    assert elapsed < 0.5
