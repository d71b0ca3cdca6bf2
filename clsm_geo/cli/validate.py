"""``clsm-geo validate``: every problem of a registry, with file, row, column, value and suggestion."""

from __future__ import annotations


def register(sub) -> None:
    p = sub.add_parser("validate", help="check a registry and list every problem")
    p.add_argument("registry", metavar="REGISTRY")
    p.add_argument("--year", type=int, default=2024, help="COG year the codes are checked against")
    p.add_argument("--out", metavar="FILE.csv", help="also write the report as CSV")
    p.set_defaults(handler=run)


def run(args) -> int:
    from ..validation import validate
    from .common import check_out

    if args.out:
        check_out(args, files=[args.out])
    report = validate(args.registry, args.year)
    print(report)
    if args.out:
        from ..io import write_csv

        write_csv(report.to_frame(), args.out)
    return 0 if report.ok else 2
