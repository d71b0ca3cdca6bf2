"""``clsm-geo uncovered``, ``gaps`` and ``plan``: where the network leaves QPV out, and what to do first."""

from __future__ import annotations

from pathlib import Path

from .common import add_coverage_inputs, check_out, run_coverage, say


def register(sub) -> None:
    p = sub.add_parser("uncovered", help="uncovered and partial QPV with their nearest council: "
                                         "uncovered.csv, uncovered.geojson")
    add_coverage_inputs(p)
    p.add_argument("--out", metavar="DIR", help="output folder (default: clsm-geo-uncovered-YEAR)")
    p.set_defaults(handler=run_uncovered)

    p = sub.add_parser("gaps", help="gaps of the network (straddling QPV, white EPCI, overlaps, enclaves...): "
                                    "gaps.csv, gaps.geojson")
    add_coverage_inputs(p)
    p.add_argument("--out", metavar="DIR", help="output folder (default: clsm-geo-gaps-YEAR)")
    p.set_defaults(handler=run_gaps)

    p = sub.add_parser("plan", help="priorities and a greedy plan of creations/extensions: plan.csv, priorities.csv")
    add_coverage_inputs(p)
    p.add_argument("--steps", type=int, default=20, metavar="K", help="number of actions (default 20)")
    p.add_argument("--out", metavar="DIR", help="output folder (default: clsm-geo-plan-YEAR)")
    p.set_defaults(handler=run_plan)


def run_uncovered(args) -> int:
    from .. import io as _io
    from ..gaps import uncovered

    out = Path(args.out or f"clsm-geo-uncovered-{args.year}")
    check_out(args, files=[out / "uncovered.csv", out / "uncovered.geojson"], folders=[out])
    result = run_coverage(args)
    table = uncovered(result)
    with _io.output_set(out) as stage:
        _io.write_csv(table, stage / "uncovered.csv")
        _io.write_geojson(table, stage / "uncovered.geojson")
    n_partial = int((table["status"] == "partial").sum())
    creation = int((table["approach"] == "creation").sum())
    print(f"{len(table):,} QPV in force not fully covered in {args.year} ({len(table) - n_partial:,} uncovered, "
          f"{n_partial:,} partial); {creation:,} in an EPCI and department without any active council")
    say(args, f"2 file(s) written to {out}/")
    return 0


def run_gaps(args) -> int:
    from .. import io as _io
    from ..gaps import KINDS, gaps

    out = Path(args.out or f"clsm-geo-gaps-{args.year}")
    check_out(args, files=[out / "gaps.csv", out / "gaps.geojson"], folders=[out])
    result = run_coverage(args)
    table = gaps(result)
    with _io.output_set(out) as stage:
        _io.write_csv(table, stage / "gaps.csv")
        _io.write_geojson(table, stage / "gaps.geojson")
    counts = table["kind"].value_counts()
    print(f"{len(table):,} finding(s): " + ", ".join(f"{k} {int(counts.get(k, 0))}" for k in KINDS))
    for kind in KINDS:
        here = table[table["kind"] == kind]
        for sentence in here["sentence"].head(3):
            say(args, f"  [{kind}] {sentence}")
        if len(here) > 3:
            say(args, f"  [{kind}] ... {len(here) - 3} more in gaps.csv")
    say(args, f"2 file(s) written to {out}/")
    return 0


def run_plan(args) -> int:
    from .. import io as _io
    from ..errors import InputError
    from ..plan import plan, priorities

    if args.steps < 0:
        raise InputError(f"--steps must be 0 or more, got {args.steps}")
    out = Path(args.out or f"clsm-geo-plan-{args.year}")
    check_out(args, files=[out / "plan.csv", out / "priorities.csv"], folders=[out])
    result = run_coverage(args)
    steps = plan(result, args.steps)
    ranks = priorities(result)
    with _io.output_set(out) as stage:
        _io.write_csv(steps, stage / "plan.csv")
        _io.write_csv(ranks, stage / "priorities.csv")
    print(plan_lines(steps))
    say(args, f"2 file(s) written to {out}/")
    return 0


def plan_lines(steps) -> str:
    """One line per step of a plan."""
    lines = []
    for rec in steps.itertuples(index=False):
        reached = f"{rec.qpv_covered:,} of {rec.qpv_total:,} QPV covered ({rec.qpv_covered_share:.1%})"
        if rec.step == 0:
            lines.append(f"now: {reached}")
            continue
        if rec.action == "creation":
            what = f"create a council on EPCI {rec.lib_epci} ({rec.siren_epci})"
        else:
            what = f"extend {rec.council_name} ({rec.council_id}) to {len(rec.units_added)} neighbouring unit(s)"
        lines.append(f"step {rec.step}: {what}, +{rec.n_qpv_gained} QPV -> {reached}")
    return "\n".join(lines)
