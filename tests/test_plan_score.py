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


@pytest.fixture(scope="module")
def commune_model():
    return PlanModel(clsm_geo.coverage(EXAMPLE, 2024, method="commune"))


def _unit_sets(model, data, hosts):
    """Sets of units to add: hosting a QPV or not, repeated or not, empty too; more than a block of them."""
    n = len(model.x0)
    some = st.lists(st.integers(0, n - 1) | st.sampled_from(hosts.tolist()), max_size=40)
    return data.draw(st.lists(some, min_size=0, max_size=300))


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_scores_of_many_sets_are_the_scorers_bit_for_bit(model, commune_model, own_models, data):
    """PlanModel.scores (sparse products over blocks of sets) gives the very tuples of scorer, floats
    included, by each method (QPV measured by geometry, by communes, an own perimeter)."""
    import clsm_geo.plan as plan_module

    chosen = data.draw(st.sampled_from(["auto", "commune", "own-geometry", "own-commune"]))
    m = {"auto": model, "commune": commune_model, "own-geometry": own_models["geometry"],
         "own-commune": own_models["commune"]}[chosen]
    hosts = np.union1d(m.rel.weights.indices, m.rel.pair_units.indices)
    x = m.x0.copy()
    if data.draw(st.booleans()):
        x[data.draw(st.lists(st.sampled_from(hosts.tolist()), max_size=200))] = 1.0
    sets = _unit_sets(m, data, hosts)
    block = data.draw(st.sampled_from([1, 7, plan_module.SCORE_BLOCK]))
    old, plan_module.SCORE_BLOCK = plan_module.SCORE_BLOCK, block
    try:
        got = m.scores(x, sets)
    finally:
        plan_module.SCORE_BLOCK = old
    score_with = m.scorer(x)
    assert got == [score_with(units) for units in sets]


def test_commune_model_has_qpv_measured_by_communes(commune_model):
    assert commune_model._c[6] > 1000 and commune_model._g[3] == 0  # the test above covers both branches


@pytest.mark.parametrize("method", ["auto", "commune"])
def test_each_step_of_the_plan_is_the_best_candidate_by_the_scorer(method):
    """plan() (candidates scored together, its memo) takes at each step the candidate the plan's ranking puts
    first when each is scored alone by ``scorer`` (the reference), and reaches that candidate's figures."""
    res = clsm_geo.coverage(EXAMPLE, 2024, method=method)
    steps = res.plan(12, lang="fr")
    model = PlanModel(res)
    net = model.net
    x, touched = model.x0.copy(), net.touched.copy()
    councils = {cid: set(units) for cid, units in net.council_units.items()}
    score = model.score(x)
    assert len(steps) > 5
    for rec in steps.iloc[1:].itertuples(index=False):
        score_with, best = model.scorer(x), None
        for action, key, units in candidates(model, x, councils, touched):
            s = score_with(units)
            rank = (s[0] - score[0], s[1] - score[1], round(s[2] - score[2], 9), -len(units))
            if best is None or rank > best[0] or (rank == best[0] and (action, key) < best[1][:2]):
                best = (rank, (action, key, units), s)
        action, key, units = best[1]
        cid = f"NEW-{key}" if action == "creation" else key
        assert (rec.action, rec.council_id) == (action, cid), rec.step
        assert rec.units_added == tuple(net.unit_codes[p] for p in units)
        assert (rec.qpv_covered, rec.qpv_fully_covered) == best[2][:2]
        x = model.with_units(x, units)
        touched[list(units)] = True
        councils.setdefault(cid, set()).update(units)
        score = best[2]
