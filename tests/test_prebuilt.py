"""Tables built once and reused (clsm_geo._prebuilt): the shipped ones equal a fresh computation, and a
user's QPV file gets its own cached relation, invalidated when the file changes."""

from __future__ import annotations

import io

import numpy as np
import pytest

import clsm_geo
from clsm_geo import _prebuilt, settings
from clsm_geo.apportion import qpv_unit_relation
from clsm_geo.coverage import relation_for
from clsm_geo.gaps import compute_unit_adjacency, unit_adjacency
from clsm_geo.qpv import load_layer_file
from clsm_geo.units import units

PACA = "qpv/qpv2024_paca_cartosante_skhtay/qpv-paca.geojson"


def _shipped_layer_frame():
    return load_layer_file(settings.shipped_data_dir() / "qpv" / "qpv2024.parquet")


def _same_relation(a, b) -> None:
    assert np.array_equal(np.asarray(a.qpv_codes, dtype=str), np.asarray(b.qpv_codes, dtype=str))
    assert np.array_equal(a.has_polygon, b.has_polygon)
    assert abs(a.weights - b.weights).max() == 0 if a.weights.nnz or b.weights.nnz else True
    assert (a.pair_units != b.pair_units).nnz == 0
    assert np.array_equal(a.pair_qpv, b.pair_qpv) and np.array_equal(a.pair_commune, b.pair_commune)
    assert np.array_equal(a.pair_size, b.pair_size)
    assert a.unresolved == b.unresolved


def test_shipped_relation_equals_fresh_computation_byte_for_byte():
    frame = _shipped_layer_frame()
    digest = _prebuilt.relation_digest(frame, 2024)
    shipped = _prebuilt._shipped("relation", digest)
    assert shipped is not None, "data/prebuilt has no relation for the shipped QPV layer: run scripts/build_prebuilt.py"
    fresh = qpv_unit_relation(frame, 2024)
    _same_relation(_prebuilt.decode_relation(shipped, frame), fresh)
    # Rebuilt byte for byte: the same arrays written again give the shipped file's bytes.
    out = io.BytesIO()
    path = settings.get().cache_dir / "rebuilt.npz"
    _prebuilt.write_npz(path, {**_prebuilt.encode_relation(fresh), "digest": np.array(digest)})
    out.write(path.read_bytes())
    assert out.getvalue() == (_prebuilt.shipped_dir() / "relation_qpv2024_cog2024.npz").read_bytes()


def test_shipped_adjacency_equals_fresh_computation_on_a_region():
    shipped = _prebuilt._shipped("adjacency", _prebuilt.adjacency_digest(2024))
    assert shipped is not None
    adj = _prebuilt.decode_adjacency(shipped)
    only = np.flatnonzero(units(2024)["insee_dep"].isin(["13", "84"]).to_numpy())
    fresh = compute_unit_adjacency(2024, only=only)
    sub_shipped = adj.shared[only][:, only]
    sub_fresh = fresh.shared[only][:, only]
    assert sub_fresh.nnz > 500
    assert (sub_shipped != sub_fresh).nnz == 0
    # The session's adjacency is the shipped one (no recomputation) and is symmetric.
    live = unit_adjacency(2024)
    assert (live.shared != adj.shared).nnz == 0 and (live.shared != live.shared.T).nnz == 0


def test_shipped_tables_are_not_used_when_their_inputs_differ(monkeypatch):
    """A changed boundary layer (another digest) means: recompute silently, then cache."""
    frame = _shipped_layer_frame()
    real = _prebuilt._boundary_digest
    monkeypatch.setattr(_prebuilt, "_boundary_digest", lambda year, names: real(year, names) + "-changed")
    calls = []

    def build():
        calls.append(1)
        return qpv_unit_relation(frame, 2024)

    digest = _prebuilt.relation_digest(frame, 2024)
    assert _prebuilt._shipped("relation", digest) is None
    rel = _prebuilt.relation(frame, 2024, build)
    assert calls == [1] and _prebuilt._cache_path("relation", digest).is_file()
    again = _prebuilt.relation(frame, 2024, build)
    assert calls == [1]                                   # read back from the user cache
    _same_relation(rel, again)


def test_user_qpv_file_relation_is_cached_and_invalidated_when_the_file_changes(shared, tmp_path):
    import geopandas as gpd

    src = gpd.read_file(shared / PACA)
    path = tmp_path / "qpv.geojson"
    src.to_file(path)
    layer = clsm_geo.qpv(2024, path)
    rel = relation_for(layer, 2024)
    folder = settings.get().cache_dir / "prebuilt"
    first = sorted(folder.glob("relation-*.npz"))
    assert len(first) == 1
    # A new session (new frame object) reads the cached table: same relation.
    _same_relation(relation_for(clsm_geo.qpv(2024, path), 2024), rel)
    assert sorted(folder.glob("relation-*.npz")) == first
    # The file changes (one QPV fewer): another key, a fresh relation, never the stale one.
    src.iloc[1:].to_file(path)
    changed = clsm_geo.qpv(2024, path)
    rel2 = relation_for(changed, 2024)
    assert len(rel2.qpv_codes) == len(rel.qpv_codes) - 1
    _same_relation(rel2, qpv_unit_relation(changed.frame, 2024))
    assert len(sorted(folder.glob("relation-*.npz"))) == 2


