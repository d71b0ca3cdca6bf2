"""``clsm-geo trend``: councils and QPV coverage year by year, nationally and per region."""

from __future__ import annotations

from pathlib import Path

from ..errors import InputError
from ..i18n import t
from .common import add_registry, check_file, check_year, read_registry_once, say


def register(sub) -> None:
    p = sub.add_parser("trend", help="councils and QPV coverage per year (CSV and chart)")
    p.add_argument("--from", dest="from_year", type=int, default=2015, help="first year (default 2015)")
    p.add_argument("--to", dest="to_year", type=int, default=2025, help="last year (default 2025)")
    add_registry(p)
    p.add_argument("--qpv-2015", metavar="PATH_OR_URL", help="QPV 2015 geography file (default: cache)")
    p.add_argument("--qpv-2024", metavar="PATH_OR_URL", help="QPV 2024 geography file (default: cache, shipped)")
    p.add_argument("--method", choices=("auto", "commune", "geometry"), default="auto")
    p.add_argument("--out", metavar="DIR", help="output folder (default: clsm-geo-trend)")
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
    from ..trend import trend

    sources = {g: s for g, s in ((2015, args.qpv_2015), (2024, args.qpv_2024)) if s}
    result = trend(args.registry_data, args.from_year, args.to_year, qpv=sources, method=args.method)
    table = result.national.copy()
    table["qpv_covered_share"] = (table["qpv_covered_share"] * 100).round(0).map(
        lambda v: "" if v != v else f"{int(v)} %")
    say(args, table.drop(columns=["note", "cog_year"]).fillna("").to_string(index=False))
    for year, note in zip(result.national["year"], result.national["note"]):
        if isinstance(note, str) and note:
            say(args, f"note {year}: {note}")
    out = Path(args.out or "clsm-geo-trend")
    written = result.to_files(out)
    say(args, f"\n{len(written)} file(s) written to {out}/")
    return 0
