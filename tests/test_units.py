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
