"""Smoke run of benchmarks/compare.py and bench_commands.py: the peers agree with the engine and the
targets are printed (no timing is checked).

30 synthetic councils and the QPV of one region (Provence-Alpes-Côte d'Azur). The engine, the naive
geopandas overlay, DuckDB spatial (when installed: the ``bench`` extra) and PostGIS (when PostgreSQL
and PostGIS are installed, see benchmarks/setup.sh) must give every QPV polygon the same status
on the engine's definition (each QPV clipped to its official units).
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"
sys.path.insert(0, str(BENCH))

import compare  # noqa: E402

SIZES = [30]
REGION = "93"
EXAMPLE_REGISTRY = BENCH.parent / "examples" / "registry_fictitious.csv"


@pytest.fixture(scope="module")
def bench(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("bench")
    prep = compare.prepare(workdir, SIZES, region=REGION)
    engine = compare.run_engine(workdir, SIZES, 1, region=REGION)
    return workdir, prep, engine


@pytest.fixture(scope="module")
def duckdb_run(bench):
    """DuckDB's run on the smoke case, once for the tests that read it."""
    if compare.duckdb_spatial_path() is None:
        pytest.skip("duckdb and duckdb-extension-spatial are not installed (the bench extra)")
    return compare.run_duckdb(bench[0], SIZES, 1)


def _agree(engine, peer):
    e, p = engine["sizes"]["30"], peer["sizes"]["30"]
    assert set(p["status"]) <= set(e["status"])
    assert compare.disagreements(e, p) == []
    # (a) the same precomputed table and (b) end to end from the same files: same statuses.
    if "table" in p:
        assert compare.disagreements({"status": e["table_status"], "share": e["table_share"]}, p["table"]) == []
        assert compare.disagreements({"status": e["e2e_status"], "share": e["e2e_share"]}, p["e2e"]) == []
        assert e["table_status"] == {k: v for k, v in e["e2e_status"].items() if k in e["table_status"]}


def test_pieces_match_engine_apportionment(bench):
    _, prep, engine = bench
    assert prep["n_pieces"] >= prep["n_qpv_polygons"] > 50
    assert prep["weights_max_abs_diff"] < 1e-3
    statuses = set(engine["sizes"]["30"]["status"].values())
    assert "covered" in statuses and "uncovered" in statuses


def test_geopandas_agrees(bench):
    workdir, _, engine = bench
    _agree(engine, compare.run_geopandas(workdir, SIZES, 1))


def test_duckdb_agrees(bench, duckdb_run):
    _agree(bench[2], duckdb_run)


def test_postgis_agrees(bench):
    why = compare.peer_available("postgis")
    if why:
        pytest.skip(why)
    workdir, _, engine = bench
    _agree(engine, compare.run_postgis(workdir, SIZES, 1))


def test_report_prints_the_comparisons_and_targets(bench, request):
    workdir, prep, engine = bench
    results = {"engine": engine}
    if compare.duckdb_spatial_path() is not None:
        results["duckdb"] = request.getfixturevalue("duckdb_run")
    text, agree = compare.report(results, prep, SIZES, {}, {})
    assert agree
    assert "(a) Same precomputed" in text and "(b) End to end" in text and "(c) Geometry every run" in text
    assert ("PASS  (a)" in text or "FAIL  (a)" in text) if "duckdb" in results else "SKIP  (a)" in text


def test_paired_rounds_turn_the_order_and_take_ratios_within_rounds():
    calls = []
    runs = compare.paired_rounds({k: (lambda k=k: calls.append(k)) for k in ("engine", "duckdb", "postgis")}, 3)
    assert calls[:3] == ["engine", "duckdb", "postgis"]                    # warm-up
    assert calls[3:] == ["engine", "duckdb", "postgis", "duckdb", "postgis", "engine",
                         "postgis", "engine", "duckdb"]                    # no tool always first
    assert {k: len(v) for k, v in runs.items()} == {"engine": 3, "duckdb": 3, "postgis": 3}
    # A drifting machine: round 2 is twice as slow for everyone. Within rounds, engine / fastest = 1.5 each time;
    # the medians of the tools taken apart would give 3.0 / 1.0 if the engine met the slow phase more often.
    runs = {"engine": [1.5, 3.0, 3.0], "duckdb": [1.0, 2.0, 1.0], "postgis": [2.0, 4.0, 2.0]}
    runs["engine"][2] = 1.5
    assert compare.round_ratio(runs, ["duckdb"]) == 1.5
    assert compare.round_ratio(runs, ["postgis"]) == 0.75
    assert compare.round_ratio(runs, ["duckdb", "postgis"]) == 1.5


