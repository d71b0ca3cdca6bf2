"""``clsm-geo trend``: councils and QPV coverage year by year, nationally and per region."""

from __future__ import annotations

from pathlib import Path

from .. import i18n
from ..errors import InputError
from ..i18n import t
from .common import add_network_options, add_registry, check_file, check_out, check_year, read_registry_once, say
from .coverage import files_written

#: Columns of the national trend printed to the console (labels: catalogue ``console.trend_table``).
TABLE_COLUMNS = ("year", "qpv_geography", "method", "councils_active", "councils_new", "councils_in_project",
                 "councils_covering_qpv", "qpv_total", "qpv_covered", "qpv_partial", "qpv_covered_share")


def register(sub) -> None:
    p = sub.add_parser("trend", help=t("help.trend.trend"))
    p.add_argument("--from", dest="from_year", type=int, default=2015, help=t("help.trend.from"))
    p.add_argument("--to", dest="to_year", type=int, default=2025, help=t("help.trend.to"))
    add_registry(p)
    p.add_argument("--qpv-2015", metavar="PATH_OR_URL", help=t("help.trend.qpv_2015"))
    p.add_argument("--qpv-2024", metavar="PATH_OR_URL", help=t("help.trend.qpv_2024"))
    p.add_argument("--method", choices=("auto", "commune", "geometry"), default="auto", help=t("help.common.method"))
    p.add_argument("--out", metavar="DIR", help=t("help.trend.out"))
    add_network_options(p)
    p.set_defaults(handler=run, check=check)


def check(args) -> None:
    """Years, registry and QPV files before any computation."""
    check_year(args.from_year, "--from")
    check_year(args.to_year, "--to")
    if args.from_year > args.to_year:
        raise InputError(t("cli.year.range", start=args.from_year, end=args.to_year))
    check_file(args.registry, "--registry")
    check_file(args.qpv_2015, "--qpv-2015")
    check_file(args.qpv_2024, "--qpv-2024")
    args.registry_data = read_registry_once(args)


def run(args) -> int:
    from ..trend import file_names, trend

    out = Path(args.out or "clsm-geo-trend")
    check_out(args, files=[out / name for name in file_names()], folders=[out])
    sources = {g: s for g, s in ((2015, args.qpv_2015), (2024, args.qpv_2024)) if s}
    result = trend(args.registry_data, args.from_year, args.to_year, qpv=sources, method=args.method)
    say(args, trend_table(result.national))
    for line in note_lines(result.national):
        say(args, line)
    written = result.to_files(out, sources={"registry": Path(args.registry).name, "method": args.method})
    say(args)
    say(args, files_written(len(written), out))
    return 0


def note_lines(national, lang: str | None = None) -> list[str]:
    """The notes of the years, one line per run of consecutive years with the same note
    (« remarque 2015–2023 : géographie QPV 2015 indisponible… » rather than the same line nine times)."""
    runs: list[list] = []                                  # [first year, last year, note]
    for year, note in zip(national["year"].astype(int).tolist(), national["note"].tolist()):
        note = note if isinstance(note, str) and note else None
        if runs and runs[-1][2] == note and runs[-1][1] == year - 1:
            runs[-1][1] = year
        else:
            runs.append([year, year, note])
    return [i18n.t("console.trend.note", lang, year=f"{a}–{b}" if b > a else str(a), note=note)
            for a, b, note in runs if note]


def trend_table(national, lang: str | None = None) -> str:
    """The national trend as a console table: labels of ``lang``, numbers formatted by Babel, blanks for
    years without a QPV layer."""
    import pandas as pd

    def cell(col, value) -> str:
        if value is None or (not isinstance(value, str) and pd.isna(value)):
            return ""
        if col == "qpv_covered_share":
            return i18n.fmt_pct(float(value), 0, lang)
        if col == "method":
            return i18n.t(f"console.methods.{value}", lang)
        if col in ("year", "qpv_geography"):
            return str(int(value))
        return i18n.fmt_int(value, lang)

    table = pd.DataFrame({i18n.t(f"console.trend_table.{col}", lang): [cell(col, v) for v in national[col]]
                          for col in TABLE_COLUMNS})
    return table.to_string(index=False)
