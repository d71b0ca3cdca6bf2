"""``clsm-geo registry``: the template to fill in (``template``) and its check (``check``, as ``validate``)."""

from __future__ import annotations

from ..i18n import t
from .common import say


def register(sub) -> None:
    p = sub.add_parser("registry", help=t("help.registry.registry"))
    cmds = p.add_subparsers(dest="registry_command", required=True, metavar="ACTION")
    tp = cmds.add_parser("template", help=t("help.registry.template"))
    tp.add_argument("--out", metavar="FILE.xlsx", default="registre.xlsx", help=t("help.registry.t_out"))
    tp.add_argument("--year", type=int, default=None, help=t("help.registry.t_year"))
    tp.set_defaults(handler=run_template)
    c = cmds.add_parser("check", help=t("help.registry.check"))
    c.add_argument("registry", metavar="REGISTRY", nargs="?", help=t("help.validate.registry_path"))
    c.add_argument("--registry", dest="registry_opt", metavar="PATH", help=t("help.common.registry"))
    c.add_argument("--year", type=int, default=2024, help=t("help.registry.c_year"))
    c.add_argument("--out", metavar="FILE.csv", help=t("help.registry.c_out"))
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