def test_b_in_process_in_rounds_feeds_the_table_and_the_target(bench, duckdb_run):
    workdir, prep, engine = bench
    peers = ["duckdb"] + ([] if compare.peer_available("postgis") else ["postgis"])
    paired = compare.run_paired(workdir, SIZES, 2, peers, region=REGION)
    assert paired["peers"] == peers and paired["rounds"] == 2
    runs = paired["sizes"]["30"]
    assert sorted(runs) == sorted(["engine", *peers])
    assert all(len(x) == 2 and min(x) > 0 for x in runs.values())
    results = {"engine": engine, "duckdb": duckdb_run, "paired": paired}
    text, agree = compare.report(results, prep, SIZES, {}, {})
    assert agree and "2 rounds in one process" in text
    line = next(x for x in text.splitlines() if x.endswith("(within rounds, one process)"))
    assert line.startswith(("PASS  (b)", "FAIL  (b)"))
    ratio = compare.round_ratio(runs, ["duckdb"])
    assert f"worst ratio {ratio:.2f} at 30 councils" in line
    # Without the run in rounds, the target falls back on the tools' own processes, and says so.
    del results["paired"]
    text, _ = compare.report(results, prep, SIZES, {}, {})
    assert "(medians of separate processes)" in text and "rounds in one process" not in text


def test_bench_commands_prints_pass_fail(capsys):
    import bench_commands

    assert bench_commands.main(["--repeat", "1", "--only", "help", "--no-scenarios", "--no-growth"]) == 0
    out = capsys.readouterr().out
    assert "clsm-geo --help" in out
    assert out.count("PASS  clsm-geo --help") + out.count("FAIL  clsm-geo --help") == 1


def test_bench_commands_runs_commands_in_rounds_and_takes_ratios_within_rounds(capsys):
    import bench_commands

    # A drifting machine: the floor's third run and coverage's second met a load twice as heavy.
    m = {"floor": {"runs": [1.0, 1.0, 2.0]}, "coverage": {"runs": [1.4, 2.8, 2.8]}}
    assert bench_commands.ratio(m, "coverage", "floor") == 1.4   # medians would give 2.8 / 1.0
    calls = []
    runs = bench_commands.rounds({k: (lambda k=k: calls.append(k) or len(calls)) for k in "ab"}, 2)
    assert calls == ["a", "b", "a", "b", "a", "b"] and runs == {"a": [3, 5], "b": [4, 6]}  # warm-up, then in turn
    assert bench_commands.main(["--repeat", "1", "--only", "floor,coverage", "--no-scenarios", "--no-growth"]) == 0
    captured = capsys.readouterr()
    assert captured.err.count("round ") == 3 and "warming up coverage" in captured.err
    line = next(x for x in captured.out.splitlines() if "coverage <= 1.5x floor:" in x)
    assert line.startswith(("PASS", "FAIL"))


def test_growth_lines_take_ratios_within_rounds_and_keep_the_uniform_registries_as_information(tmp_path):
    import bench_commands

    # Round 2 met a heavier load on the larger size only: per-round ratios 9, 14, 9 -> median 9 (PASS).
    rows = bench_commands._sizes({10_000: [0.1, 0.1, 0.2], 100_000: [0.9, 1.4, 1.8]})
    assert rows["ratio"] == 9.0 and rows[100_000] == 1.4
    uniform = bench_commands._sizes({10_000: [0.1], 100_000: [1.5]})
    councils = bench_commands._sizes({3_000: [0.1], 30_000: [1.1]})
    lines = bench_commands.targets({}, None, {"councils": councils, "rows": rows, "rows_uniform": uniform})
    assert [x[:5] for x in lines] == ["FAIL ", "PASS ", "INFO "]
    assert "time x11.0 for size x10" in lines[0] and "pool proportional to the size" in lines[1]
    assert "x15.0" in lines[2] and "no target" in lines[2]
    # Where linear work itself grows x12 (caches, memory), x11 is within it; x13 is not.
    slow = bench_commands._sizes({10_000: [0.1], 100_000: [1.1]})
    for reference, verdict in ((12.0, "PASS "), (10.5, "FAIL ")):
        grow = {"rows": slow, "rows_reference": bench_commands._sizes({10_000: [0.01], 100_000: [reference / 100]})}
        line = bench_commands.targets({}, None, grow)[0]
        assert line.startswith(verdict) and f"grows x{reference:.1f} on the same files" in line, line
    files = []
    for n in (100, 1_000):
        path = tmp_path / f"r{n}.csv"
        path.write_text("id,name,status,created,communes\n" + "".join(
            f"C{i},N,actif,2020,75056;{i:05d}\n" for i in range(n)), encoding="utf-8")
        files.append(bench_commands.linear_reference(path))
    assert len(files[1]) == 1_000 and files[1]["C7"] == ("75056", "00007")


