"""``clsm-geo coverage``: headline, per-region table, output files."""

from __future__ import annotations

from pathlib import Path

from .. import i18n
from ..errors import InputError
from ..i18n import t, tn
from .common import (add_coverage_inputs, check_coverage_inputs, check_out, load_vintage, run_coverage, say,
                     warn_scope)


def register(sub) -> None:
    p = sub.add_parser("coverage", help=t("help.coverage.coverage"))
    add_coverage_inputs(p)
    p.add_argument("--out", metavar="DIR", help=t("help.coverage.out"))
    p.add_argument("--format", default="csv,xlsx", help=t("help.coverage.format"))
    p.set_defaults(handler=run, check=check)


def check(args) -> None:
    """Inputs, then the output formats, before any computation."""
    from ..coverage_files import FORMATS, file_names

    check_coverage_inputs(args)
    args.formats = tuple(f.strip().lower() for f in args.format.split(",") if f.strip())
    unknown = [f for f in args.formats if f not in FORMATS]
    if unknown or not args.formats:
        raise InputError(tn("cli.option.formats", max(len(unknown), 1), formats=", ".join(unknown) or repr(args.format)),
                         hint=t("cli.option.formats_hint", choices=", ".join(FORMATS)))
    out = Path(args.out or f"clsm-geo-coverage-{args.year}")
    check_out(args, files=[out / name for name in file_names(args.formats)], folders=[out])


def run(args) -> int:
    formats = args.formats
    out = Path(args.out or f"clsm-geo-coverage-{args.year}")
    book = None
    if "xlsx" in formats:  # the workbook's child starts now: it imports its writer while the engine runs
        from ..coverage_files import start_workbook

        book = start_workbook()
    try:
        vintage = load_vintage(args)
        if book is not None:  # and writes the QPV layer's columns meanwhile
            from ..coverage_files import send_layer

            send_layer(book, vintage.layer)
        result = run_coverage(args, vintage, warn=False)
    except BaseException:
        if book is not None:
            book.cancel()
        raise
    written = result.to_files(out, formats, workbook=book)
    warn_scope(result.summary, args.year)
    print(result.headline)
    say(args)
    say(args, region_table(result.regions))
    notes = coverage_notes(result.summary)
    if notes:
        say(args)
        for note in notes:
            say(args, note)
    say(args)
    say(args, files_written(len(written), out))
    return 0


def coverage_notes(summary: dict, lang: str | None = None) -> list[str]:
    """Notes under the table: partial QPV counted as covered, QPV not in force, undetermined QPV."""
    notes = []
    if summary.get("qpv_partial"):
        threshold = i18n.fmt_pct(summary["thresholds"]["partial"], 0, lang)
        notes.append(i18n.tn("console.notes.partial_counted", summary["qpv_partial"], lang, threshold=threshold))
    if summary.get("qpv_not_in_force"):
        notes.append(i18n.tn("console.notes.not_in_force", summary["qpv_not_in_force"], lang, year=summary["year"]))
    if summary.get("qpv_undetermined"):
        notes.append(i18n.tn("console.notes.undetermined", summary["qpv_undetermined"], lang))
    return notes


def files_written(n: int, folder, lang: str | None = None) -> str:
    """``3 fichiers écrits dans DIR/``."""
    return i18n.tn("console.files_written", n, lang, folder=folder)


def region_table(regions, lang: str | None = None) -> str:
    """The per-region table printed under the headline: labels of ``lang``, numbers formatted by Babel."""
    import pandas as pd

    count = ("councils_active", "councils_covering_qpv", "qpv_total", "qpv_covered", "qpv_partial")
    labels = ("active", "covering", "total", "covered", "partial")
    na = i18n.t("sources.not_available", lang)
    name = i18n.t("console.region_table.name", lang)
    width = max([len(name), *map(len, regions["lib_reg"])])
    table = pd.DataFrame({i18n.t("console.region_table.code", lang): regions["insee_reg"],
                          name.ljust(width): [n.ljust(width) for n in regions["lib_reg"]]})  # left-aligned names
    for col, label in zip(count, labels):
        table[i18n.t(f"console.region_table.{label}", lang)] = [na if pd.isna(v) else i18n.fmt_int(v, lang)
                                                                for v in regions[col]]
    table[i18n.t("console.region_table.share", lang)] = [na if pd.isna(v) else i18n.fmt_pct(v, 0, lang)
                                                         for v in regions["qpv_covered_share"]]
    return table.to_string(index=False)
