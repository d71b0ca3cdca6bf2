"""``clsm-geo uncovered``, ``gaps`` and ``plan``: where the network leaves QPV out, and what to do first."""

from __future__ import annotations

from pathlib import Path

from .. import i18n
from ..errors import InputError
from ..i18n import t
from .coverage import files_written
from .common import add_coverage_inputs, check_coverage_inputs, check_out, run_coverage, say


def register(sub) -> None:
    p = sub.add_parser("uncovered", help=t("help.gaps.uncovered"))
    add_coverage_inputs(p)
    p.add_argument("--out", metavar="DIR", help=t("help.gaps.p_out"))
    p.set_defaults(handler=run_uncovered)

    p = sub.add_parser("gaps", help=t("help.gaps.gaps"))
    add_coverage_inputs(p)
    p.add_argument("--out", metavar="DIR", help=t("help.gaps.p_out_2"))
    p.set_defaults(handler=run_gaps)

    p = sub.add_parser("plan", help=t("help.gaps.plan"))
    add_coverage_inputs(p)
    p.add_argument("--steps", type=int, default=20, metavar="K", help=t("help.gaps.p_steps"))
    p.add_argument("--out", metavar="DIR", help=t("help.gaps.p_out_3"))
    p.set_defaults(handler=run_plan, check=check_plan)


def check_plan(args) -> None:
    check_coverage_inputs(args)
    if args.steps < 0:
        raise InputError(t("cli.option.steps", value=args.steps))


def run_uncovered(args) -> int:
    from .. import io as _io
    from ..gaps import uncovered
    from ..workbook import write_workbook

    out = Path(args.out or f"clsm-geo-uncovered-{args.year}")
    check_out(args, files=[out / f for f in ("uncovered.csv", "uncovered.geojson", "uncovered.xlsx")], folders=[out])
    result = run_coverage(args)
    table = uncovered(result)
    with _io.output_set(out) as stage:
        _io.write_csv(table, stage / "uncovered.csv")
        _io.write_geojson(table, stage / "uncovered.geojson")
        write_workbook({"uncovered": table}, stage / "uncovered.xlsx", result.sources_for())
    print(uncovered_line(table, args.year))
    say(args, files_written(3, out))
    return 0


def uncovered_line(table, year: int, lang: str | None = None) -> str:
    """``N QPV en vigueur ne sont pas entièrement couverts en 2024 (…)`` from :func:`clsm_geo.gaps.uncovered`."""
    n_partial = int((table["status"] == "partial").sum())
    creation = int((table["approach"] == "creation").sum())
    return i18n.tn("console.uncovered.summary", len(table), lang, year=year,
                   uncovered=i18n.tn("console.uncovered.uncovered", len(table) - n_partial, lang),
                   partial=i18n.tn("console.uncovered.partial", n_partial, lang),
                   creation=i18n.tn("console.uncovered.creation", creation, lang))


def run_gaps(args) -> int:
    from .. import io as _io
    from ..gaps import gaps
    from ..workbook import write_workbook

    out = Path(args.out or f"clsm-geo-gaps-{args.year}")
    check_out(args, files=[out / f for f in ("gaps.csv", "gaps.geojson", "gaps.xlsx")], folders=[out])
    result = run_coverage(args)
    table = gaps(result)
    with _io.output_set(out) as stage:
        _io.write_csv(table, stage / "gaps.csv")
        _io.write_geojson(table, stage / "gaps.geojson")
        write_workbook({"gaps": table}, stage / "gaps.xlsx", result.sources_for())
    lines = gap_lines(table)
    print(lines[0])
    for line in lines[1:]:
        say(args, line)
    say(args, files_written(3, out))
    return 0


def gap_lines(table, lang: str | None = None, most: int = 3) -> list[str]:
    """Counts per kind, then up to ``most`` sentences of each kind (as :func:`clsm_geo.gaps.gaps` wrote them)."""
    from ..gaps import KINDS, kind_label

    counts = table["kind"].value_counts()
    text = ", ".join(i18n.t("console.gaps.count", lang, kind=kind_label(k, lang),
                            n=i18n.fmt_int(counts.get(k, 0), lang))
                     for k in KINDS)
    lines = [i18n.tn("console.gaps.findings", len(table), lang, counts=text)]
    for kind in KINDS:
        here = table[table["kind"] == kind]
        label = kind_label(kind, lang)
        lines += [f"  [{label}] {sentence}" for sentence in here["sentence"].head(most)]
        if len(here) > most:
            lines.append(f"  [{label}] " + i18n.tn("console.gaps.more", len(here) - most, lang, file="gaps.csv"))
    return lines


def run_plan(args) -> int:
    from .. import io as _io
    from ..plan import plan, priorities
    from ..workbook import write_workbook

    out = Path(args.out or f"clsm-geo-plan-{args.year}")
    check_out(args, files=[out / f for f in ("plan.csv", "priorities.csv", "plan.xlsx")], folders=[out])
    result = run_coverage(args)
    steps = plan(result, args.steps)
    ranks = priorities(result)
    with _io.output_set(out) as stage:
        _io.write_csv(steps, stage / "plan.csv")
        _io.write_csv(ranks, stage / "priorities.csv")
        write_workbook({"plan": steps, "priorities": ranks}, stage / "plan.xlsx", result.sources_for())
    print(plan_lines(steps))
    say(args, files_written(3, out))
    return 0


def plan_lines(steps, lang: str | None = None) -> str:
    """One line per step of a plan, in ``lang``."""
    from ..plan import step_sentences

    return "\n".join(step_sentences(steps, lang))
