"""What pausing the garbage collector buys (``clsm_geo._gc``), in one process, in rounds.

    .venv/bin/python benchmarks/gc_pause.py                       # 10,000 / 100,000 rows, 300 councils, 5 rounds
    .venv/bin/python benchmarks/gc_pause.py --rows 1000,10000 --repeat 1

``clsm_geo.validate`` on ``bench_registry.write_registry`` registries of each size (communes drawn from all of
France) and ``clsm_geo.coverage`` of a 300-council synthetic registry in a warm session (the QPV layer passed,
as ``compare.py`` (b) does), each with the library as it is ("paused") and with the pause turned into a
no-op ("as Python sets it"). Every call is warmed up once, then the calls run in rounds (each once per
round, in turn); times are medians. Peak memory is not measured here (one process): see
``docs/performance.md``, item 31.
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", default="10000,100000", help="registry sizes for validate, comma separated")
    ap.add_argument("--councils", type=int, default=300, help="synthetic councils for coverage")
    ap.add_argument("--repeat", type=int, default=5, help="rounds")
    args = ap.parse_args(argv)

    import numpy as np

    import clsm_geo
    from clsm_geo import _gc
    from bench_commands import rounds
    from bench_registry import write_registry as write_rows
    from synthetic import synthetic_registry, write_registry

    paused = _gc.paused
    modes = {"paused": paused, "as Python sets it": contextlib.nullcontext}
    sizes = [int(n) for n in args.rows.split(",") if n.strip()]
    with tempfile.TemporaryDirectory(prefix="clsm-geo-gc-") as tmp:
        tmp = Path(tmp)
        communes = np.asarray(clsm_geo.geography(2024).communes["insee_com"].to_numpy())
        rows = {n: write_rows(tmp / f"rows_{n}.csv", n, communes) for n in sizes}
        registry = tmp / f"councils_{args.councils}.csv"
        write_registry(synthetic_registry(args.councils, 2024, seed=0), registry)
        layer = clsm_geo.qpv(2024)
        jobs = {("validate", n): (lambda p=p: clsm_geo.validate(p, 2024)) for n, p in rows.items()}
        jobs[("coverage", args.councils)] = lambda: clsm_geo.coverage(registry, 2024, qpv=layer, method="geometry")

        def timed(job, mode):
            def run() -> float:
                _gc.paused = modes[mode]
                try:
                    began = time.perf_counter()
                    job()
                    return time.perf_counter() - began
                finally:
                    _gc.paused = paused
            return run

        runs = rounds({(key, mode): timed(job, mode) for key, job in jobs.items() for mode in modes}, args.repeat)
    print(f"median of {args.repeat} round(s) after a warm-up, in one process")
    for (what, n) in jobs:
        cells = "   ".join(f"{mode}: {statistics.median(runs[((what, n), mode)]) * 1000:8.1f} ms" for mode in modes)
        print(f"  {what:<9} {n:>7,}   {cells}")
    for mode in modes:
        if len(sizes) > 1:
            a, b = min(sizes), max(sizes)
            small, large = runs[(("validate", a), mode)], runs[(("validate", b), mode)]
            growth = statistics.median(y / x for x, y in zip(small, large))
            print(f"validate growth {a:,} -> {b:,} rows ({mode}): x{growth:.1f} for size x{b / a:.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
