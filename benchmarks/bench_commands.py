"""Every command against the floor of a run, in one run: ratios and PASS/FAIL for the targets of issue 16.

    .venv/bin/python benchmarks/bench_commands.py                   # national example registry, 3 runs each
    .venv/bin/python benchmarks/bench_commands.py --repeat 1 --only help,floor,coverage --no-growth

Each command runs in its own process (``python -c "from clsm_geo.cli import main; ..."`` on this
checkout), after one warm-up run (OS file cache); time = median wall time, memory = the process's peak
resident size (``os.wait4``). The commands run in rounds (each command once per round, in turn), and
every ratio is the median over the rounds of the ratio within a round: on a shared machine the load
drifts over minutes, and a ratio of two medians taken minutes apart measures that drift. Compare the
ratios rather than the seconds.

* ``floor``: start Python, import pandas and geopandas, read the shipped Parquet files a coverage run
  reads (communes, arrondissements, EPCI of the COG year, the QPV layer), as issue 16 defines it.
* ``floor_gc``: the same with the garbage-collector settings the ``clsm-geo`` program uses
  (:func:`clsm_geo.cli.entry`): collections less often, none at exit. No command can be faster.
* ``coverage``, ``gaps``, ``plan``, ``report``, ``map interactive --offline``: the commands on the
  registry (default: ``examples/registry_fictitious.csv``, national, year 2024), output to a temporary folder.
* ``help``: ``clsm-geo --help``.
* plan scenarios per second: :class:`clsm_geo.plan.PlanModel` scoring candidate actions, in process.
* growth: ``clsm_geo.coverage`` on synthetic registries (:mod:`synthetic`) of 3,000 and 30,000 councils,
  and ``clsm_geo.validate`` (which reads the registry) on registries of 10,000 and 100,000 rows of the same
  shape (:func:`growth`): time must grow at most linearly (ratio of times, taken within each round, <= ratio
  of sizes). On a machine where even linear work grows faster than its input (caches, memory), the growth of
  :func:`linear_reference` on the same files, in the same rounds, is the bound instead when it is larger.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO))          # measure this checkout's clsm_geo, not an installed copy
sys.path.insert(0, str(HERE))
EXAMPLE = REPO / "examples" / "registry_fictitious.csv"
CLI = "from clsm_geo.cli import entry; entry()"    # what the clsm-geo program runs
FLOOR = ("import pandas, geopandas, clsm_geo; from clsm_geo.geography import geography; g = geography({year}); "
         "g.communes; g.arrondissements; g.epci; clsm_geo.qpv({year})")
#: The same floor with the garbage-collector settings of the clsm-geo program (clsm_geo.cli.entry): like with
#: like for the commands, which use them.
FLOOR_GC = ("import gc; from clsm_geo.cli import GC_THRESHOLDS; gc.set_threshold(*GC_THRESHOLDS); " + FLOOR
            + "; gc.freeze()")

TARGETS = {
    "coverage_over_floor": 1.5,
    "command_over_coverage": 2.0,
    "report_peak_mb": 450.0,
    "help_s": 0.3,
    "scenarios_per_s": 10_000.0,
}
COMMANDS = ("floor", "floor_gc", "help", "coverage", "gaps", "plan", "report", "map")


def _argv(name: str, registry: Path, year: int, out: Path) -> list[str]:
    py = [sys.executable, "-c"]
    common = ["--year", str(year), "--registry", str(registry)]
    return {
        "floor": py + [FLOOR.format(year=year)],
        "floor_gc": py + [FLOOR_GC.format(year=year)],
        "help": py + [CLI, "--help"],
        "coverage": py + [CLI, "--offline", "-q", "coverage", *common, "--out", str(out / "coverage")],
        "gaps": py + [CLI, "--offline", "-q", "gaps", *common, "--out", str(out / "gaps")],
        "plan": py + [CLI, "--offline", "-q", "plan", *common, "--out", str(out / "plan")],
        "report": py + [CLI, "--offline", "-q", "report", *common, "--out", str(out / "report.html")],
        "map": py + [CLI, "--offline", "-q", "map", "interactive", "--offline", *common, "--out", str(out / "map.html")],
    }[name]


def process_env() -> dict:
    """The environment of a measured process: this checkout first on the path, and its modules byte-compiled
    once (in a cache folder outside the checkout) as an installed package's are. Without it, a machine with
    ``PYTHONDONTWRITEBYTECODE`` set compiles clsm_geo's modules from source in every run (0.04 s for a
    coverage run), which users of an installed package never pay."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = str(Path(tempfile.gettempdir()) / "clsm-geo-bench-pycache")
    return env


