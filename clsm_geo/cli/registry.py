"""``clsm-geo registry``: the template to fill in (``template``) and its check (``check``, as ``validate``)."""

from __future__ import annotations

from ..i18n import t
from .common import say


def register(sub) -> None:
    p = sub.add_parser("registry", help="registry template to fill in, and its check")
    cmds = p.add_subparsers(dest="registry_command", required=True, metavar="ACTION")
    t = cmds.add_parser("template", help="write the registry workbook to fill in (.xlsx)")
    t.add_argument("--out", metavar="FILE.xlsx", default="registre.xlsx", help="default: registre.xlsx")
    t.add_argument("--year", type=int, default=None,
                   help="COG year of the communes and EPCI sheets (default: the latest shipped)")
    t.set_defaults(handler=run_template)
    c = cmds.add_parser("check", help="check a filled registry (same as validate)")
    c.add_argument("registry", metavar="REGISTRY", nargs="?")
    c.add_argument("--registry", dest="registry_opt", metavar="PATH")
    c.add_argument("--year", type=int, default=2024, help="COG year the codes are checked against")
    c.add_argument("--out", metavar="FILE.csv", help="also write the report as CSV")
    c.set_defaults(handler=run_check)


def run_template(args) -> int:
    from pathlib import Path

    from ..errors import InputError
    from ..geography import shipped_years
    from ..registry_template import write_template

    year = args.year or max(shipped_years())
    if year not in shipped_years():
        raise InputError(t("engine.option.template_year", year=year, years=", ".join(map(str, shipped_years()))))
    out = Path(args.out)
    if out.suffix.lower() != ".xlsx":
        raise InputError(t("engine.option.template_suffix", out=out))
    if out.exists() and out.is_dir():
        raise InputError(t("engine.option.template_folder", out=out))
    write_template(out, year)
    say(args, str(out))
    return 0


def run_check(args) -> int:
    from ..errors import InputError
    from .validate import run as validate

    path = args.registry_opt or args.registry
    if not path:
        raise InputError(t("engine.option.check_registry"))
    args.registry = path
    return validate(args)
