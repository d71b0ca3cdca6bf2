"""The unit arrays of a COG year against their definitions, unit by unit and EPCI by EPCI."""

from __future__ import annotations

import numpy as np
import pytest

from clsm_geo import settings
from clsm_geo.geography import geography
from clsm_geo.units import unit_arrays, units, units_of_commune


@pytest.mark.parametrize("year", [2024, 2025])
def test_unit_arrays_follow_their_definitions(year):
    a = unit_arrays(year)
    table = units(year)
    codes = table["unit"].tolist()
    assert a["unit"].tolist() == codes == sorted(codes)
    assert a["position"] == {code: i for i, code in enumerate(codes)}
    assert a["lookup"].get_indexer(codes).tolist() == list(range(len(codes)))
    for key, col, labels in (("to_commune", "insee_com", "communes"), ("to_dep", "insee_dep", "deps"),
                             ("to_reg", "insee_reg", "regs"), ("to_epci", "siren_epci", "epcis")):
        matrix, names = a[key].tocsr(), a[labels]
        assert names.tolist() == sorted(set(table[col].dropna()))
        for i, value in enumerate(table[col].tolist()):  # each unit in exactly its own label, or none
            row = matrix.indices[matrix.indptr[i]:matrix.indptr[i + 1]].tolist()
            assert [names[j] for j in row] == ([] if value is None or value != value else [value])
    epci = geography(year).epci
    matrix = a["epci_units"]["matrix"].tocsr()
    assert a["epci_units"]["position"] == {s: i for i, s in enumerate(epci["siren_epci"])}
    assert a["epci_units"]["lookup"].get_indexer(epci["siren_epci"].tolist()).tolist() == list(range(len(epci)))
    position = a["position"]
    for j, members in enumerate(epci["members"]):
        expected = {position[u] for m in members for u in units_of_commune(m, year) if u in position}
        got = matrix.indices[matrix.indptr[j]:matrix.indptr[j + 1]]
        assert sorted(got.tolist()) == sorted(expected), epci["siren_epci"].iloc[j]
        assert np.all(matrix.data[matrix.indptr[j]:matrix.indptr[j + 1]] == 1.0)
    paris = epci[[("75056" in m) for m in epci["members"]]]
    assert len(paris) == 1  # Paris's EPCI holds its 20 arrondissements, not the whole-city code
    row = a["epci_units"]["position"][paris["siren_epci"].iloc[0]]
    held = {a["unit"][k] for k in matrix.indices[matrix.indptr[row]:matrix.indptr[row + 1]]}
    assert {f"751{n:02d}" for n in range(1, 21)} <= held and not held & set(settings.PLM_CITIES)


def _same_arrays(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for key in a:
        x, y = a[key], b[key]
        if hasattr(x, "tocsr"):
            assert x.shape == y.shape and x.dtype == y.dtype and (x != y).nnz == 0, key
        elif isinstance(x, dict) and "matrix" in x:
            assert x["position"] == y["position"], key
            assert x["matrix"].shape == y["matrix"].shape and (x["matrix"] != y["matrix"]).nnz == 0, key
        elif isinstance(x, dict):
            assert x == y, key
        else:
            assert x.dtype == y.dtype and x.tolist() == y.tolist(), key


@pytest.mark.parametrize("year", [2024, 2025])
def test_shipped_unit_arrays_equal_a_fresh_computation_and_rebuild_byte_for_byte(year, tmp_path):
    from clsm_geo import _prebuilt
    from clsm_geo.units import compute_unit_arrays

    digest = _prebuilt.units_digest(year)
    shipped = _prebuilt._shipped("units", digest)
    assert shipped is not None, "data/prebuilt has no unit arrays for this COG: run scripts/build_prebuilt.py"
    fresh = compute_unit_arrays(year)
    _same_arrays(_prebuilt.decode_unit_arrays(shipped), fresh)
    _same_arrays(unit_arrays(year), fresh)
    path = tmp_path / "rebuilt.npz"
    _prebuilt.write_npz(path, {**_prebuilt.encode_unit_arrays(fresh, year), "digest": np.array(digest)})
    assert path.read_bytes() == (_prebuilt.shipped_dir() / f"units_cog{year}.npz").read_bytes()


def test_unit_outlines_are_the_units_outlines():
    from clsm_geo.units import unit_outlines

    table = units(2024)
    position = unit_arrays(2024)["position"]
    wanted = [position[c] for c in ("01001", "13201", "13216", "69381", "75101", "75120", "97411", "2A004")]
    got = unit_outlines(2024, wanted + wanted[:2])
    assert sorted(got) == sorted(wanted)
    for p in wanted:
        assert got[p].equals(table.geometry.iloc[p]), table["unit"].iloc[p]
