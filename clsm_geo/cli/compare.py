"""``clsm-geo compare``: what changed from one year (or registry) to the next, and why."""

from __future__ import annotations

from ..i18n import t

from pathlib import Path

from .. import i18n
from .common import say


def register(sub) -> None:
    p = sub.add_parser("compare", help=t("help.compare.compare"))
    p.add_argument("--registry", required=True, metavar="PATH", help=t("help.compare.registry"))
    p.add_argument("--year", type=int, required=True, help=t("help.compare.year"))
    p.add_argument("--registry-to", metavar="PATH", help=t("help.compare.registry_to"))
    p.add_argument("--year-to", type=int, required=True, help=t("help.compare.year_to"))
    p.add_argument("--qpv", metavar="PATH_OR_URL", help=t("help.compare.qpv"))
    p.add_argument("--qpv-to", metavar="PATH_OR_URL", help=t("help.compare.qpv_to"))
    p.add_argument("--method", choices=("auto", "commune", "geometry"), default="auto", help=t("help.common.method"))
    p.add_argument("--out", metavar="DIR", help=t("help.compare.out"))
    p.set_defaults(handler=run)


def run(args) -> int:
    from ..compare import compare
    from ..api import coverage
    from ..qpv import qpv as load_qpv
    from ..qpv import qpv_geography_for_year

    def result(registry, year, source):
        return coverage(registry, year, qpv=load_qpv(qpv_geography_for_year(year), source), method=args.method)

    before = result(args.registry, args.year, args.qpv)
    after = result(args.registry_to or args.registry, args.year_to, args.qpv_to or args.qpv)
    comparison = compare(before, after)
    print(comparison.sentence())
    out = Path(args.out or f"clsm-geo-compare-{args.year}-{args.year_to}")
    written = comparison.to_files(out)
    say(args, i18n.tn("compare.files", len(written), out=out))
    return 0