def test_a_damaged_cache_file_is_recomputed(shared, tmp_path):
    frame = _shipped_layer_frame().iloc[:40].reset_index(drop=True)
    digest = _prebuilt.relation_digest(frame, 2024)
    path = _prebuilt._cache_path("relation", digest)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"not a zip")
    rel = _prebuilt.relation(frame, 2024, lambda: qpv_unit_relation(frame, 2024))
    _same_relation(rel, qpv_unit_relation(frame, 2024))
    assert _prebuilt.read_npz(path) is not None


@pytest.mark.parametrize("year", [2024, 2025])
def test_shipped_parent_outlines_equal_the_communes_layer_byte_for_byte(year):
    from clsm_geo.geography import Geography

    digest = _prebuilt.parents_digest(year)
    shipped = _prebuilt._shipped("parents", digest)
    assert shipped is not None, "data/prebuilt has no parent outlines: run scripts/build_prebuilt.py"
    fresh = Geography(year, year)._read_parent_wkb()
    assert _prebuilt.decode_outlines(shipped) == fresh and len(fresh) > 2_000
    # every commune holding a former commune, and only those
    full = Geography(year, year)
    assert set(fresh) == set(full.former_outlines["insee_com"]) & set(full.communes["insee_com"])
    path = settings.get().cache_dir / f"parents{year}.npz"
    _prebuilt.write_npz(path, {**_prebuilt.encode_outlines(fresh, year), "digest": np.array(digest)})
    assert path.read_bytes() == (_prebuilt.shipped_dir() / f"parents_cog{year}.npz").read_bytes()


def test_outlines_of_communes_holding_a_former_commune_are_those_of_the_layer():
    import shapely

    from clsm_geo.geography import Geography

    layer = Geography(2024, 2024).communes.set_index("insee_com").geometry
    lean = Geography(2024, 2024)
    parents = ["91228", "50129", "74010", "08053", "69286"]
    got = lean.outlines("communes", parents)
    assert "_parent_wkb" in lean._cache and "_wkb_communes" not in lean._cache   # the communes layer not read
    assert list(got) == parents and all(shapely.equals_exact(got[c], layer[c], 0) for c in parents)
    # A commune holding none (01001) is read from the layer, with the others: the same outlines either way.
    mixed = lean.outlines("communes", ["01001", "91228", "99999"])
    assert "_wkb_communes" in lean._cache and sorted(mixed) == ["01001", "91228"]
    assert all(shapely.equals_exact(mixed[c], layer[c], 0) for c in mixed)


def test_a_damaged_parent_outlines_table_is_rebuilt(monkeypatch):
    from clsm_geo.geography import Geography

    with pytest.raises(ValueError):
        _prebuilt.decode_outlines({"code": np.array(["01001", "01002"]), "offset": np.array([0, 3]),
                                   "wkb": np.zeros(3, np.uint8)})
    real = _prebuilt._boundary_digest
    monkeypatch.setattr(_prebuilt, "_boundary_digest", lambda year, names: real(year, names) + "-changed")
    assert _prebuilt._shipped("parents", _prebuilt.parents_digest(2024)) is None
    rebuilt = Geography(2024, 2024)._parent_wkb()    # inputs changed: read from the layers, then cached
    assert rebuilt == Geography(2024, 2024)._read_parent_wkb()
    assert _prebuilt._cache_path("parents", _prebuilt.parents_digest(2024)).is_file()


@pytest.mark.parametrize("year", [2024, 2025])
def test_manifest_lists_every_shipped_table_with_its_checksum(year):
    import hashlib
    import json

    manifest = json.loads((_prebuilt.shipped_dir() / _prebuilt.MANIFEST).read_text())
    for name in (f"adjacency_cog{year}.npz", f"relation_qpv2024_cog{year}.npz", f"parents_cog{year}.npz",
                 f"former_qpv2024_cog{year}.npz", f"territories_cog{year}.npz"):
        entry = manifest["files"][name]
        data = (_prebuilt.shipped_dir() / name).read_bytes()
        assert entry["sha256"] == hashlib.sha256(data).hexdigest() and entry["size"] == len(data)
    assert manifest["files"][f"adjacency_cog{year}.npz"]["inputs"] == _prebuilt.adjacency_digest(year)
    assert manifest["files"][f"parents_cog{year}.npz"]["inputs"] == _prebuilt.parents_digest(year)


