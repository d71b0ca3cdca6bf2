"""CSV dialects: rfc4180 (default, for scripts) and excel-fr (a double-click in French Excel)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from clsm_geo import io, settings
from clsm_geo.cli import main
from clsm_geo.columns import CODE_COLUMNS

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "registry_fictitious.csv"


def _unwrap(value):
    """What Excel shows for a cell ``="01053"``: the text inside."""
    if isinstance(value, str) and value.startswith('="') and value.endswith('"'):
        return value[2:-1].replace('""', '"')
    return value


def _read_excel_fr_by_hand(path) -> pd.DataFrame:
    """The documented pandas call: ``;``, decimal comma, utf-8-sig; codes as text."""
    header = pd.read_csv(path, sep=";", encoding="utf-8-sig", nrows=0)
    codes = {c: str for c in header.columns if c in CODE_COLUMNS}
    frame = pd.read_csv(path, sep=";", decimal=",", encoding="utf-8-sig", dtype=codes)
    for col in codes:
        frame[col] = frame[col].map(_unwrap)
    return frame


def _read_default(path) -> pd.DataFrame:
    header = pd.read_csv(path, nrows=0)
    return pd.read_csv(path, dtype={c: str for c in header.columns if c in CODE_COLUMNS})


@pytest.fixture(scope="module")
def outputs(tmp_path_factory):
    """coverage run twice on the example: default CSVs and excel-fr CSVs."""
    base = tmp_path_factory.mktemp("dialects")
    for name, extra in (("default", []), ("excel", ["--csv-dialect", "excel-fr"])):
        assert main(["--offline", "-q", *extra, "coverage", "--registry", str(EXAMPLE), "--format", "csv",
                     "--out", str(base / name)]) == 0
        settings.reset()
    return base


@pytest.mark.parametrize("table", ["qpv", "councils", "regions", "departments", "reconciliation"])
def test_excel_fr_reads_back_to_the_same_values_as_the_default(outputs, table):
    default = _read_default(outputs / "default" / f"{table}.csv")
    excel = _read_excel_fr_by_hand(outputs / "excel" / f"{table}.csv")
    pd.testing.assert_frame_equal(excel, default)
    pd.testing.assert_frame_equal(io.read_output_csv(outputs / "excel" / f"{table}.csv"), default)
    pd.testing.assert_frame_equal(io.read_output_csv(outputs / "default" / f"{table}.csv"), default)


def test_excel_fr_bytes(outputs):
    raw = (outputs / "excel" / "qpv.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbfcode_qp;lib_qp;insee_dep;")
    lines = raw.split(b"\r\n")
    assert b"\n" not in raw.replace(b"\r\n", b"") and lines[-1] == b""
    first = lines[1].decode("utf-8")
    # department 01 and commune 01053 stay text in Excel; a QPV code needs no help; decimal comma.
    assert first.startswith('QN00101M;Grande Reyssouze Terre Des Fleurs;"=""01""";"=""84""";"=""200071751""";'
                            '"=""01053""";False;True;uncovered;0;;geometry;uncovered;uncovered;0;60,6332;')
    regions = (outputs / "excel" / "regions.csv").read_text(encoding="utf-8-sig")
    assert ",25;" in regions or ",5;" in regions or any(line.count(",") for line in regions.splitlines()[1:])
    assert not any("." in cell for line in regions.splitlines()[1:] for cell in line.split(";")[2:])
    default = (outputs / "default" / "qpv.csv").read_bytes()
    assert not default.startswith(b"\xef\xbb\xbf") and b"\r\n" not in default
    assert default.split(b"\n")[1].startswith(b"QN00101M,Grande Reyssouze Terre Des Fleurs,01,84,200071751,01053,")


def test_lists_of_codes_stay_plain_text(tmp_path):
    frame = pd.DataFrame({"communes": [("01053", "01054"), ("2A004",), ("75118",)], "n": [1.5, 2.0, 0.25]})
    path = io.write_csv(frame, tmp_path / "t.csv", dialect="excel-fr")
    body = path.read_text(encoding="utf-8-sig").splitlines()
    assert body == ["communes;n", '"01053;01054";1,5', "2A004;2", '"=""75118""";0,25']


def test_formula_injection_stays_neutralised_in_both_dialects(tmp_path):
    frame = pd.DataFrame({"name": ["=1+1", "@SUM(A1)"], "value": ["=cmd|' /C calc'!A0", "01053"]})
    for dialect in ("rfc4180", "excel-fr"):
        back = io.read_output_csv(io.write_csv(frame, tmp_path / f"{dialect}.csv", dialect=dialect))
        assert back["name"].tolist() == ["'=1+1", "'@SUM(A1)"]
        assert back["value"].tolist() == ["'=cmd|' /C calc'!A0", "01053"]


CODES = st.text(alphabet="0123456789AQN ;-=\"'", max_size=8)
NUMBERS = st.floats(min_value=-1e5, max_value=1e5, allow_nan=False).map(lambda x: float(f"{x:.6g}"))


@hsettings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(CODES, CODES, NUMBERS, st.booleans(), st.integers(-10**6, 10**6)), min_size=1, max_size=6))
def test_both_dialects_read_back_identically(tmp_path, rows):
    frame = pd.DataFrame(rows, columns=["insee_dep", "communes", "share", "flag", "count"])
    a = io.read_output_csv(io.write_csv(frame, tmp_path / "a.csv", dialect="rfc4180"))
    b = io.read_output_csv(io.write_csv(frame, tmp_path / "b.csv", dialect="excel-fr"))
    pd.testing.assert_frame_equal(a, b)


def test_dialect_follows_the_setting(tmp_path):
    frame = pd.DataFrame({"insee_dep": ["01"], "x": [0.5]})
    settings.configure(csv_dialect="excel-fr")
    assert io.write_csv(frame, tmp_path / "a.csv").read_bytes() == b'\xef\xbb\xbfinsee_dep;x\r\n"=""01""";0,5\r\n'
    settings.configure(csv_dialect="rfc4180")
    assert io.write_csv(frame, tmp_path / "b.csv").read_bytes() == b"insee_dep,x\n01,0.5\n"


def test_unknown_dialect_is_refused_before_any_computation(tmp_path, capsys, monkeypatch):
    import importlib

    def never(*args, **kwargs):
        raise AssertionError("computed despite a bad option")

    monkeypatch.setattr(importlib.import_module("clsm_geo.coverage"), "coverage", never)
    with pytest.raises(SystemExit) as info:
        main(["--csv-dialect", "excel", "coverage", "--registry", str(EXAMPLE), "--out", str(tmp_path / "o")])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert "--csv-dialect" in err and "rfc4180" in err and "excel-fr" in err
    monkeypatch.setenv("CLSM_GEO_CSV_DIALECT", "semicolon")
    settings.reset()
    with pytest.raises(SystemExit) as info:
        main(["coverage", "--registry", str(EXAMPLE), "--out", str(tmp_path / "o")])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert "CLSM_GEO_CSV_DIALECT" in err and "rfc4180, excel-fr" in err
    assert not (tmp_path / "o").exists()
    with pytest.raises(Exception, match="excel-fr"):
        io.write_csv(pd.DataFrame({"a": [1]}), tmp_path / "x.csv", dialect="tsv")