def test_gc_pause_compares_both_modes_on_a_small_case(capsys):
    import gc_pause

    from clsm_geo import _gc

    real = _gc.paused
    assert gc_pause.main(["--rows", "300,600", "--councils", "30", "--repeat", "1"]) == 0
    out = capsys.readouterr().out
    assert _gc.paused is real  # the no-op is put back after each call
    assert out.count("paused:") == 3 and out.count("as Python sets it:") == 3
    assert "validate growth 300 -> 600 rows (paused): x" in out


def test_coverage_steps_prints_the_timeline_of_a_run():
    import subprocess
    import sys
    from pathlib import Path

    script = Path(__file__).resolve().parents[1] / "benchmarks" / "coverage_steps.py"
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-800:]
    out = done.stdout
    for step in ("import the library", "coverage()", "perimeters", "engine (_compute)", "files (to_files)",
                 "child: writes the QPV layer's columns", "child: waits for the engine's QPV table",
                 "child: writes the engine's QPV columns", "child: XlsxWriter's close",
                 "clsm_geo.cli.main (exit code 0)"):
        assert step in out, step


def test_inprocess_steps_times_each_step_of_comparison_b(capsys):
    import inprocess_steps

    assert inprocess_steps.main(["--sizes", "30,60", "--repeat", "1"]) == 0
    out = capsys.readouterr().out
    rows = [line.split() for line in out.splitlines() if line.strip().startswith(("30 ", "60 "))]
    assert [row[0] for row in rows] == ["30", "60"]
    assert all(row.count("ms") == 4 and all(float(v) > 0 for v in row[1::2]) for row in rows), out


def test_inprocess_steps_against_another_checkout(tmp_path, capsys):
    """``--against``: the script runs in each checkout in turn (here a second path to this one) and prints
    both medians of every step side by side."""
    import inprocess_steps

    other = tmp_path / "other"
    other.symlink_to(Path(inprocess_steps.__file__).resolve().parents[1], target_is_directory=True)
    assert inprocess_steps.main(["--sizes", "30", "--repeat", "1", "--against", str(other), "--runs", "1"]) == 0
    out = capsys.readouterr().out
    row = next(line.split() for line in out.splitlines() if line.strip().startswith("30 "))
    assert row.count("→") == 4 and row.count("ms") == 4, out
    assert str(other) in out


def test_ab_commands_runs_two_checkouts_in_turn(capsys):
    import ab_commands

    line = ab_commands.argv("report", EXAMPLE_REGISTRY, 2024, Path("o"))
    assert line[-2:] == ["--out", str(Path("o") / "report.html")] and "--offline" in line
    assert ab_commands.main(["--against", str(BENCH.parent), "--command", "help", "--rounds", "2"]) == 0
    out = capsys.readouterr().out
    assert "clsm-geo help, 2 rounds" in out and out.count("median") == 3
    assert "this / other, median of the ratios within a round:" in out
    with pytest.raises(SystemExit):
        ab_commands.main(["--against", str(BENCH)])     # not a checkout: an error naming the folder


def test_workbook_steps_times_both_modes_and_another_checkout(capsys):
    import workbook_steps

    assert workbook_steps.main(["--rounds", "1", "--against", str(Path(__file__).resolve().parents[1])]) == 0
    out = capsys.readouterr().out
    assert re.search(r"default +\d+\.\d{3} s before the small tables, \d+\.\d{3} s after", out)
    assert re.search(r"constant_memory +\d+\.\d{3} s before", out)
    assert re.search(r"this / other within rounds: \d+\.\d{3}", out)
    assert re.search(r"\d+\.\d{3} s  QPV sheet XML", out) and "the rest (zip, small parts)" in out


def test_report_steps_prints_both_processes_and_the_map_steps():
    import subprocess
    import sys

    script = Path(__file__).resolve().parents[1] / "benchmarks" / "report_steps.py"
    done = subprocess.run([sys.executable, str(script), "--rounds", "1"], capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stderr[-800:]
    out = done.stdout
    for step in ("drawing child: draws the map", "main: report()", "main: writes the annex workbook",
                 "clsm_geo.cli.main (exit code 0)", "figure", "PNG, zlib level 7"):
        assert step in out, step
    assert re.search(r"PNG, zlib level 9 +[\d,]+ bytes", out)
    assert re.search(r"\d+\.\d{3} s  nearest_parts\n +\d+\.\d{3} s  STRtree\.query_nearest", out)
    assert "same pairs and distances: yes" in out
