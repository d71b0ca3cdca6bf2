"""Council perimeters are dissolved only when something needs them, and only those needed."""

from __future__ import annotations

from pathlib import Path

import shapely

import clsm_geo

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "registry_fictitious.csv"


def test_coverage_and_gaps_dissolve_no_inactive_council(tmp_path):
    res = clsm_geo.coverage(EXAMPLE, 2024)
    res.to_files(tmp_path / "out", formats=("csv",))
    assert "councils" not in res.__dict__ and "_council_geometries" not in res.__dict__
    res.uncovered()
    assert "_council_geometries" not in res.__dict__  # the nearest council is measured on the perimeters' parts
    res.gaps()
    assert "councils" not in res.__dict__
    dissolved = set(res.__dict__.get("_council_geometries", ()))  # crossing councils, when gaps needs them
    table = res.councils_table
    active = set(table.loc[table["active"], "id"])
    assert dissolved <= active
    assert set(table["id"]) - active            # the example has inactive councils, none dissolved


def test_council_geometries_equal_the_full_councils_layer():
    res = clsm_geo.coverage(EXAMPLE, 2024)
    ids = res.councils_table["id"].tolist()[:6]
    some = res.council_geometries(ids)
    full = dict(zip(res.councils["id"], res.councils.geometry))
    for i in ids:
        assert (some[i] is None and full[i] is None) or shapely.equals_exact(some[i], full[i], 0)
    assert res.council_geometries(ids) == {i: full[i] for i in ids}


def test_a_coverage_run_decodes_only_the_outlines_it_uses(tmp_path, monkeypatch):
    """Units, commune, EPCI, department and region names, and former-commune outlines are read without decoding
    outlines the tables never use: no boundary layer decoded whole, no unit table with geometry, no
    former-commune outline but those of the registry's former communes and of the units holding them."""
    import functools
    import importlib

    geo = importlib.import_module("clsm_geo.geography")
    # a geography of its own for this test: nothing loaded by other tests
    monkeypatch.setattr(geo, "_geography", functools.lru_cache(maxsize=None)(geo._geography.__wrapped__))
    fresh = geo.geography(2024)
    res = clsm_geo.coverage(EXAMPLE, 2024)
    res.to_files(tmp_path / "out", formats=("csv", "xlsx"))
    assert res.vintage.geography is fresh
    loaded = {k for k in fresh._cache if not k.startswith("_")}
    assert loaded <= {"former_communes"}, loaded  # a table without outlines
    # the units holding former communes: their outlines only, from the shipped table of the communes holding one
    # (data/prebuilt/parents_cog2024.npz), not from the communes layer
    assert "_parent_wkb" in fresh._cache and "_wkb_communes" not in fresh._cache
    assert "units" not in res.vintage.__dict__
    pieces = fresh._cache["_former_pieces"]
    assert {code for code, _ in pieces} == set(res.perimeters.former["code"]) and len(pieces) >= 4
