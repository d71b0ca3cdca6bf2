"""How gaps, plan, maps and report grow with the number of councils: times at two sizes and their ratio.

    .venv/bin/python benchmarks/bench_scaling.py [--sizes 3000,30000] [--steps 5] [--only gaps,plan,map,report]

Synthetic registries (benchmarks/synthetic.py, fixed seed) on the national 2024 data. For each size the
coverage result is computed (not timed here: see bench_coverage.py) afresh for each analysis so that
nothing is shared between them; a warm-up run on 100 councils first fills the per-year caches (geography,
units, adjacency, QPV relation), which every size then shares. Target (issue 22): at most 10 × the time of the small size
for 10 × the councils (linear growth). Prints seconds and the ratio; checks nothing.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from synthetic import synthetic_registry, write_registry  # noqa: E402

import clsm_geo  # noqa: E402


def _gaps(res):
    from clsm_geo.gaps import gaps, uncovered

    gaps(res)
    uncovered(res)


def _plan(res, steps):
    from clsm_geo.plan import plan, priorities

    plan(res, steps)
    priorities(res)


def _map(res):
    res.map(offline=True).get_root().render()


def _report(res):
    res.report(offline=True)


def measure(n: int, steps: int, only: list[str], folder: Path) -> dict[str, float]:
    path = write_registry(synthetic_registry(n), folder / f"registry_{n}.csv")
    out = {}
    tasks = {"gaps": _gaps, "plan": lambda r: _plan(r, steps), "map": _map, "report": _report}
    for name in only:
        res = clsm_geo.coverage(path, 2024)
        start = time.perf_counter()
        tasks[name](res)
        out[name] = time.perf_counter() - start
        print(f"  {n:>7,} councils  {name:7} {out[name]:8.1f} s", flush=True)
    return out


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="3000,30000")
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--only", default="gaps,plan,map,report")
    args = parser.parse_args(argv)
    small, large = (int(s) for s in args.sizes.split(","))
    only = [s for s in args.only.split(",") if s]
    with tempfile.TemporaryDirectory() as tmp:
        print("warm-up (caches of geography, units, adjacency, QPV relation):")
        measure(100, args.steps, only, Path(tmp))
        a = measure(small, args.steps, only, Path(tmp))
        b = measure(large, args.steps, only, Path(tmp))
    ratio = large / small
    print(f"\n{'analysis':8} {small:>9,} {large:>9,}  ratio (target <= {ratio:g})")
    for name in only:
        print(f"{name:8} {a[name]:8.1f}s {b[name]:8.1f}s  {b[name] / max(a[name], 1e-9):6.1f}")


if __name__ == "__main__":
    main()
