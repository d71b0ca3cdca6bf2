"""The ``clsm-geo`` program (clsm_geo.cli.entry) and the coverage files written with a second process."""

from __future__ import annotations

import gc
import os
import subprocess
import sys
from pathlib import Path

import pytest

import clsm_geo
from clsm_geo import _worker
from clsm_geo.cli import GC_THRESHOLDS, main

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "examples" / "registry_fictitious.csv"


def _run(argv: list[str]) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
    return subprocess.run([sys.executable, *argv], capture_output=True, text=True, env=env, cwd=REPO, timeout=300)


def _program(*args: str, code: str = "from clsm_geo.cli import entry; entry()") -> subprocess.CompletedProcess:
    return _run(["-c", code, *args])


def test_the_program_exits_with_the_code_of_the_command(tmp_path):
    version = _program("--version")
    assert version.returncode == 0 and version.stdout.startswith("clsm-geo ")
    missing = _program("--lang", "fr", "coverage")
    assert missing.returncode == 2 and "--registry" in missing.stderr and "Traceback" not in missing.stderr
    bad = tmp_path / "bad.csv"
    bad.write_text("id,name,status\nX,Y,peut-être\n", encoding="utf-8")
    refused = _program("--offline", "-q", "validate", "--year", "2024", "--registry", str(bad))
    assert refused.returncode == 2 and "Traceback" not in refused.stderr


def test_the_program_collects_garbage_less_often_and_main_leaves_the_collector_alone(capsys):
    probe = ("import atexit, gc; from clsm_geo.cli import entry; "
             "atexit.register(lambda: print(gc.get_threshold(), gc.get_freeze_count() > 0)); entry()")
    done = _program("--offline", "-q", "validate", "--year", "2024", "--registry", str(EXAMPLE), code=probe)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == f"{GC_THRESHOLDS} True"  # fewer collections; frozen once done
    before = gc.get_threshold()
    assert main(["--offline", "-q", "validate", "--year", "2024", "--registry", str(EXAMPLE)]) == 0
    capsys.readouterr()
    assert gc.get_threshold() == before and gc.get_freeze_count() == 0


def test_the_program_defers_the_numpy_modules_scipy_imports_and_they_still_work(tmp_path):
    probe = ("import atexit, sys; from clsm_geo.cli import entry\n"
             "def show():\n"
             "    lazy = [type(sys.modules[m]).__name__ for m in ('numpy.f2py', 'numpy.testing')]\n"
             "    finders = [type(f).__name__ for f in sys.meta_path\n"
             "               if getattr(getattr(f, 'wrap', None), '__name__', '') == '_lazy']  # the numpy modules'\n"
             "    import numpy.testing\n"
             "    numpy.testing.assert_equal(1, 1)  # executed on first use\n"
             "    print(lazy, '_Finder' in finders, type(sys.modules['numpy.testing']).__name__)\n"
             "atexit.register(show); entry()")
    done = _program("--offline", "-q", "coverage", "--year", "2024", "--registry", str(EXAMPLE),
                    "--out", str(tmp_path / "out"), code=probe)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == "['_LazyModule', '_LazyModule'] False module"
    assert (tmp_path / "out" / "coverage.xlsx").is_file()


def test_python_dash_m_runs_the_program():
    done = _run(["-m", "clsm_geo", "--version"])
    assert done.returncode == 0 and done.stdout.startswith("clsm-geo ")
    assert _run(["-m", "clsm_geo", "--lang", "fr", "coverage"]).returncode == 2


def test_coverage_files_written_with_a_second_process_are_the_same_bytes(tmp_path, monkeypatch):
    """``to_files(parallel=True)`` (what ``clsm-geo coverage`` does) writes the workbook in a child process
    while this one writes the CSV and JSON files: the same files, byte for byte."""
    if not _worker.available():
        pytest.skip("needs Linux with two CPUs (CI has them)")
    jobs = []
    start = _worker.start
    monkeypatch.setattr(_worker, "start", lambda *a, **k: jobs.append(start(*a, **k)) or jobs[-1])
    res = clsm_geo.coverage(EXAMPLE, 2024)
    files = {}
    for parallel in (False, True):
        written = res.to_files(tmp_path / str(parallel), ("csv", "xlsx"), lang="fr", parallel=parallel)
        files[parallel] = {p.name: p.read_bytes() for p in written}
    assert len(jobs) == 1 and jobs[0].in_child
    assert jobs[0]._inbox  # started before the summary and the small tables, which it received
    assert files[True] == files[False]
    assert "coverage.xlsx" in files[True] and "qpv.csv" in files[True]
    assert sorted(p.name for p in (tmp_path / "True").iterdir()) == sorted(files[True])  # nothing else left


