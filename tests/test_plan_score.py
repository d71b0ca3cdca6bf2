"""The plan's fast score (numeric statuses on the units holding a QPV) equals the engine's rules."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import clsm_geo
from clsm_geo.plan import PlanModel, candidates

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "registry_fictitious.csv"


@pytest.fixture(scope="module")
def model():
    return PlanModel(clsm_geo.coverage(EXAMPLE, 2024))


def test_fast_score_equals_engine_rules_on_every_candidate(model):
    net = model.net
    cands = candidates(model, model.x0, {c: set(u) for c, u in net.council_units.items()}, net.touched.copy())
    assert len(cands) > 50
    score_with = model.scorer(model.x0)
    for _, _, units in cands:
        x = model.with_units(model.x0, units)
        assert model.score(x) == model.score_slow(x) == score_with(units)
    assert model.score(model.x0) == model.score_slow(model.x0) == score_with(())


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_fast_score_equals_engine_rules_on_random_unit_sets(model, data):
    hosts = np.union1d(model.rel.weights.indices, model.rel.pair_units.indices)
    picked = data.draw(st.lists(st.sampled_from(hosts.tolist()), max_size=400, unique=True))
    x = np.zeros(model.rel.weights.shape[1])
    x[picked] = 1.0
    if data.draw(st.booleans()):
        x = np.maximum(x, model.x0)
    assert model.score(x) == model.score_slow(x)
    # units added to a state, hosting a QPV or not, listed twice or not: as with_units then score
    added = data.draw(st.lists(st.integers(0, len(x) - 1) | st.sampled_from(hosts.tolist()), max_size=50))
    assert model.scorer(x)(added) == model.score(model.with_units(x, added))


@pytest.fixture(scope="module")
def own_models(tmp_path_factory):
    """Models of a registry whose council has its own perimeter (half of a Toulouse QPV), by each method."""
    import geopandas as gpd
    import shapely

    layer = clsm_geo.qpv(2024)
    target = layer.frame.set_index("code_qp").loc["QN03101M", "geometry"]
    minx, miny, maxx, maxy = target.bounds
    half = shapely.box(minx - 0.01, miny - 0.01, (minx + maxx) / 2, maxy + 0.01)
    path = tmp_path_factory.mktemp("own") / "reg.geojson"
    gpd.GeoDataFrame({"id": ["H"], "name": ["half"], "status": ["actif"], "created": ["2020"]}, geometry=[half],
                     crs=4326).to_file(path)
    return {m: PlanModel(clsm_geo.coverage(path, 2024, qpv=layer, method=m)) for m in ("geometry", "commune")}


@pytest.mark.parametrize("method", ["geometry", "commune"])
@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_fast_score_equals_engine_rules_with_an_own_perimeter(own_models, method, data):
    model = own_models[method]
    assert model.own_share.max() > 0.05                    # the half of QN03101M counts in both methods
    hosts = np.union1d(model.rel.weights.indices, model.rel.pair_units.indices)
    picked = data.draw(st.lists(st.sampled_from(hosts.tolist()), max_size=400, unique=True))
    x = np.zeros(model.rel.weights.shape[1])
    x[picked] = 1.0
    assert model.score(x) == model.score_slow(x)
    assert model.score(model.x0) == model.score_slow(model.x0)
