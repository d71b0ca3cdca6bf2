"""Where the time of ``clsm-geo report``'s map goes, and when each of the report's two processes works.

    .venv/bin/python benchmarks/report_steps.py                  # national example registry, 5 rounds
    .venv/bin/python benchmarks/report_steps.py --rounds 1 --no-timeline

* **map steps** (in process, after one warm-up, medians of the rounds): the national map's figure
  (:func:`clsm_geo.maps.static.choropleth` through :func:`clsm_geo.report.figures._map_figure`), its pixels
  (``savefig`` to RGBA), the palette (Pillow ``quantize``), then the PNG encoded at zlib levels 6, 7
  (:data:`clsm_geo.report.figures.PNG_LEVEL`) and 9 (Pillow's ``optimize``), each with its size in bytes;
* **nearest council** (in process, medians of the rounds): the search of
  :func:`clsm_geo.gaps._nearest_councils` on the report's uncovered and partial QPV, by
  :func:`clsm_geo.gaps.nearest_parts` (bounded by envelopes) and by ``STRtree.query_nearest`` (the tree's own
  search, used before), with the pairs each finds (the same);
* **timeline** (``--no-timeline`` to skip): one ``clsm-geo report`` run in a fresh process, as the program
  runs it, with the moments the drawing child prepares and draws, the main process sends it the tables,
  writes the annex and waits for the images (seconds from the process start).

The machine may be shared: compare the steps of one run with each other rather than with another run.
"""

from __future__ import annotations

import argparse
import io
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

#: Run in a fresh process: the report command with marks around its steps, printed at the end.
TIMELINE = r"""
import time
START = time.perf_counter()
import gc, os, sys, tempfile
sys.path.insert(0, {repo!r})
from clsm_geo import _lazy_imports, cli
_lazy_imports.defer()
gc.set_threshold(*cli.GC_THRESHOLDS)
import clsm_geo._worker as w, clsm_geo.report as rp, clsm_geo.report.annex as ax, clsm_geo.report.figures as fg
log = os.path.join(tempfile.mkdtemp(), "marks.txt")
def wrap(owner, name, label):
    original = getattr(owner, name)
    def timed(*args, **kwargs):
        began = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            with open(log, "a") as fh:
                fh.write(f"{{began - START:.3f}} {{time.perf_counter() - began:.3f}} {{label}}\n")
    setattr(owner, name, timed)
wrap(fg, "_prepare", "drawing child: imports matplotlib, projects the outlines")
wrap(fg, "draw", "drawing child: draws the map and the chart")
wrap(w.Job, "send", "main: sends the tables to the drawing child")
wrap(rp, "report", "main: report() (engine's result to sections and annex tables)")
wrap(ax, "write", "main: writes the annex workbook")
wrap(w.Job, "result", "main: waits for the images")
with tempfile.TemporaryDirectory() as out:
    began = time.perf_counter()
    code = cli.main(["--offline", "-q", "report", "--year", "2024", "--registry", {registry!r},
                     "--out", os.path.join(out, "report.html")])
    ended = time.perf_counter()
print(f"{{'start':>7}} {{'seconds':>8}}  step")
print(f"{{0:7.3f}} {{began - START:8.3f}}  imports (clsm_geo.cli and what it needs)")
for line in sorted(open(log), key=lambda x: float(x.split()[0])):
    at, took, label = line.split(" ", 2)
    print(f"{{float(at):7.3f}} {{float(took):8.3f}}  {{label.strip()}}")
print(f"{{began - START:7.3f}} {{ended - began:8.3f}}  clsm_geo.cli.main (exit code {{code}})")
"""