def run_once(argv: list[str]) -> tuple[float, float]:
    """(wall seconds, peak resident MB) of one process; raises when it fails."""
    env = process_env()
    t = time.perf_counter()
    proc = subprocess.Popen(argv, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t
    proc.returncode = os.waitstatus_to_exitcode(status)
    err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(argv[2:])} failed ({proc.returncode}): {err.strip()[-800:]}")
    return wall, usage.ru_maxrss / 1024.0


def _command_line(name: str, argv: list[str]) -> str:
    return " ".join(["clsm-geo", *argv[3:]] if name not in ("floor", "floor_gc") else ["python -c", repr(argv[2])])


def rounds(calls: dict, repeat: int, label: str = "") -> dict[str, list]:
    """What each call returns, in ``repeat`` rounds after one warm-up each (OS cache, user cache). A round runs
    every call once, in turn: calls of the same round meet the same machine load, so a ratio is taken in each
    round (:func:`ratio`) rather than between medians of runs made minutes apart."""
    for key, fn in calls.items():
        print(f"warming up {label}{key} ...", file=sys.stderr, flush=True)
        fn()
    runs: dict[str, list] = {key: [] for key in calls}
    for k in range(repeat):
        print(f"round {k + 1}/{repeat} {label}...", file=sys.stderr, flush=True)
        for key, fn in calls.items():
            runs[key].append(fn())
    return runs


def measure(names: list[str], registry: Path, year: int, repeat: int) -> dict:
    """Every command of ``names`` in its own process, in :func:`rounds`: median seconds, the seconds of each
    round, peak memory."""
    with tempfile.TemporaryDirectory(prefix="clsm-geo-bench-") as tmp:
        argvs = {name: _argv(name, registry, year, Path(tmp)) for name in names}
        runs = rounds({name: (lambda argv=argvs[name]: run_once(argv)) for name in names}, repeat)
    return {name: {"s": statistics.median(r[0] for r in runs[name]), "runs": [r[0] for r in runs[name]],
                   "peak_mb": max(r[1] for r in runs[name]), "command": _command_line(name, argvs[name])}
            for name in names}


def ratio(m: dict, a: str, b: str) -> float:
    """Median over the rounds of (time of ``a`` / time of ``b`` in the same round)."""
    return statistics.median(x / y for x, y in zip(m[a]["runs"], m[b]["runs"]))


def scenarios_per_second(registry: Path, year: int, seconds: float = 2.0) -> tuple[float, int, float]:
    """Candidate actions scored per second by the plan model (in process, after set-up): as :func:`plan`
    scores a step's candidates (:meth:`~clsm_geo.plan.PlanModel.scores`, all at once), and one at a time
    (:meth:`~clsm_geo.plan.PlanModel.scorer`, how it scored them before). Returns (rate, candidates, rate
    one at a time)."""
    import clsm_geo
    from clsm_geo.plan import PlanModel, candidates

    res = clsm_geo.coverage(registry, year)
    model = PlanModel(res)
    net = model.net
    cands = candidates(model, model.x0, {c: set(u) for c, u in net.council_units.items()}, net.touched.copy())
    if not cands:
        return float("nan"), 0, float("nan")
    sets = [units for _, _, units in cands]

    def all_at_once():
        model.scores(model.x0, sets)

    def one_at_a_time():
        score_with = model.scorer(model.x0)
        for units in sets:
            score_with(units)

    rates = []
    for run in (all_at_once, one_at_a_time):
        run()                                                          # warm-up
        n, t0 = 0, time.perf_counter()
        while time.perf_counter() - t0 < seconds / 2:
            run()
            n += len(sets)
        rates.append(n / (time.perf_counter() - t0))
    return rates[0], len(cands), rates[1]


def _seconds(fn):
    """``fn`` returning its wall time in seconds instead of its result."""
    def timed() -> float:
        t = time.perf_counter()
        fn()
        return time.perf_counter() - t
    return timed


