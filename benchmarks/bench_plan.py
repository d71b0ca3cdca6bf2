"""Scenarios evaluated per second by the plan, on the national 2024 data, against the full engine.

    .venv/bin/python benchmarks/bench_plan.py [--registry PATH] [--seconds 3] [--baseline-runs 3] [--steps 20]

A *scenario* is the network plus one candidate action (creation of a council on a whole EPCI, or
extension of a council to its neighbouring units hosting QPV not covered). The plan scores it with
:class:`clsm_geo.plan.PlanModel` (the engine's rules on the QPV × unit relation, a few sparse products);
the baseline scores the same kind of scenario by writing the registry with the action applied and
running :func:`clsm_geo.coverage` (relation memoised, as in a warm session). Both are measured here,
in the same run, and their ratio printed. Target: at least 1,000 scenarios per second.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import pandas as pd

import clsm_geo
from clsm_geo.plan import PlanModel, apply_plan, candidates
from clsm_geo.qpv import qpv

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "registry_fictitious.csv"


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--registry", default=str(EXAMPLE))
    parser.add_argument("--year", type=int, default=2024)
    parser.add_argument("--seconds", type=float, default=3.0, help="time spent scoring scenarios")
    parser.add_argument("--baseline-runs", type=int, default=3, help="full engine runs for the baseline")
    parser.add_argument("--steps", type=int, default=20, help="steps of the timed plan")
    args = parser.parse_args(argv)

    t0 = time.perf_counter()
    from clsm_geo.qpv import qpv_geography_for_year

    layer = qpv(qpv_geography_for_year(args.year))
    res = clsm_geo.coverage(args.registry, args.year, qpv=layer)
    t_first = time.perf_counter() - t0
    t0 = time.perf_counter()
    model = PlanModel(res)
    net = model.net
    cands = candidates(model, model.x0, {c: set(u) for c, u in net.council_units.items()}, net.touched.copy())
    t_setup = time.perf_counter() - t0
    print(f"registry {Path(args.registry).name}: {len(res.councils_table)} councils, {len(res.qpv):,} QPV, "
          f"{model.rel.weights.shape[1]:,} units; {len(cands)} candidate actions")
    print(f"first coverage run (relation included) {t_first:.2f} s; plan set-up (unit adjacency, "
          f"candidates) {t_setup:.2f} s")

    # Plan model: score every candidate in turn until the time is up, as plan() does (PlanModel.scorer).
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < args.seconds:
        score_with = model.scorer(model.x0)
        for _, _, units in cands:
            score_with(units)
        n += len(cands)
    fast = n / (time.perf_counter() - t0)

    # Baseline: the full engine on the same scenarios (registry with the action applied).
    runs, t0 = 0, time.perf_counter()
    for action, key, units in cands[:args.baseline_runs]:
        row = {"step": 1, "action": action, "council_id": f"NEW-{key}" if action == "creation" else key,
               "council_name": f"new {key}", "siren_epci": key, "units_added": tuple(net.unit_codes[p] for p in units)}
        clsm_geo.coverage(apply_plan(res, pd.DataFrame([row])), args.year, qpv=layer)
        runs += 1
    slow = runs / (time.perf_counter() - t0)

    t0 = time.perf_counter()
    steps = res.plan(args.steps)
    t_plan = time.perf_counter() - t0
    print(f"plan model : {fast:10,.0f} scenarios/s  ({1e6 / fast:,.0f} µs each; target >= 1,000/s: "
          f"{'met' if fast >= 1000 else 'NOT met'})")
    print(f"full engine: {slow:10,.1f} scenarios/s  ({1e3 / slow:,.0f} ms each, {runs} runs)")
    print(f"ratio      : {fast / slow:10,.0f} x")
    print(f"plan({args.steps}): {len(steps) - 1} steps in {t_plan:.2f} s, coverage "
          f"{steps['qpv_covered_share'].iloc[0]:.1%} -> {steps['qpv_covered_share'].iloc[-1]:.1%}")


if __name__ == "__main__":
    main()