def test_a_failed_write_stops_the_workbook_process_and_leaves_the_folder_as_it_was(tmp_path, monkeypatch):
    """A CSV file that cannot be written (full disk) while the child writes the workbook: the child is stopped
    and reaped before the staging folder is removed, and the output folder is left as it was."""
    from clsm_geo import io as clsm_io
    from clsm_geo.errors import OutputError

    if not _worker.available():
        pytest.skip("needs Linux with two CPUs (CI has them)")
    res = clsm_geo.coverage(EXAMPLE, 2024)
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("an earlier file", encoding="utf-8")
    jobs, pids = [], []
    start = _worker.start

    def recorded(*args, **kwargs):
        jobs.append(start(*args, **kwargs))
        pids.append(jobs[-1]._pid)
        return jobs[-1]

    monkeypatch.setattr(_worker, "start", recorded)

    def full_disk(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(clsm_io, "write_csv", full_disk)
    with pytest.raises(OutputError):
        res.to_files(out, ("csv", "xlsx"), parallel=True)
    assert len(jobs) == 1 and pids[0] is not None
    assert jobs[0]._pid is None  # cancelled and reaped, although the job is still referenced here
    with pytest.raises(ProcessLookupError):
        os.kill(pids[0], 0)
    assert sorted(p.name for p in out.iterdir()) == ["keep.txt"]


def test_a_workbook_process_started_before_the_engine_writes_the_same_bytes(tmp_path, monkeypatch):
    """``clsm-geo coverage`` starts the workbook's child before the engine runs (``start_workbook``): it gets the
    QPV table, then the small tables; the files are those written in one process, byte for byte. Handed to a
    run without ``xlsx`` it is stopped; where no child can run, the caller makes the same bytes."""
    from clsm_geo.coverage_files import start_workbook

    if not _worker.available():
        pytest.skip("needs Linux with two CPUs (CI has them)")
    book = start_workbook("fr")
    assert book._pid is not None
    res = clsm_geo.coverage(EXAMPLE, 2024)
    early = {p.name: p.read_bytes() for p in res.to_files(tmp_path / "early", ("csv", "xlsx"), "fr", workbook=book)}
    alone = {p.name: p.read_bytes() for p in res.to_files(tmp_path / "alone", ("csv", "xlsx"), "fr")}
    assert book.in_child and early == alone and "coverage.xlsx" in early
    unused = start_workbook("fr")
    pid = unused._pid
    res.to_files(tmp_path / "csv", ("csv",), "fr", workbook=unused)
    assert unused._pid is None
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    monkeypatch.setenv("CLSM_GEO_WORKERS", "1")
    here = start_workbook("fr")
    assert here._pid is None
    made = {p.name: p.read_bytes() for p in res.to_files(tmp_path / "here", ("csv", "xlsx"), "fr", workbook=here)}
    assert made == alone and not here.in_child


def test_the_workbook_process_stops_when_the_registry_has_errors(tmp_path):
    """The child started before the engine is stopped when the engine refuses the registry: exit code of the
    error, no process left, no output folder."""
    bad = tmp_path / "bad.csv"
    bad.write_text("id,name,status,created,closed,communes,epci\nA,Un,actif,2020,,99999,\n", encoding="utf-8")
    probe = ("import os, sys; from clsm_geo.cli import main\n"
             "code = main(sys.argv[1:])\n"
             "try:\n"
             "    os.waitpid(-1, os.WNOHANG)\n"
             "    print('CHILD LEFT')\n"
             "except ChildProcessError:\n"
             "    print('NO CHILD')\n"
             "sys.exit(code)")
    done = _program("--offline", "-q", "coverage", "--year", "2024", "--registry", str(bad), "--out",
                    str(tmp_path / "out"), code=probe)
    assert done.returncode not in (0, 1), done.stderr
    assert done.stdout.splitlines()[-1] == "NO CHILD" and not (tmp_path / "out").exists()


def test_the_coverage_command_sends_the_qpv_layers_columns_before_the_engine_runs(tmp_path, monkeypatch):
    """clsm-geo coverage: the workbook's child gets the QPV layer's own columns before the engine runs (it
    writes them meanwhile); the files are those of a run in one process, byte for byte."""
    from clsm_geo import api, coverage_files
    from clsm_geo.cli import main

    if not _worker.available():
        pytest.skip("needs Linux with two CPUs (CI has them)")
    events = []
    send, engine = coverage_files.send_layer, api.coverage
    monkeypatch.setattr(coverage_files, "send_layer", lambda job, layer: events.append("layer") or send(job, layer))
    monkeypatch.setattr(api, "coverage", lambda *a, **k: events.append("engine") or engine(*a, **k))
    argv = ["--offline", "-q", "coverage", "--year", "2024", "--registry", str(EXAMPLE)]
    assert main([*argv, "--out", str(tmp_path / "a")]) == 0
    assert events == ["layer", "engine"]
    monkeypatch.setenv("CLSM_GEO_WORKERS", "1")
    assert main([*argv, "--out", str(tmp_path / "b")]) == 0
    for name in ("coverage.xlsx", "qpv.csv", "summary.json"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name
