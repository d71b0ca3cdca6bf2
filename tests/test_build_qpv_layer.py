"""scripts/build_qpv_layer.py: reproducible byte for byte, and refuses to write a layer that fails its checks."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHIPPED = REPO / "data" / "qpv" / "qpv2024.parquet"
LIST = "qpv/qpv2024_anct_list_by_commune/qpv2024_code_commune_DERIVED.csv"


@pytest.fixture(scope="module")
def build_script():
    spec = importlib.util.spec_from_file_location("build_qpv_layer", REPO / "scripts" / "build_qpv_layer.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def inputs(shared: Path) -> list[str]:
    return [
        "--list", str(shared / LIST),
        "--polygons", str(shared / "qpv/qpv2024_national_simplified_mafrance/qpv2024_simplified.geojson"),
        "--patch", str(shared / "qpv/qpv2024_idf_pointofinterest_jondari/qpv-idf.json"),
        "--communes-table", str(shared / "admin/cog2024_tables_cogugaison/table_appartenance_geo_communes_2024.csv"),
    ]


def test_rebuild_reproduces_committed_file(build_script, shared, tmp_path):
    out = tmp_path / "qpv2024.parquet"
    assert build_script.main([*inputs(shared), "--output", str(out)]) == 0
    assert out.read_bytes() == SHIPPED.read_bytes()
    assert SHIPPED.stat().st_size <= 3_000_000


def _corrupt(shared: Path, tmp_path: Path, how: str) -> Path:
    lines = (shared / LIST).read_text(encoding="utf-8").splitlines(keepends=True)
    if how == "drop":  # QN00105I (Bellignat) has a single row
        lines = [ln for ln in lines if not ln.startswith("QN00105I,")]
    elif how == "rename":
        lines = [ln.replace("QN00105I,Pré des Saules", "QN00105I,Pré des Saule") for ln in lines]
    path = tmp_path / f"list_{how}.csv"
    path.write_text("".join(lines), encoding="utf-8")
    return path


@pytest.mark.parametrize("how, message", [("drop", "1361 metropolitan codes"), ("rename", "QN00105I: name")])
def test_corrupted_input_refused(build_script, shared, tmp_path, capsys, how, message):
    args = inputs(shared)
    args[1] = str(_corrupt(shared, tmp_path, how))
    out = tmp_path / "out" / "qpv2024.parquet"
    assert build_script.main([*args, "--output", str(out)]) == 1
    assert not out.exists()
    assert not out.parent.exists() or not any(out.parent.iterdir())  # no temporary file left either
    err = capsys.readouterr().err
    assert "refusing to write" in err and message in err


def test_check_catches_bad_geometry_and_pierrefitte(build_script, shared):
    import shapely

    paths = dict(build_script.DEFAULTS)
    paths.update({"list": shared / LIST})
    gdf, facts = build_script.build(paths)
    official = build_script.official_list(paths["list"])
    assert build_script.check(gdf, official, facts) == []
    bad = gdf.copy()
    i = bad.index[bad["code_qp"] == "QN00101M"][0]
    bad.loc[i, "geometry"] = shapely.from_wkt("MULTIPOLYGON (((0 0, 1 1, 1 0, 0 1, 0 0)))")  # bow-tie
    j = bad.index[bad["code_qp"] == "QN09336I"][0]
    bad.at[j, "communes"] = ("93060",)
    errors = build_script.check(bad, official, facts)
    assert any("QN00101M: geometry" in e for e in errors)
    assert any("QN09336I: communes" in e for e in errors)
