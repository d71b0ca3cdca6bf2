"""The coverage workbook in process: how long XlsxWriter takes, before and after the small tables.

    .venv/bin/python benchmarks/workbook_steps.py                     # 8 rounds
    .venv/bin/python benchmarks/workbook_steps.py --against ../old    # and another checkout's workbook module

On the national example registry, year 2024, one coverage result computed once, then in rounds (the order
turned every round), ``coverage.xlsx``'s bytes made as ``clsm-geo coverage``'s child makes them
(``coverage_files._workbook``: the QPV sheet first, then the tables computed after the engine):

* ``default``: the time until the small tables are asked for (what the child does while the main process
  computes them) and the time after (the other sheets and XlsxWriter's ``Workbook.close``);
* ``constant_memory``: the same in XlsxWriter's ``constant_memory`` mode (each row's XML made as it is
  written, cells written row by row, text inline), tried and not kept (``docs/performance.md``);
* ``Workbook.close`` in the default mode and its parts (the QPV sheet's XML, the other sheets', the shared
  strings, the rest: the zip);
* with ``--against``: that checkout's ``clsm_geo/workbook.py`` loaded beside this one and
  ``write_workbook`` of the same tables timed by both in turn (ratio within rounds).

Medians of the rounds; the collector settings of the ``clsm-geo`` program.
"""

from __future__ import annotations

import argparse
import gc
import importlib.util
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO))
EXAMPLE = REPO / "examples" / "registry_fictitious.csv"


def _split(res, later: dict, streamed: bool, tmp: str) -> tuple[float, float]:
    """(seconds until the small tables are asked for, seconds after) of the coverage workbook."""
    import xlsxwriter

    from clsm_geo import workbook

    marks: dict[str, float] = {}

    def deferred(name):
        def value():
            marks.setdefault("asked", time.perf_counter())
            return later[name]
        return value

    tables = {n: deferred(n) if callable(t) else t for n, t in workbook.coverage_tables(res, later=True).items()}
    original, table_writer = xlsxwriter.Workbook, workbook._write_table
    if streamed:
        xlsxwriter.Workbook = lambda target, options: original(target, dict(
            options, in_memory=False, constant_memory=True, tmpdir=tmp))
        workbook._write_table = _rows_writer(workbook)
    try:
        start = time.perf_counter()
        workbook.workbook_bytes(tables, deferred("sources"), "fr")
        end = time.perf_counter()
    finally:
        xlsxwriter.Workbook, workbook._write_table = original, table_writer
    return marks["asked"] - start, end - marks["asked"]


def _close_parts(res, later: dict) -> dict[str, float]:
    """Seconds of ``Workbook.close`` (default mode) and of its parts: the QPV sheet's XML, the other sheets',
    the shared strings; the rest is the zip (deflate) and the small XML parts."""
    import xlsxwriter.sharedstrings
    import xlsxwriter.workbook
    import xlsxwriter.worksheet

    from clsm_geo import workbook

    parts = {"close": 0.0, "QPV sheet XML": 0.0, "other sheets XML": 0.0, "shared strings XML": 0.0}
    qpv_sheet = workbook.sheet_name("qpv", "fr")
    originals = (xlsxwriter.worksheet.Worksheet._assemble_xml_file,
                 xlsxwriter.sharedstrings.SharedStrings._assemble_xml_file, xlsxwriter.workbook.Workbook.close)

    def timed(original, key):
        def run(self, *args):
            began = time.perf_counter()
            try:
                return original(self, *args)
            finally:
                name = key(self) if callable(key) else key
                parts[name] += time.perf_counter() - began
        return run

    xlsxwriter.worksheet.Worksheet._assemble_xml_file = timed(
        originals[0], lambda ws: "QPV sheet XML" if ws.name == qpv_sheet else "other sheets XML")
    xlsxwriter.sharedstrings.SharedStrings._assemble_xml_file = timed(originals[1], "shared strings XML")
    xlsxwriter.workbook.Workbook.close = timed(originals[2], "close")
    try:
        tables = {n: (lambda n=n: later[n]) if callable(t) else t
                  for n, t in workbook.coverage_tables(res, later=True).items()}
        workbook.workbook_bytes(tables, later["sources"], "fr")
    finally:
        (xlsxwriter.worksheet.Worksheet._assemble_xml_file, xlsxwriter.sharedstrings.SharedStrings._assemble_xml_file,
         xlsxwriter.workbook.Workbook.close) = originals
    parts["the rest (zip, small parts)"] = parts["close"] - sum(v for k, v in parts.items() if k != "close")
    return parts


