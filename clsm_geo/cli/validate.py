"""``clsm-geo validate``: every problem of a registry, with file, row, column, value and suggestion."""

from __future__ import annotations

from ..errors import InputError
from ..i18n import t
from .common import add_registry, add_year, check_file, check_year


def register(sub) -> None:
    p = sub.add_parser("validate", help=t("help.validate.validate"))
    p.add_argument("registry_path", nargs="?", metavar="REGISTRY", help=t("help.validate.registry_path"))
    add_registry(p, required=False)
    add_year(p)
    p.add_argument("--out", metavar="FILE.csv", help=t("help.validate.out"))
    p.set_defaults(handler=run, check=check)


def check(args) -> None:
    """One registry (positional or --registry), an existing file, a year the data can check."""
    given = [r for r in (args.registry_path, args.registry) if r is not None]
    if not given:
        raise InputError(t("cli.option.registry_missing"))
    if len(given) == 2 and given[0] != given[1]:
        raise InputError(t("cli.option.registry_twice", first=given[0], second=given[1]))
    args.registry = given[0]
    check_year(args.year)
    check_file(args.registry, "--registry")


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