def map_steps(registry: Path, rounds: int):
    sys.path.insert(0, str(REPO))
    import gc

    import matplotlib
    from PIL import Image

    import clsm_geo
    from clsm_geo.cli import GC_THRESHOLDS
    from clsm_geo.maps import static
    from clsm_geo.report import figures
    from clsm_geo.report.territory import Territory

    gc.set_threshold(*GC_THRESHOLDS)
    res = clsm_geo.coverage(registry, 2024)
    figures._prepare(res.vintage)
    france = Territory("nation", "", "France")
    times: dict[str, list[float]] = {}
    sizes: dict[str, int] = {}
    for r in range(rounds + 1):  # the first round warms up
        marks = [time.perf_counter()]
        fig = figures._map_figure(static, res, france, "fr")
        marks.append(time.perf_counter())
        raw = io.BytesIO()
        with matplotlib.rc_context(static.SAVE_RC):
            fig.savefig(raw, format="rgba", dpi=figures.MAP_DPI, facecolor="white")
        marks.append(time.perf_counter())
        pixels, width = raw.getvalue(), int(fig.get_figwidth() * figures.MAP_DPI)
        image = Image.frombuffer("RGBA", (width, len(pixels) // (4 * width)), pixels, "raw", "RGBA", 0, 1)
        image = image.convert("RGB").quantize(colors=figures.PNG_COLOURS, method=Image.Quantize.MEDIANCUT,
                                              dither=Image.Dither.NONE)
        marks.append(time.perf_counter())
        steps = dict(zip(("figure", "pixels (savefig, RGBA)", "palette (quantize)"),
                         (b - a for a, b in zip(marks, marks[1:]))))
        for level in (6, 7, 9):
            began = time.perf_counter()
            out = io.BytesIO()
            image.save(out, format="PNG", compress_level=level)
            steps[f"PNG, zlib level {level}"] = time.perf_counter() - began
            sizes[f"PNG, zlib level {level}"] = len(out.getvalue())
        if r:
            for name, took in steps.items():
                times.setdefault(name, []).append(took)
    print(f"national map of {registry.name}, 2024, in process, medians of {rounds} round(s) after a warm-up")
    for name, took in times.items():
        size = f"  {sizes[name]:,} bytes" if name in sizes else ""
        print(f"  {statistics.median(took):7.3f} s  {name}{size}")
    print(f"  the report encodes at level {figures.PNG_LEVEL} (clsm_geo.report.figures.PNG_LEVEL)")
    return res


def nearest_steps(res, rounds: int) -> None:
    """Time the nearest-council search both ways on the geometries ``_nearest_councils`` measures."""
    import numpy as np
    import shapely

    from clsm_geo import gaps

    captured = []
    original = gaps.nearest_parts

    def spy(queries, parts):
        captured.append((queries, parts))
        return original(queries, parts)

    gaps.nearest_parts = spy
    try:
        net = gaps.network(res)
        gaps._nearest_councils(net, net.qpv[net.qpv["status"].isin(["uncovered", "partial"])].reset_index(drop=True))
    finally:
        gaps.nearest_parts = original

    def tree(queries, parts):
        (qi, pi), d = shapely.STRtree(parts).query_nearest(queries, return_distance=True, all_matches=True)
        order = np.lexsort((pi, qi))
        return qi[order], pi[order], d[order]

    times: dict[str, list[float]] = {"nearest_parts": [], "STRtree.query_nearest": []}
    same = True
    for _ in range(rounds):
        for name, fn in (("nearest_parts", original), ("STRtree.query_nearest", tree)):
            began = time.perf_counter()
            found = [fn(q, p) for q, p in captured]
            times[name].append(time.perf_counter() - began)
            if name == "nearest_parts":
                mine = found
            else:
                same &= all(np.array_equal(x, y) for a, b in zip(mine, found) for x, y in zip(a, b))
    queries = sum(len(q) for q, _ in captured)
    parts = sum(len(p) for _, p in captured)
    print(f"nearest active council of {queries:,} QPV among {parts:,} parts, medians of {rounds} round(s)")
    for name, took in times.items():
        print(f"  {statistics.median(took):7.3f} s  {name}")
    print(f"  same pairs and distances: {'yes' if same else 'NO'}")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--registry", type=Path, default=EXAMPLE)
    parser.add_argument("--no-timeline", action="store_true")
    args = parser.parse_args(argv)
    if not args.no_timeline:
        env = dict(os.environ)
        env.pop("PYTHONDONTWRITEBYTECODE", None)  # as installed: the modules compiled once, not in each run
        env["PYTHONPYCACHEPREFIX"] = str(Path(tempfile.gettempdir()) / "clsm-geo-bench-pycache")
        code = TIMELINE.format(repo=str(REPO), registry=str(args.registry))
        for _ in range(2):  # the first run compiles the modules
            done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
        print(f"clsm-geo report on {args.registry.name}, 2024: one run (after a first one)")
        lines = done.stdout.splitlines()
        print("\n".join(lines[lines.index(next(x for x in lines if "step" in x)):]) if done.returncode == 0
              else done.stderr[-2000:])
    res = map_steps(args.registry, args.rounds)
    nearest_steps(res, args.rounds)
    return 0


if __name__ == "__main__":
    sys.exit(main())
