"""Where the time of one ``clsm-geo coverage`` run goes: a timeline of its steps, in one process.

    .venv/bin/python benchmarks/coverage_steps.py                                  # the national example
    .venv/bin/python benchmarks/coverage_steps.py --registry big.csv --year 2024

Runs the command as the ``clsm-geo`` program does (its garbage-collector settings and deferred modules,
``clsm_geo.cli.main``)
with ``time.perf_counter`` around its main steps, and prints when each started and how long it took
(seconds from the start of the process). Steps nest: a layer read inside ``coverage()`` is also part of it.
The steps of the child process writing ``coverage.xlsx`` are printed too (``child:``, same clock: it is a
fork of this process).
Run it twice; the first run of a checkout also compiles the modules.
"""

from __future__ import annotations

import time

START = time.perf_counter()

import argparse  # noqa: E402
import functools  # noqa: E402
import gc  # noqa: E402
import importlib  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
from pathlib import Path  # noqa: E402

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))          # this checkout's clsm_geo

STEPS: list[tuple[float, float, str]] = []


def _timed(owner, name: str, label: str) -> None:
    original = getattr(owner, name)

    @functools.wraps(original)
    def wrapper(*args, **kwargs):
        began = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            STEPS.append((began - START, time.perf_counter() - began,
                          label.format(*args[1:2]) if "{" in label else label))

    setattr(owner, name, wrapper)


def _child_steps(coverage_files, path: Path) -> None:
    """Time the steps of the child writing ``coverage.xlsx`` (:func:`clsm_geo.coverage_files._book`): it runs
    in a forked process, which appends them to ``path``; they are printed with the others, as ``child:``."""
    import xlsxwriter.workbook

    def log(began: float, label: str) -> None:
        with open(path, "a", encoding="utf-8") as fh:
            fh.write(f"{began - START:.3f} {time.perf_counter() - began:.3f} {label}\n")

    original_book, original_close = coverage_files._book, xlsxwriter.workbook.Workbook.close

    def book(lang, inbox):
        marks: list[float] = []

        waits = ("the QPV layer's columns", "the engine's QPV table", "the small tables")
        works = ("writes the QPV layer's columns", "writes the engine's QPV columns (and the reconciliation)")

        class Timed:
            def get(self):
                began = time.perf_counter()
                if marks:
                    log(marks[-1], f"  child: {works[min(len(marks), len(works)) - 1]}")
                value = inbox.get()
                log(began, f"  child: waits for {waits[min(len(marks), len(waits) - 1)]}")
                marks.append(time.perf_counter())
                return value

        began = time.perf_counter()
        try:
            return original_book(lang, Timed())
        finally:
            log(began, "child: coverage.xlsx, in all (started before the engine)")

    def close(self):
        began = time.perf_counter()
        try:
            return original_close(self)
        finally:
            log(began, "  child: XlsxWriter's close (the sheets' XML, the shared strings, the zip)")

    coverage_files._book = book
    xlsxwriter.workbook.Workbook.close = close


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--registry", type=Path, default=HERE.parent / "examples" / "registry_fictitious.csv")
    ap.add_argument("--year", type=int, default=2024)
    args = ap.parse_args(argv)

    from clsm_geo import _lazy_imports, cli
    _lazy_imports.defer()                         # as clsm_geo.cli.entry does
    gc.set_threshold(*cli.GC_THRESHOLDS)
    imported = time.perf_counter() - START
    loading = time.perf_counter()
    modules = {name: importlib.import_module(f"clsm_geo.{name}") for name in
               ("cli.coverage", "cli.common", "coverage", "registry", "vintages", "units", "geography",
                "coverage_files", "_worker", "io", "result")}
    loaded = time.perf_counter()
    _timed(cli, "build_parser", "command line: parser")
    _timed(modules["cli.coverage"], "check", "command line: checks (reads the registry)")
    _timed(modules["cli.common"], "load_layer", "QPV layer in force")
    _timed(modules["coverage"], "coverage", "coverage()")
    _timed(modules["coverage"], "build_perimeters", "  perimeters")
    _timed(modules["coverage"], "_compute", "  engine (_compute)")
    _timed(modules["units"], "unit_arrays", "  unit arrays")
    _timed(modules["geography"].Geography, "_layer", "  boundary layer read: {}")
    _timed(modules["result"].CoverageResult, "build", "  result")
    _timed(modules["coverage_files"], "write_files", "files (to_files)")
    _timed(modules["io"], "write_csv", "  one CSV file")
    _timed(modules["_worker"].Job, "result", "  waiting for coverage.xlsx (second process)")
    with tempfile.TemporaryDirectory() as out:
        child_log = Path(out) / "child-steps.txt"
        _child_steps(modules["coverage_files"], child_log)
        began = time.perf_counter()
        code = cli.main(["--offline", "-q", "coverage", "--year", str(args.year), "--registry", str(args.registry),
                         "--out", str(Path(out) / "files")])
        ended = time.perf_counter()
        for line in child_log.read_text().splitlines() if child_log.is_file() else ():
            at, took, label = line.split(" ", 2)
            STEPS.append((float(at), float(took), label))
    print(f"{'start':>7} {'seconds':>8}  step")
    print(f"{0:7.3f} {imported:8.3f}  import clsm_geo.cli")
    print(f"{loading - START:7.3f} {loaded - loading:8.3f}  import the library (pandas, clsm_geo)")
    for at, took, label in sorted(STEPS):
        if took >= 0.001:
            print(f"{at:7.3f} {took:8.3f}  {label}")
    print(f"{began - START:7.3f} {ended - began:8.3f}  clsm_geo.cli.main (exit code {code}); then the process exits")
    return code


if __name__ == "__main__":
    sys.exit(main())
