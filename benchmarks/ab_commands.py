"""One ``clsm-geo`` command of this checkout and of another one, run in turn, to measure what a change did.

    .venv/bin/python benchmarks/ab_commands.py --against ../old                      # coverage, 8 rounds
    .venv/bin/python benchmarks/ab_commands.py --against ../old --command report --rounds 6
    .venv/bin/python benchmarks/ab_commands.py --against ../old --command help          # clsm-geo --help

``../old`` is another checkout of clsm-geo (``git worktree add ../old <commit>``). Each round runs the
command once per checkout, the order turned every round, in fresh processes as the ``clsm-geo`` program
runs (``clsm_geo.cli.entry``, each checkout's modules byte-compiled once in its own cache folder, as
``bench_commands.process_env`` does), on the national example registry, year 2024, after one warm-up run
each. Printed: each checkout's median and its times, and the median over the rounds of (this checkout /
the other) in the same round. On a machine whose speed drifts by ±30 % between minutes, only the ratio
within rounds compares like with like.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
EXAMPLE = REPO / "examples" / "registry_fictitious.csv"
COMMANDS = ("coverage", "gaps", "plan", "report", "map", "help")


def argv(command: str, registry: Path, year: int, out: Path) -> list[str]:
    """The command line of ``command`` writing into ``out`` (``help``: ``clsm-geo --help``)."""
    if command == "help":
        return ["--help"]
    head = ["--offline", "-q"]
    if command == "report":
        return head + ["report", "--year", str(year), "--registry", str(registry), "--out", str(out / "report.html")]
    if command == "map":
        return head + ["map", "interactive", "--offline", "--year", str(year), "--registry", str(registry),
                       "--out", str(out / "map.html")]
    return head + [command, "--year", str(year), "--registry", str(registry), "--out", str(out / command)]


def run_once(root: Path, args: list[str]) -> float:
    """Wall seconds of the command of checkout ``root`` in a fresh process."""
    env = dict(os.environ)
    env["PYTHONPATH"] = str(root)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    key = hashlib.sha256(str(root).encode()).hexdigest()[:12]      # the same folder for a checkout in every run
    env["PYTHONPYCACHEPREFIX"] = str(Path(tempfile.gettempdir()) / f"clsm-geo-ab-pycache-{key}")
    cmd = [sys.executable, "-c", "from clsm_geo.cli import entry; entry()", *args]
    t = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True, env=env, cwd=root)
    return time.perf_counter() - t


def measure(roots: list[Path], command: str, rounds: int, registry: Path, year: int) -> dict[str, list[float]]:
    """Seconds of each checkout in ``rounds`` rounds (order turned each round), after one warm-up each."""
    times: dict[str, list[float]] = {str(r): [] for r in roots}
    with tempfile.TemporaryDirectory(prefix="clsm-geo-ab-") as tmp:
        line = argv(command, registry, year, Path(tmp))
        for root in roots:
            run_once(root, line)
        for k in range(rounds):
            for root in (roots if k % 2 == 0 else roots[::-1]):
                times[str(root)].append(run_once(root, line))
    return times


def main(argv_: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--against", type=Path, required=True, help="the other checkout")
    ap.add_argument("--command", choices=COMMANDS, default="coverage")
    ap.add_argument("--rounds", type=int, default=8)
    ap.add_argument("--registry", type=Path, default=EXAMPLE)
    ap.add_argument("--year", type=int, default=2024)
    args = ap.parse_args(argv_)
    if not (args.against / "clsm_geo" / "__init__.py").is_file():
        ap.error(f"{args.against} is not a checkout of clsm-geo (no clsm_geo/__init__.py)")
    roots = [args.against.resolve(), REPO]
    times = measure(roots, args.command, args.rounds, args.registry.resolve(), args.year)
    other, this = (times[str(r)] for r in roots)
    print(f"clsm-geo {args.command}, {args.rounds} rounds, {args.registry.name}, year {args.year}")
    for label, root, runs in (("other", roots[0], other), ("this ", roots[1], this)):
        print(f"  {label} {root}: median {statistics.median(runs):.2f} s  ({', '.join(f'{x:.2f}' for x in runs)})")
    ratio = statistics.median(b / a for a, b in zip(other, this))
    print(f"  this / other, median of the ratios within a round: {ratio:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