def _rows_writer(workbook):
    """``workbook._write_table`` writing row by row (what ``constant_memory`` needs)."""
    import pandas as pd

    def write(book, ws, frame, lang):
        frame = pd.DataFrame(frame.drop(columns=[c for c in ("geometry",) if c in frame.columns]))
        cols = [str(c) for c in frame.columns]
        labels = [workbook._columns.label(c, lang) for c in cols]
        workbook._header(book, ws, labels)
        formats = [book.number(workbook.number_format(c, frame[c], lang)) for c in cols]
        widths = [len(label) + 2 for label in labels]
        columns = []
        for i, c in enumerate(cols):
            values, width = workbook._column_cells(c, frame[c], lang)
            columns.append(values)
            widths[i] = max(widths[i], width)
        ws.freeze_panes(1, 0)
        ws.autofilter(0, 0, len(frame), len(cols) - 1)
        workbook._fit_widths(ws, widths, formats)
        for r, cells in enumerate(zip(*columns), start=1):
            for c, value in enumerate(cells):
                if value is not None:
                    workbook._write(ws, r, c, value)
    return write


def _other_module(checkout: Path):
    """``checkout``'s ``clsm_geo/workbook.py`` as a module of this clsm_geo package (its relative imports
    resolve here)."""
    spec = importlib.util.spec_from_file_location("clsm_geo._workbook_against",
                                                  Path(checkout) / "clsm_geo" / "workbook.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--against", type=Path, help="another checkout: its write_workbook in turn with this one's")
    parser.add_argument("--registry", type=Path, default=EXAMPLE)
    args = parser.parse_args(argv)

    import clsm_geo
    from clsm_geo import coverage_files, workbook
    from clsm_geo.cli import GC_THRESHOLDS

    gc.set_threshold(*GC_THRESHOLDS)
    res = clsm_geo.coverage(args.registry, 2024)
    later = coverage_files._later(res, "fr")
    tables, sources = workbook.coverage_tables(res), res.sources_for("fr")
    other = _other_module(args.against) if args.against else None
    times: dict[str, list] = {"default": [], "constant_memory": [], "this": [], "other": [], "close": []}
    with tempfile.TemporaryDirectory() as tmp:
        _split(res, later, False, tmp)  # warm-up
        for r in range(args.rounds):
            for mode in (("default", "constant_memory") if r % 2 == 0 else ("constant_memory", "default")):
                times[mode].append(_split(res, later, mode == "constant_memory", tmp))
            times["close"].append(_close_parts(res, later))
            if other is not None:
                for name, module in ((("this", workbook), ("other", other)) if r % 2 == 0
                                     else (("other", other), ("this", workbook))):
                    start = time.perf_counter()
                    module.write_workbook(tables, Path(tmp) / f"{name}.xlsx", sources, "fr")
                    times[name].append(time.perf_counter() - start)
    print(f"coverage workbook of {args.registry.name}, 2024, in process, medians of {args.rounds} rounds")
    for mode in ("default", "constant_memory"):
        before = statistics.median(a for a, _ in times[mode])
        after = statistics.median(b for _, b in times[mode])
        print(f"  {mode:16} {before:.3f} s before the small tables, {after:.3f} s after")
    print("  default mode, XlsxWriter's Workbook.close and its parts:")
    for part in times["close"][0]:
        print(f"    {statistics.median(r[part] for r in times['close']):.3f} s  {part}")
    if other is not None:
        ratio = statistics.median(a / b for a, b in zip(times["this"], times["other"]))
        print(f"  write_workbook: this {statistics.median(times['this']):.3f} s, {args.against}"
              f" {statistics.median(times['other']):.3f} s; this / other within rounds: {ratio:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
