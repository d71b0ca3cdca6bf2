"""Outputs: never over an input, all or nothing, OS errors as sentences, texts cleaned for each format.

See docs/reliability.md. Checks that refuse a path run before any computation, so most tests here are fast.
"""

from __future__ import annotations

import errno
import os
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as hst

from clsm_geo import io as cio
from clsm_geo.cli import main
from clsm_geo.errors import OutputError
from clsm_geo.report import report_paths

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "examples" / "registry_fictitious.csv"
SMALL = "id,name,status,created,communes\nA1,CLSM Toulouse,actif,2015,31555\n"


def _tree(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


# ----------------------------------------------------------------------------- outputs never overwrite inputs


def test_coverage_out_folder_holding_the_registry_is_refused(tmp_path, capsys):
    """Issue 22 #1: `coverage --registry d/councils.csv --out d` replaced the registry, exit 0."""
    d = tmp_path / "d"
    d.mkdir()
    shutil.copy(EXAMPLE, d / "councils.csv")
    before = _tree(d)
    assert main(["--offline", "coverage", "--registry", str(d / "councils.csv"), "--out", str(d)]) == 2
    err = capsys.readouterr().err
    assert "councils.csv" in err and "internal error" not in err
    assert _tree(d) == before          # registry intact, nothing else written


def test_report_out_equal_to_registry_is_refused(tmp_path, capsys):
    """Issue 22 #1: `report --registry r.csv --out r.csv` turned the registry into HTML."""
    reg = tmp_path / "r.csv"
    shutil.copy(EXAMPLE, reg)
    assert main(["--lang", "en", "report", "--registry", str(reg), "--out", str(reg)]) == 2
    assert "would overwrite an input" in capsys.readouterr().err
    assert reg.read_bytes() == EXAMPLE.read_bytes()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.csv"]


@pytest.mark.parametrize("argv,name", [
    (["coverage", "--format", "csv,xlsx"], "coverage.xlsx"),
    (["uncovered"], "uncovered.csv"),
    (["gaps"], "gaps.geojson"),
    (["plan"], "priorities.csv"),
    (["trend"], "trend_regions.csv"),
])
def test_every_folder_command_refuses_to_write_over_its_registry(tmp_path, capsys, argv, name):
    reg = tmp_path / name
    reg.write_text(SMALL, encoding="utf-8")
    assert main(["--offline", *argv, "--registry", str(reg), "--out", str(tmp_path)]) == 2
    assert "internal error" not in capsys.readouterr().err
    assert reg.read_text(encoding="utf-8") == SMALL
    assert [p.name for p in tmp_path.iterdir()] == [name]


@pytest.mark.parametrize("argv,suffix", [
    (["map", "choropleth"], ".png"), (["map", "councils"], ".svg"), (["map", "interactive"], ".html"),
    (["report"], ".html"),
])
def test_every_file_command_refuses_to_write_over_its_inputs(tmp_path, argv, suffix):
    reg = tmp_path / "reg.csv"
    reg.write_text(SMALL, encoding="utf-8")
    qpv = tmp_path / f"qpv{suffix}"                # the QPV file given is an input too
    qpv.write_bytes(b"x")
    assert main(["--offline", *argv, "--registry", str(reg), "--qpv", str(qpv), "--out", str(qpv)]) == 2
    assert main(["--offline", *argv, "--registry", str(reg), "--out", str(reg)]) == 2
    assert qpv.read_bytes() == b"x" and reg.read_text(encoding="utf-8") == SMALL


def test_hard_link_to_the_registry_is_the_same_file(tmp_path):
    reg = tmp_path / "reg.csv"
    reg.write_text(SMALL, encoding="utf-8")
    (tmp_path / "o").mkdir()
    os.link(reg, tmp_path / "o" / "summary.json")
    with pytest.raises(OutputError):
        cio.check_outputs([tmp_path / "o" / "summary.json"], [reg])


def test_output_inside_an_input_folder_is_refused(tmp_path):
    (tmp_path / "qpv").mkdir()
    with pytest.raises(OutputError):
        cio.check_outputs([tmp_path / "qpv" / "gaps.csv"], [tmp_path / "qpv"], folders=[tmp_path / "qpv"])
    cio.check_outputs([tmp_path / "out" / "gaps.csv"], [tmp_path / "qpv", None, "https://x/y.zip"])


def test_wrong_kinds_of_output_paths_are_refused_before_any_work(tmp_path, capsys):
    reg = tmp_path / "reg.csv"
    reg.write_text(SMALL, encoding="utf-8")
    a_file = tmp_path / "file.txt"
    a_file.write_text("keep", encoding="utf-8")
    (tmp_path / "folder").mkdir()
    cases = [
        ["coverage", "--out", str(a_file)],                       # a file where a folder is expected
        ["gaps", "--out", str(a_file / "sub")],                   # --out under a file
        ["report", "--out", str(tmp_path / "folder")],            # a folder where a file is expected
        ["map", "qpv", "--out", str(tmp_path / "folder")],
        ["report", "--out", str(a_file / "r.html")],
    ]
    for argv in cases:
        code = main(["--offline", "--lang", "en", *argv[:-2], "--registry", str(reg), *argv[-2:]])
        err = capsys.readouterr().err
        assert code == 2, (argv, err)
        assert "internal error" not in err and ("file" in err or "folder" in err), err
    assert a_file.read_text(encoding="utf-8") == "keep" and not any((tmp_path / "folder").iterdir())


def test_report_out_md_gives_two_different_files(tmp_path):
    """Issue 22 #6: `report --out x.md` wrote the HTML, then overwrote it with the Markdown."""
    assert report_paths(tmp_path / "x.md") == (tmp_path / "x.html", tmp_path / "x.md")
    assert report_paths(tmp_path / "x.html") == (tmp_path / "x.html", tmp_path / "x.md")
    assert report_paths(tmp_path / "x") == (tmp_path / "x", tmp_path / "x.md")
    registry = tmp_path / "r.csv"
    registry.write_text("id,name,status,created,communes\nA,CLSM,actif,2015,93008\n", encoding="utf-8")
    assert main(["--offline", "-q", "report", "--registry", str(registry), "--from", "2024",
                 "--out", str(tmp_path / "x.md")]) == 0
    page, md = tmp_path / "x.html", tmp_path / "x.md"
    assert page.read_text(encoding="utf-8").startswith("<!DOCTYPE html>") and md.read_text().startswith("# ")
    assert not [p.name for p in tmp_path.iterdir() if p.name.startswith(".")]  # no staging folder left


def test_collision_between_two_outputs_is_refused(tmp_path):
    with pytest.raises(OutputError):
        cio.check_outputs([tmp_path / "a.csv", tmp_path / "." / "a.csv"])


# ------------------------------------------------------------------------------------------- all or nothing


def test_output_set_moves_everything_in_at_the_end(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("user file")
    (out / "a.csv").write_text("old a")
    with cio.output_set(out) as stage:
        cio.write_csv(pd.DataFrame({"x": [1]}), stage / "a.csv")
        cio.write_json({"k": 1}, stage / "b.json")
        assert not (out / "b.json").exists()           # nothing visible before the end
    assert (out / "a.csv").read_text() == "x\n1\n" and (out / "keep.txt").read_text() == "user file"
    assert sorted(p.name for p in out.iterdir()) == ["a.csv", "b.json", "keep.txt"]


@pytest.mark.parametrize("exc", [RuntimeError("boom"), KeyboardInterrupt()])
def test_output_set_failure_leaves_previous_outputs_and_no_temporary(tmp_path, exc):
    out = tmp_path / "out"
    out.mkdir()
    (out / "a.csv").write_text("old a")
    (out / "b.json").write_text("old b")
    before = _tree(out)
    with pytest.raises(type(exc)):
        with cio.output_set(out) as stage:
            cio.write_csv(pd.DataFrame({"x": [1]}), stage / "a.csv")
            raise exc
    assert _tree(out) == before
    assert sorted(p.name for p in out.iterdir()) == ["a.csv", "b.json"]   # no hidden staging left


def test_output_set_failure_removes_a_folder_it_created(tmp_path):
    with pytest.raises(RuntimeError):
        with cio.output_set(tmp_path / "new") as stage:
            (stage / "x.txt").write_text("x")
            raise RuntimeError
    assert not (tmp_path / "new").exists()


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_leftovers_of_a_killed_run_are_removed_by_the_next(tmp_path):
    """SIGKILL leaves at most the hidden staging folder and temporary files; the next run removes them."""
    out = tmp_path / "out"
    out.mkdir()
    pid = _dead_pid()
    stale_stage = out / f".clsm-out.{pid}.abcd1234.tmp"
    stale_stage.mkdir()
    (stale_stage / "qpv.csv").write_text("half")
    stale_tmp = out / f".summary.json.{pid}.abcd1234.tmp"
    stale_tmp.write_text("half")
    live = out / f".clsm-out.{os.getpid()}.zzzz9999.tmp"        # a running writer's folder is left alone
    live.mkdir()
    assert cio.leftovers(out) == sorted([stale_stage, stale_tmp])
    cio.write_json({"a": 1}, out / "summary.json")
    assert sorted(p.name for p in out.iterdir()) == sorted([live.name, "summary.json"])


def test_coverage_failing_mid_way_keeps_the_previous_outputs(tmp_path, monkeypatch, capsys):
    """Issue 22 #5: on a full disk coverage left 5 of 8 files; now the folder is as it was, exit 2."""
    reg = tmp_path / "reg.csv"
    reg.write_text(SMALL, encoding="utf-8")
    out = tmp_path / "out"
    assert main(["-q", "--offline", "coverage", "--registry", str(reg), "--out", str(out),
                 "--format", "csv,geojson"]) == 0
    before = _tree(out)
    reg.write_text(SMALL.replace("31555", "33063"), encoding="utf-8")

    def full_disk(frame, path, **kw):
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    monkeypatch.setattr(cio, "write_geojson", full_disk)
    code = main(["--lang", "en", "-q", "--offline", "coverage", "--registry", str(reg), "--out", str(out),
                 "--format", "csv,geojson"])
    err = capsys.readouterr().err
    assert code == 2 and "disk is full" in err and "internal error" not in err
    assert str(out / "qpv.geojson") in err          # the user's path, not the hidden staging folder
    assert _tree(out) == before
    assert not [p for p in out.iterdir() if p.name.startswith(".")]


# --------------------------------------------------------------------------------------- OS errors as sentences


@pytest.mark.parametrize("err_no,words", [
    (errno.EACCES, "permission denied"), (errno.EROFS, "read-only"), (errno.ENOSPC, "disk is full"),
    (errno.ENOTDIR, "not a folder"), (errno.EISDIR, "is a folder"), (errno.EEXIST, "already exists"),
])
def test_os_errors_while_writing_are_sentences_with_exit_2(tmp_path, monkeypatch, capsys, err_no, words):
    reg = tmp_path / "reg.csv"
    reg.write_text(SMALL, encoding="utf-8")
    real_replace = os.replace

    def failing(src, dst, *a, **kw):
        if str(dst).endswith(".csv") and "priorities" in str(dst):
            raise OSError(err_no, os.strerror(err_no), str(dst))
        return real_replace(src, dst, *a, **kw)

    monkeypatch.setattr(os, "replace", failing)
    out = tmp_path / "plan"
    code = main(["--lang", "en", "-q", "--offline", "plan", "--steps", "1", "--registry", str(reg),
                 "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 2, err
    assert words in err and "priorities.csv" in err and "internal error" not in err and "hint:" in err
    assert not out.exists() or not [p for p in out.rglob("*") if p.is_file()]


def test_validate_out_onto_a_folder(tmp_path, capsys):
    reg = tmp_path / "reg.csv"
    reg.write_text(SMALL, encoding="utf-8")
    (tmp_path / "o").mkdir()
    assert main(["validate", str(reg), "--out", str(tmp_path / "o")]) == 2
    assert main(["validate", str(reg), "--out", str(reg)]) == 2
    assert reg.read_text(encoding="utf-8") == SMALL
    assert "internal error" not in capsys.readouterr().err


# ------------------------------------------------------------------------------------ texts cleaned per format


def test_clean_for_xlsx_removes_control_characters_and_cuts_with_a_marker():
    assert cio.clean_for_xlsx("CLSM \x01 Toulouse\x0b") == "CLSM  Toulouse"
    assert cio.clean_for_xlsx(12) == 12
    with pytest.warns(cio.OutputWarning, match="councils, name"):
        cut = cio.clean_for_xlsx("a" * 40_000, "councils, name, row 2")
    assert len(cut) == cio.XLSX_MAX_CELL and cut.endswith("[…coupé]")


def test_escape_markdown_leaves_no_markup():
    text = cio.escape_markdown('<script>x</script> <img src=x onerror=alert(1)> [a](javascript:alert(1)) '
                               '![i](http://evil/x.png) *b* _c_ `d` a|b\nnew line')
    assert "<" not in text.replace("\\<", "") and ">" not in text.replace("\\>", "")
    for mark in "[]()!*_`|":
        assert mark not in text.replace("\\" + mark, "")
    assert "javascript:" not in text and "\n" not in text
    assert cio.escape_markdown("Saint-Étienne 12.5 %") == "Saint-Étienne 12.5 %"


def test_control_character_in_a_name_no_longer_breaks_the_workbook(tmp_path, capsys):
    """Issue 22 #3: exact reproduction gave 'internal error: IllegalCharacterError', six CSVs, no workbook."""
    reg = tmp_path / "c.csv"
    reg.write_bytes(b"id,name,status,created,communes\nA1,CLSM \x01 Toulouse,actif,2015,31555\n")
    out = tmp_path / "o"
    assert main(["--offline", "-q", "--lang", "en", "coverage", "--registry", str(reg), "--out", str(out),
                 "--format", "csv,xlsx,geojson"]) == 0
    from clsm_geo import columns
    from clsm_geo.workbook import sheet_name

    sheet = pd.read_excel(out / "coverage.xlsx", sheet_name=sheet_name("councils", "en"), dtype=str)
    assert sheet[columns.label("name", "en")].tolist() == ["CLSM  Toulouse"]
    assert "\\u0001" not in (out / "councils.geojson").read_text(encoding="utf-8")
    assert main(["--lang", "en", "validate", str(reg)]) == 0
    report = capsys.readouterr().out
    assert "row 2" in report and "'name'" in report and "U+0001" in report


def test_long_cells_are_cut_visibly_in_workbooks(tmp_path):
    frame = pd.DataFrame({"name": ["x" * 40_000, "ok"]})
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        cio.write_xlsx({"councils": frame}, tmp_path / "w.xlsx")
    assert any("row 2" in str(w.message) for w in caught)
    back = pd.read_excel(tmp_path / "w.xlsx", dtype=str)
    assert back["name"][0].endswith("[…coupé]") and len(back["name"][0]) == cio.XLSX_MAX_CELL


_KILLED_WRITER = """
import os, signal, sys
from pathlib import Path
from clsm_geo import io
out = Path(sys.argv[1])
with io.output_set(out) as stage:
    io.write_json({"new": 1}, stage / "summary.json")
    (stage / "qpv.csv").write_text("new")
    os.kill(os.getpid(), getattr(signal, sys.argv[2]))
"""


@pytest.mark.parametrize("sig", ["SIGKILL", "SIGTERM"])
def test_killed_writer_leaves_previous_outputs_and_at_most_a_hidden_folder(tmp_path, sig):
    """SIGKILL: the old files stay, only the hidden staging folder remains (removed by the next run).
    SIGTERM (with the CLI's handler): the old files stay and nothing remains."""
    out = tmp_path / "out"
    out.mkdir()
    (out / "summary.json").write_text("old")
    (out / "qpv.csv").write_text("old")
    script = tmp_path / "w.py"
    handler = "from clsm_geo.cli import _terminated; import signal; signal.signal(signal.SIGTERM, _terminated)\n"
    script.write_text((handler if sig == "SIGTERM" else "") + _KILLED_WRITER)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.run([sys.executable, str(script), str(out), sig], env=env, capture_output=True, text=True)
    assert proc.returncode != 0 and "Error" not in proc.stderr, proc.stderr
    assert (out / "summary.json").read_text() == "old" and (out / "qpv.csv").read_text() == "old"
    hidden = [p.name for p in out.iterdir() if p.name.startswith(".")]
    assert len(hidden) == (1 if sig == "SIGKILL" else 0), hidden
    with cio.output_set(out) as stage:
        (stage / "qpv.csv").write_text("next")
    assert sorted(p.name for p in out.iterdir()) == ["qpv.csv", "summary.json"]


def test_workbook_illegal_characters_are_openpyxl_s():
    """The workbook cleaner removes exactly the characters openpyxl refuses (it no longer imports openpyxl)."""
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    every = "".join(map(chr, range(0x300)))
    assert cio.clean_for_xlsx(every) == ILLEGAL_CHARACTERS_RE.sub("", every)


def _csv_text_reference(frame: pd.DataFrame) -> pd.DataFrame:
    """What write_csv wrote before it skipped the columns with nothing to change: every cell looked at."""
    lists = (list, tuple, set, frozenset)
    out = pd.DataFrame(frame.drop(columns=[c for c in ("geometry",) if c in frame.columns]))
    for col in out.columns:
        if out[col].map(lambda v: isinstance(v, lists)).any():
            out[col] = out[col].map(lambda v: ";".join(sorted(map(str, v)) if isinstance(v, (set, frozenset))
                                                       else map(str, v)) if isinstance(v, lists) else v)
    for col in out.columns:
        if out[col].dtype == object or pd.api.types.is_string_dtype(out[col]):
            out[col] = out[col].map(cio.neutralise_formula)
    return out


_TEXTS = hst.sampled_from(["", "Lille", "=SUM(A1)", "+33", "-12.5", "-x", "@home", "01053", "a;b", "é"])


@hsettings(max_examples=60, deadline=None)
@given(rows=hst.lists(hst.tuples(_TEXTS, hst.one_of(hst.none(), _TEXTS, hst.tuples(_TEXTS, _TEXTS),
                                                     hst.frozensets(_TEXTS, max_size=3)),
                                 hst.one_of(hst.none(), hst.floats(-1e6, 1e6, allow_nan=False)), hst.integers(-5, 5)),
                       min_size=1, max_size=12),
       dialect=hst.sampled_from(["rfc4180", "excel-fr"]))
def test_csv_files_are_the_ones_every_cell_looked_at_gives(rows, dialect, tmp_path_factory):
    frame = pd.DataFrame({"name": pd.array([r[0] for r in rows], dtype="str"), "communes": [r[1] for r in rows],
                          "share": [r[2] for r in rows], "n": [r[3] for r in rows]})
    folder = tmp_path_factory.mktemp("csv")
    got = cio.write_csv(frame, folder / "a.csv", dialect=dialect).read_bytes()
    reference = _csv_text_reference(frame)
    options = {"lineterminator": "\n", "encoding": "utf-8"}
    if dialect == "excel-fr":
        for col in ("communes",):
            reference[col] = reference[col].map(cio._excel_text)
        options = {"sep": ";", "decimal": ",", "lineterminator": "\r\n", "encoding": "utf-8-sig"}
    reference.to_csv(folder / "b.csv", index=False, float_format="%.6g", **options)
    assert got == (folder / "b.csv").read_bytes()