@pytest.mark.parametrize("year", [2024, 2025])
def test_shipped_former_commune_shares_equal_a_fresh_measure_byte_for_byte(year):
    """The share of each QPV in each former commune's outline, shipped so that ``clsm-geo coverage`` needs no
    projection library: the same values (and file bytes) as measured now, and what the vintage reads."""
    from clsm_geo.apportion import former_share_table
    from clsm_geo.vintages import vintage

    frame = _shipped_layer_frame()
    digest = _prebuilt.former_digest(frame, year)
    shipped = _prebuilt._shipped("former", digest)
    assert shipped is not None, "data/prebuilt has no former-commune shares: run scripts/build_prebuilt.py"
    rel = _prebuilt.relation(frame, year, lambda: qpv_unit_relation(frame, year))
    fresh = former_share_table(rel, frame.geometry.to_numpy(), frame["insee_dep"].to_numpy(), year)
    assert len(fresh) > 100 and any(0 < a < 1 for a, _ in fresh.values())
    assert _prebuilt.decode_former(shipped) == fresh
    path = settings.get().cache_dir / f"former{year}.npz"
    _prebuilt.write_npz(path, {**_prebuilt.encode_former(fresh), "digest": np.array(digest)})
    assert path.read_bytes() == (_prebuilt.shipped_dir() / f"former_qpv2024_cog{year}.npz").read_bytes()
    assert vintage(year).former_shares == fresh
    manifest = __import__("json").loads((_prebuilt.shipped_dir() / _prebuilt.MANIFEST).read_text())
    assert manifest["files"][f"former_qpv2024_cog{year}.npz"]["inputs"] == digest


def test_former_commune_shares_are_not_used_for_another_layer_nor_other_outlines(monkeypatch):
    frame = _shipped_layer_frame()
    assert _prebuilt.former_shares(frame.iloc[:-1], 2024) is None       # another QPV layer: measured when needed
    real = _prebuilt._boundary_digest
    monkeypatch.setattr(_prebuilt, "_boundary_digest",
                        lambda year, names: real(year, names) + ("-changed" if "former_outlines_2024.parquet" in names
                                                                 else ""))
    assert _prebuilt.former_shares(frame, 2024) is None                 # other outlines of the former communes


@pytest.mark.parametrize("year", [2024, 2025])
def test_shipped_map_territories_equal_a_fresh_simplification_byte_for_byte(year, monkeypatch):
    """The simplified department and region outlines of the national interactive map, shipped for the GEOS
    version that built them: the same outlines as simplified now (and the same file bytes); with another GEOS
    version they are simplified again (then cached), never taken from the shipped table."""
    import shapely

    from clsm_geo.geography import Geography
    from clsm_geo.maps import layers

    import json

    digest = _prebuilt.territories_digest(year, layers.TOLERANCE_NATIONAL, 3)
    shipped = _prebuilt._shipped("territories", digest)
    built_with = json.loads((_prebuilt.shipped_dir() / _prebuilt.MANIFEST).read_text())["files"][
        f"territories_cog{year}.npz"]["geos"]
    geo = Geography(year, year)
    fresh = layers.simplified_territories(geo)
    if built_with != shapely.geos_version_string:  # another GEOS: the shipped outlines are not used
        assert shipped is None
        deps, _ = layers.national_territories(Geography(year, year))
        assert all(shapely.equals_exact(a, b, 0) for a, b in zip(deps, fresh["department"][1]))
        return
    assert shipped is not None, "data/prebuilt has no map territories for this GEOS: run scripts/build_prebuilt.py"
    decoded = _prebuilt.decode_territories(shipped)
    with pytest.raises(ValueError):  # another order than the layers' (then rebuilt, as any damaged table)
        _prebuilt.decode_territories(shipped, {"department": fresh["department"][0][::-1],
                                               "region": fresh["region"][0]})
    for level in ("department", "region"):
        assert decoded[level][0] == fresh[level][0]
        assert all(shapely.equals_exact(a, b, 0) for a, b in zip(decoded[level][1], fresh[level][1]))
    path = settings.get().cache_dir / f"territories{year}.npz"
    _prebuilt.write_npz(path, {**_prebuilt.encode_territories(fresh, year), "digest": np.array(digest)})
    assert path.read_bytes() == (_prebuilt.shipped_dir() / f"territories_cog{year}.npz").read_bytes()
    deps, regs = layers.national_territories(Geography(year, year))
    assert all(shapely.equals_exact(a, b, 0) for a, b in zip(deps, fresh["department"][1]))
    monkeypatch.setattr(shapely, "geos_version_string", shapely.geos_version_string + "-other")
    other = _prebuilt.territories_digest(year, layers.TOLERANCE_NATIONAL, 3)
    assert other != digest and _prebuilt._shipped("territories", other) is None
    deps, regs = layers.national_territories(Geography(year, year))
    assert _prebuilt._cache_path("territories", other).is_file()
    assert all(shapely.equals_exact(a, b, 0) for a, b in zip(regs, fresh["region"][1]))
