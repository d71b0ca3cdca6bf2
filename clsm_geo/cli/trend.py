"""``clsm-geo trend``: councils and QPV coverage year by year, nationally and per region."""

from __future__ import annotations

from pathlib import Path

from .common import add_network_options, check_out, say


def register(sub) -> None:
    p = sub.add_parser("trend", help="councils and QPV coverage per year (CSV and chart)")
    p.add_argument("--from", dest="from_year", type=int, default=2015, help="first year (default 2015)")
    p.add_argument("--to", dest="to_year", type=int, default=2025, help="last year (default 2025)")
    p.add_argument("--registry", required=True, metavar="PATH")
    p.add_argument("--qpv-2015", metavar="PATH_OR_URL", help="QPV 2015 geography file (default: cache)")
    p.add_argument("--qpv-2024", metavar="PATH_OR_URL", help="QPV 2024 geography file (default: cache, shipped)")
    p.add_argument("--method", choices=("auto", "commune", "geometry"), default="auto")
    p.add_argument("--out", metavar="DIR", help="output folder (default: clsm-geo-trend)")
    add_network_options(p)
    p.set_defaults(handler=run)


def run(args) -> int:
    from ..trend import file_names, trend

    out = Path(args.out or "clsm-geo-trend")
    check_out(args, files=[out / name for name in file_names()], folders=[out])
    sources = {g: s for g, s in ((2015, args.qpv_2015), (2024, args.qpv_2024)) if s}
    result = trend(args.registry, args.from_year, args.to_year, qpv=sources, method=args.method)
    table = result.national.copy()
    table["qpv_covered_share"] = (table["qpv_covered_share"] * 100).round(0).map(
        lambda v: "" if v != v else f"{int(v)} %")
    say(args, table.drop(columns=["note", "cog_year"]).fillna("").to_string(index=False))
    for year, note in zip(result.national["year"], result.national["note"]):
        if isinstance(note, str) and note:
            say(args, f"note {year}: {note}")
    written = result.to_files(out)
    say(args, f"\n{len(written)} file(s) written to {out}/")
    return 0
