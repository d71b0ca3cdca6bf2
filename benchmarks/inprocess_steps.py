"""Where the time of comparison (b) in process goes: the steps of ``clsm_geo.coverage(csv, …)`` in a warm session.

    .venv/bin/python benchmarks/inprocess_steps.py                      # 300 / 3,000 / 30,000 councils, 7 rounds
    .venv/bin/python benchmarks/inprocess_steps.py --sizes 300 --repeat 1
    .venv/bin/python benchmarks/inprocess_steps.py --against /tmp/old --runs 3   # this checkout against another

For each size, the synthetic registry of ``compare.py`` (same generator, same seed) is written once; then,
with the shipped 2024 QPV layer passed as ``compare.py`` (b) passes it, each step is timed alone in rounds
(every step once per round, in turn; medians): ``read_registry`` (read and check the CSV file),
``build_perimeters`` (resolve codes, councils × units), ``engine`` (``coverage._compute``: statuses and the
result tables, from the perimeters) and the whole ``clsm_geo.coverage(csv, 2024, qpv=layer,
method="geometry")``. The garbage collector is paused around each step as the library pauses it.

``--against DIR`` compares this checkout's ``clsm_geo`` with another one's (e.g. a ``git worktree`` of an older
commit), both measured by this script and its registry generator: a fresh process for each checkout in turn,
``--runs`` times, so that both see the same phases of a shared machine; each step's figure is the median over
the runs of each run's median.
"""

from __future__ import annotations

import argparse
import importlib
import json
import subprocess
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(1, str(HERE.parent))  # this checkout's clsm_geo

YEAR = 2024


def steps(csv: Path, layer) -> dict:
    """The timed steps on ``csv``: name -> a function of no argument."""
    import clsm_geo
    from clsm_geo import _gc, settings
    from clsm_geo.perimeters import build_perimeters
    from clsm_geo.registry import read_registry
    from clsm_geo.vintages import vintage

    engine = importlib.import_module("clsm_geo.coverage")  # the module (clsm_geo.coverage is the function)
    year_vintage = vintage(YEAR, layer)
    registry = read_registry(csv)
    perimeters = build_perimeters(registry, year_vintage, overlaps=False)

    def paused(fn):
        def run():
            with _gc.paused():
                return fn()
        return run

    return {
        "read_registry": paused(lambda: read_registry(csv)),
        "build_perimeters": paused(lambda: build_perimeters(registry, year_vintage, overlaps=False)),
        "engine": paused(lambda: engine._compute(registry, perimeters, year_vintage, "geometry", settings.get())),
        "coverage(csv)": lambda: clsm_geo.coverage(csv, YEAR, qpv=layer, method="geometry"),
    }


def measure(named: dict, repeat: int) -> dict[str, float]:
    """Median seconds of each function, warmed up once, run in rounds."""
    for fn in named.values():
        fn()
    times: dict[str, list[float]] = {name: [] for name in named}
    for _ in range(repeat):
        for name, fn in named.items():
            began = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - began)
    return {name: statistics.median(values) for name, values in times.items()}


STEPS = ("read_registry", "build_perimeters", "engine", "coverage(csv)")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="300,3000,30000", help="registry sizes (councils), comma separated")
    ap.add_argument("--repeat", type=int, default=7, help="rounds (median)")
    ap.add_argument("--against", type=Path, help="another checkout to compare with, run in turn with this one")
    ap.add_argument("--runs", type=int, default=3, help="with --against: processes per checkout, alternating")
    ap.add_argument("--json", action="store_true", help=argparse.SUPPRESS)  # one run's medians, for --against
    ap.add_argument("--root", type=Path, help=argparse.SUPPRESS)  # the checkout whose clsm_geo is measured
    args = ap.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]
    if args.against is not None:
        return _against(args.against.absolute(), sizes, args.repeat, args.runs)
    from compare import load_layer  # puts this checkout first on the path
    from synthetic import synthetic_registry, write_registry

    if args.root is not None:
        sys.path.insert(0, str(args.root))
    import clsm_geo

    if args.root is not None and Path(clsm_geo.__file__).resolve().parents[1] != args.root.resolve():
        raise SystemExit(f"clsm_geo imported from {clsm_geo.__file__}, not from {args.root}")

    layer = load_layer(None)
    found: dict[int, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        if not args.json:
            print(f"{'councils':>9}  " + "  ".join(f"{name:>16}" for name in STEPS))
        for size in sizes:
            csv = Path(tmp) / f"registry_{size}.csv"
            write_registry(synthetic_registry(size, YEAR, seed=0), csv)
            found[size] = medians = measure(steps(csv, layer), args.repeat)
            if not args.json:
                print(f"{size:>9,}  " + "  ".join(f"{medians[name] * 1000:>13.1f} ms" for name in medians))
    if args.json:
        print(json.dumps({str(size): medians for size, medians in found.items()}))
    else:
        print(f"(medians of {args.repeat} rounds; the three steps are most of coverage(csv), which also builds its "
              "vintage, reads the QPV population and checks the year)")
    return 0


def _against(other: Path, sizes: list[int], repeat: int, runs: int) -> int:
    """This checkout and ``other``, each run ``runs`` times in turn; medians over the runs, side by side."""
    if not (other / "clsm_geo" / "__init__.py").is_file():
        raise SystemExit(f"--against {other}: not a checkout of clsm-geo (no clsm_geo/__init__.py there)")
    here = HERE.parent
    command = [sys.executable, __file__, "--sizes", ",".join(map(str, sizes)), "--repeat", str(repeat), "--json"]
    got: dict[Path, list[dict]] = {other: [], here: []}
    for _ in range(runs):
        for checkout in (other, here):
            out = subprocess.run([*command, "--root", str(checkout)], cwd=checkout, capture_output=True, text=True,
                                 check=True).stdout
            got[checkout].append(json.loads(out.strip().splitlines()[-1]))
    print(f"{'councils':>9}  " + "  ".join(f"{name:>22}" for name in STEPS))
    for size in sizes:
        cells = []
        for name in STEPS:
            before, after = (statistics.median(run[str(size)][name] for run in got[c]) * 1000 for c in (other, here))
            cells.append(f"{before:>9.1f} → {after:>6.1f} ms")
        print(f"{size:>9,}  " + "  ".join(f"{cell:>22}" for cell in cells))
    print(f"(left: {other}; right: {here}; medians over {runs} alternating runs of each checkout's medians of "
          f"{repeat} rounds)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
