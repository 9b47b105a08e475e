"""Our exact Markov churn attribution (``cxjourney.analytics.markov``) next to the
ChannelAttribution package's simulated one, on the same generated journeys.

ChannelAttribution is no dependency of the project (it builds from source with g++ and
wants pandas and matplotlib): install it into a separate virtual environment together with
the little of the project that ``cxjourney.analytics.markov`` imports, and run the script
from the checkout with that interpreter:

    python3 -m venv /tmp/ca
    /tmp/ca/bin/pip install numpy scipy pandas matplotlib channelattribution flask python-dotenv
    PYTHONPATH=. /tmp/ca/bin/python bench/ca_compare.py --touchpoints 12 --paths 20000

Churn plays the role of ChannelAttribution's conversion and staying that of its null.
Paths are generated with a fixed seed over a layered journey (mostly forward, sometimes a
step back), each non-empty (ChannelAttribution cannot take a path without channels), and
handed to both sides aggregated by path. ChannelAttribution collapses consecutive repeats
as we do, so the transition matrices must agree to rounding; its removal effects are
simulated and agree only within simulation error (more ``--nsim`` narrows it). Exit status
1 when a transition probability differs by more than 1e-9 or a removal effect by more than
``--tolerance``.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections import Counter
from collections.abc import Sequence
from typing import Any

from cxjourney.analytics.markov import CHURN, START, STAY, markov_attribution, transition_counts

Path = tuple[tuple[str, ...], bool]


def generate_paths(touchpoints: Sequence[str], paths: int, seed: int) -> list[Path]:
    """Non-empty journeys: start among the first few, step mostly forward, churn more often
    after the touchpoints whose index is a multiple of three."""
    rng = random.Random(seed)
    last = len(touchpoints) - 1
    result = []
    for _ in range(paths):
        i = rng.randrange(min(3, last + 1))
        visited = [touchpoints[i]]
        while rng.random() < 0.75:
            i = min(last, max(0, i + rng.choice((-1, 1, 1, 2, 3))))
            visited.append(touchpoints[i])
        risk = sum(0.08 for key in visited if int(key[2:]) % 3 == 0)
        result.append((tuple(visited), rng.random() < 0.05 + min(risk, 0.6)))
    return result


def run_channel_attribution(
    journeys: Sequence[Path], *, nsim: float, seed: int, ncore: int
) -> dict[str, Any]:
    # Imported here: both live in a separate venv (see the docstring).
    try:
        import ChannelAttribution
        import pandas as pd
    except ImportError as exc:
        sys.exit(f"{exc}: run this with the ChannelAttribution venv (see bench/ca_compare.py).")

    aggregated: Counter[tuple[str, bool]] = Counter((">".join(k), c) for k, c in journeys)
    paths = sorted({path for path, _ in aggregated})
    data = pd.DataFrame(
        {
            "path": paths,
            "churn": [aggregated[path, True] for path in paths],
            "stay": [aggregated[path, False] for path in paths],
        }
    )
    result: dict[str, Any] = ChannelAttribution.markov_model(
        data,
        "path",
        "churn",
        var_null="stay",
        order=1,
        sep=">",
        ncore=ncore,
        nsim_start=nsim,
        out_more=True,
        seed=seed,
        verbose=False,
        flg_pro=False,
    )
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--touchpoints", type=int, default=12)
    parser.add_argument("--paths", type=int, default=20000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--nsim", type=float, default=1e6, help="ChannelAttribution nsim_start")
    parser.add_argument("--ncore", type=int, default=1)
    parser.add_argument("--tolerance", type=float, default=0.02, help="for removal effects")
    args = parser.parse_args(argv)

    touchpoints = [f"tp{i:02d}" for i in range(args.touchpoints)]
    journeys = generate_paths(touchpoints, args.paths, args.seed)
    churned = sum(c for _, c in journeys)

    started = time.perf_counter()
    ours = markov_attribution(transition_counts(journeys), touchpoints, churned=churned)
    ours_s = time.perf_counter() - started
    started = time.perf_counter()
    ca = run_channel_attribution(journeys, nsim=args.nsim, seed=args.seed, ncore=args.ncore)
    ca_s = time.perf_counter() - started

    # ChannelAttribution numbers its channels in the order of its result table.
    names = list(ca["result"]["channel_name"])
    state = {"(start)": START, "(conversion)": CHURN, "(null)": STAY}
    state |= {str(i): name for i, name in enumerate(names, start=1)}
    theirs = {
        (state[str(row.channel_from)], state[str(row.channel_to)]): row.transition_probability
        for row in ca["transition_matrix"].itertuples()
    }
    pairs = set(theirs) | set(ours.transition_probabilities)
    tm_diff = max(
        abs(theirs.get(p, 0.0) - ours.transition_probabilities.get(p, 0.0)) for p in pairs
    )
    effects = ca["removal_effects"]
    ca_re = dict(zip(effects["channel_name"], effects.iloc[:, 1], strict=True))
    ca_attr = dict(
        zip(ca["result"]["channel_name"], ca["result"]["total_conversions"], strict=True)
    )

    print(
        f"{len(journeys)} paths, {churned} churned, {len(touchpoints)} touchpoints, "
        f"P(CHURN) = {ours.p_churn:.6f}"
    )
    print(f"ours {ours_s * 1000:.1f} ms exact; ChannelAttribution {ca_s:.2f} s, nsim {args.nsim:g}")
    print(f"transition probabilities: {len(pairs)} pairs, max |difference| {tm_diff:.2e}")
    print(
        f"{'touchpoint':<12}{'RE ours':>10}{'RE CA':>10}{'diff':>10}"
        f"{'attr ours':>12}{'attr CA':>10}"
    )
    re_diff = 0.0
    for key in touchpoints:
        diff = ca_re.get(key, 0.0) - ours.removal_effects[key]
        re_diff = max(re_diff, abs(diff))
        print(
            f"{key:<12}{ours.removal_effects[key]:>10.5f}{ca_re.get(key, 0.0):>10.5f}"
            f"{diff:>+10.5f}{ours.attributed_churn[key]:>12.2f}{ca_attr.get(key, 0.0):>10.2f}"
        )
    print(f"removal effects: max |difference| {re_diff:.5f} (tolerance {args.tolerance})")
    return 1 if tm_diff > 1e-9 or re_diff > args.tolerance else 0


if __name__ == "__main__":
    sys.exit(main())