def growth(year: int, repeat: int) -> dict:
    """Coverage time at 3,000 and 30,000 councils; registry read + validate time at 10,000 and 100,000 rows
    (in process; each size warmed up once, then timed in rounds)."""
    import numpy as np

    import clsm_geo
    from bench_registry import write_registry as write_rows
    from synthetic import synthetic_registry, write_registry

    out = {}
    with tempfile.TemporaryDirectory(prefix="clsm-geo-bench-") as tmp:
        tmp = Path(tmp)
        layer = clsm_geo.qpv(2024)
        paths = {}
        for n in (3_000, 30_000):
            paths[n] = tmp / f"councils_{n}.csv"
            write_registry(synthetic_registry(n, year, seed=0), paths[n])
        runs = rounds({n: _seconds(lambda p=p: clsm_geo.coverage(p, year, qpv=layer)) for n, p in paths.items()},
                      repeat, "councils ")
        out["councils"] = _sizes(runs)
        # Rows: every council active with 3 communes drawn from a pool of communes proportional to the size
        # (3,493 and 34,935 communes of COG 2024), so that both registries have the same shape: as many overlaps
        # per council. Drawn from every commune of France at both sizes ("uniform", information only), a council
        # of the larger file meets 10 times as many others and the overlap warnings grow faster than the rows.
        communes = np.asarray(clsm_geo.geography(year).communes["insee_com"].to_numpy())
        pool = np.random.default_rng(1).permutation(communes)
        largest = 100_000
        for key, pick in (("rows", lambda n: pool[: len(pool) * n // largest]), ("rows_uniform", lambda n: communes)):
            paths = {n: write_rows(tmp / f"{key}_{n}.csv", n, pick(n)) for n in (10_000, largest)}
            calls = {n: _seconds(lambda p=p: clsm_geo.validate(p, year)) for n, p in paths.items()}
            if key == "rows":  # the linear reference, on the same files in the same rounds
                calls.update({("reference", n): _seconds(lambda p=p: linear_reference(p)) for n, p in paths.items()})
            runs = rounds(calls, repeat, f"{key} ")
            out[key] = _sizes({n: r for n, r in runs.items() if isinstance(n, int)})
            if key == "rows":
                out["rows_reference"] = _sizes({n[1]: r for n, r in runs.items() if not isinstance(n, int)})
    return out


def linear_reference(path: Path) -> dict:
    """Work that is linear by construction, to show how this machine's time per row grows with the size of what
    a Python process holds (caches, memory): the file read with the ``csv`` module and one dict entry per row
    (its id -> its communes split), the garbage collector paused as ``clsm_geo.validate`` pauses it."""
    import csv

    from clsm_geo import _gc

    with _gc.paused(), open(path, encoding="utf-8", newline="") as f:
        rows = list(csv.reader(f))
        return {r[0]: tuple(r[4].split(";")) for r in rows[1:]}


def _sizes(runs: dict[int, list[float]]) -> dict:
    """Median seconds per size, and the median over the rounds of (time of the largest / time of the smallest)."""
    small, large = min(runs), max(runs)
    out = {n: statistics.median(r) for n, r in runs.items()}
    out["ratio"] = statistics.median(b / a for a, b in zip(runs[small], runs[large]))
    return out


def _growth_line(ok: bool | None, what: str, unit: str, sizes: dict, extra: str = "") -> str:
    (a, ta), (b, tb) = sorted((n, t) for n, t in sizes.items() if n != "ratio")
    text = (f"{what} grows at most linearly, {a:,} -> {b:,} {unit}: time x{sizes['ratio']:.1f} for size x{b / a:.0f} "
            f"({ta:.2f} s -> {tb:.2f} s; median of the ratios within a round){extra}")
    return f"INFO  {text}" if ok is None else _line(ok, text)


def _line(ok: bool, text: str) -> str:
    return f"{'PASS' if ok else 'FAIL'}  {text}"


def targets(m: dict, scen, grow) -> list[str]:
    """PASS/FAIL lines for every target whose measures are present."""
    out = []
    if "coverage" in m and "floor" in m:
        r = ratio(m, "coverage", "floor")
        out.append(_line(r <= TARGETS["coverage_over_floor"], f"coverage <= {TARGETS['coverage_over_floor']}x floor: "
                         f"{r:.2f}x ({m['coverage']['s']:.2f} s / {m['floor']['s']:.2f} s)"))
    if "coverage" in m and "floor_gc" in m:
        r = ratio(m, "coverage", "floor_gc")
        out.append(_line(r <= TARGETS["coverage_over_floor"], f"coverage <= {TARGETS['coverage_over_floor']}x floor "
                         f"with the program's garbage-collector settings: {r:.2f}x ({m['coverage']['s']:.2f} s / "
                         f"{m['floor_gc']['s']:.2f} s)"))
    for name in ("gaps", "plan", "report", "map"):
        if name in m and "coverage" in m:
            r = ratio(m, name, "coverage")
            label = "map interactive" if name == "map" else name
            out.append(_line(r <= TARGETS["command_over_coverage"], f"{label} <= {TARGETS['command_over_coverage']}x "
                             f"coverage: {r:.2f}x ({m[name]['s']:.2f} s)"))
    if "report" in m:
        mb = m["report"]["peak_mb"]
        out.append(_line(mb <= TARGETS["report_peak_mb"], f"report peak memory <= {TARGETS['report_peak_mb']:.0f} MB: "
                         f"{mb:.0f} MB"))
    if "help" in m:
        s = m["help"]["s"]
        out.append(_line(s <= TARGETS["help_s"], f"clsm-geo --help <= {TARGETS['help_s']} s: {s:.2f} s "
                         f"(bare python: {m.get('python', {}).get('s', float('nan')):.2f} s)"))
    if scen is not None:
        rate, n, one = scen
        out.append(_line(rate >= TARGETS["scenarios_per_s"], f"plan scenarios >= {TARGETS['scenarios_per_s']:,.0f}/s: "
                         f"{rate:,.0f}/s ({n} candidate actions scored together as plan() does; "
                         f"{one:,.0f}/s one at a time)"))
    if grow is not None:
        for key, what, unit, extra in (
                ("councils", "coverage", "councils", ""),
                ("rows", "validate", "rows", " (communes drawn from a pool proportional to the size)"),
                ("rows_uniform", "validate", "rows", " (communes drawn from all of France: the larger file has "
                 "more overlaps per council; no target)")):
            if key in grow:
                sizes = grow[key]
                size_ratio = max(n for n in sizes if n != "ratio") / min(n for n in sizes if n != "ratio")
                ref = grow.get("rows_reference") if key == "rows" else None
                if ref is not None:  # linear = growing no faster than linear work does on this machine
                    extra += (f"; a linear reference (benchmarks/bench_commands.linear_reference: csv module, one dict "
                              f"entry per row) grows x{ref['ratio']:.1f} on the same files in the same rounds; "
                              f"target: x{max(size_ratio, ref['ratio']):.1f} at most")
                    size_ratio = max(size_ratio, ref["ratio"])
                ok = None if key == "rows_uniform" else sizes["ratio"] <= size_ratio
                out.append(_growth_line(ok, what, unit, sizes, extra))
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--registry", type=Path, default=EXAMPLE)
    ap.add_argument("--year", type=int, default=2024)
    ap.add_argument("--repeat", type=int, default=3, help="rounds (each command once per round; medians), after one warm-up")
    ap.add_argument("--only", default=",".join(COMMANDS), help="comma separated among " + ", ".join(COMMANDS))
    ap.add_argument("--no-scenarios", action="store_true", help="skip the plan scenarios per second")
    ap.add_argument("--no-growth", action="store_true", help="skip the 30,000 councils / 100,000 rows growth")
    args = ap.parse_args(argv)
    wanted = [c.strip() for c in args.only.split(",") if c.strip()]
    unknown = set(wanted) - set(COMMANDS)
    if unknown:
        ap.error("unknown command(s): " + ", ".join(sorted(unknown)))
    m = {}
    if "help" in wanted:
        m["python"] = {"s": statistics.median(run_once([sys.executable, "-c", "pass"])[0] for _ in range(args.repeat))}
    m.update(measure(wanted, args.registry, args.year, args.repeat))
    scen = None if args.no_scenarios else scenarios_per_second(args.registry, args.year)
    grow = None if args.no_growth else growth(args.year, args.repeat)
    print(f"registry {args.registry}, year {args.year}, median of {args.repeat} round(s) after a warm-up, ratios "
          f"taken within each round; "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    for name in wanted:
        print(f"  {name:<9} {m[name]['s']:7.2f} s  peak {m[name]['peak_mb']:5.0f} MB   {m[name]['command']}")
    print()
    for line in targets(m, scen, grow):
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
