"""``clsm-geo coverage``: headline, per-region table, output files."""

from __future__ import annotations

from pathlib import Path

from .common import add_coverage_inputs, check_out, run_coverage, say


def register(sub) -> None:
    p = sub.add_parser("coverage", help="QPV coverage by active councils: headline, tables, files")
    add_coverage_inputs(p)
    p.add_argument("--out", metavar="DIR", help="output folder (default: clsm-geo-coverage-YEAR)")
    p.add_argument("--format", default="csv", help="comma-separated: csv,xlsx,geojson,parquet (default csv)")
    p.set_defaults(handler=run)


def run(args) -> int:
    from ..result import FORMATS, file_names

    formats = tuple(f.strip() for f in args.format.split(",") if f.strip())
    unknown = [f for f in formats if f not in FORMATS]
    if unknown:
        from ..errors import InputError

        raise InputError(f"unknown format(s): {', '.join(unknown)}", hint="use " + ", ".join(FORMATS))
    out = Path(args.out or f"clsm-geo-coverage-{args.year}")
    check_out(args, files=[out / name for name in file_names(formats)], folders=[out])
    result = run_coverage(args)
    written = result.to_files(out, formats)
    summary = result.summary
    print(result.headline)
    say(args)
    say(args, region_table(result.regions))
    if summary["qpv_not_in_force"]:
        say(args, f"\nnote: {summary['qpv_not_in_force']} QPV of the layer are not in force in {args.year} "
                  "(overseas, the 2024 geography applies from 2025) and are not counted")
    if summary["qpv_undetermined"]:
        say(args, f"note: {summary['qpv_undetermined']} QPV undetermined by the commune method (councils "
                  "covering part of Paris, Lyon, Marseille or of a commune): use --method geometry")
    say(args, f"\n{len(written)} file(s) written to {out}/")
    return 0


def region_table(regions) -> str:
    """The per-region table printed under the headline."""
    cols = ["insee_reg", "lib_reg", "councils_active", "councils_covering_qpv", "qpv_total", "qpv_covered",
            "qpv_covered_share"]
    table = regions[cols].copy()
    table["qpv_covered_share"] = (table["qpv_covered_share"] * 100).round(0).astype(int).astype(str) + " %"
    table.columns = ["reg", "region", "active", "covering", "QPV", "covered", "share"]
    return table.to_string(index=False)
