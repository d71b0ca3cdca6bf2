"""Priorities and the greedy plan on the real 2024 data: every step checked by a full run of the engine."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings as hsettings, strategies as st

import clsm_geo
from clsm_geo.cli import main
from clsm_geo.plan import PlanModel, apply_plan, candidates, priorities
from clsm_geo.qpv import qpv

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "registry_fictitious.csv"
COUNTED = ("covered", "partial")


@pytest.fixture(scope="module")
def layer():
    return qpv(2024)


@pytest.fixture(scope="module")
def result(layer):
    return clsm_geo.coverage(EXAMPLE, 2024, qpv=layer)


@pytest.fixture(scope="module")
def model(result):
    return PlanModel(result)


@pytest.fixture(scope="module")
def steps(result):
    return result.plan(6)


def counted(res) -> set[str]:
    q = res.qpv[res.qpv["in_force"] & res.qpv["status"].isin(COUNTED)]
    return set(q["code_qp"])


def test_model_reproduces_the_engine(result, model):
    st = model.statuses(model.x0)
    assert list(st.status) == list(result.qpv["status"])
    np.testing.assert_allclose(st.share, result.qpv["covered_share"].to_numpy(dtype=float), atol=1e-6)
    s = result.summary
    assert model.score(model.x0)[:2] == (s["qpv_covered"], s["qpv_covered"] - s["qpv_partial"])


def test_each_step_equals_a_full_engine_run(result, steps, layer):
    assert list(steps["step"]) == list(range(len(steps))) and len(steps) == 7
    before = counted(result)
    for rec in steps.itertuples(index=False):
        rerun = clsm_geo.coverage(apply_plan(result, steps, upto=rec.step), 2024, qpv=layer, method=result.method)
        now = counted(rerun)
        assert rerun.summary["qpv_covered"] == rec.qpv_covered, rec.step
        assert rerun.summary["qpv_covered_share"] == rec.qpv_covered_share
        assert int((rerun.qpv["in_force"] & (rerun.qpv["status"] == "covered")).sum()) == rec.qpv_fully_covered
        assert set(rec.qpv_gained) == (now - before if rec.step else set())
        before = now


def test_commune_method_plan_matches_the_engine(tmp_path, layer):
    reg = tmp_path / "reg.csv"
    reg.write_text("id,name,status,created,communes,epci\n"
                   "A,Council A,actif,2015,13201;13202;13203,\n"      # Marseille arrondissements
                   "B,Council B,actif,2015,59014,\n"                  # Anzin
                   "C,Council C,actif,2015,,243300316\n", encoding="utf-8")
    res = clsm_geo.coverage(reg, 2024, qpv=layer, method="commune")
    plan = res.plan(3)
    assert set(plan["action"][1:]) <= {"creation", "extension"}
    for k in (1, len(plan) - 1):
        rerun = clsm_geo.coverage(apply_plan(res, plan, upto=k), 2024, qpv=layer, method="commune")
        assert rerun.summary["qpv_covered"] == plan["qpv_covered"].iloc[k]


def test_steps_only_raise_coverage(steps, result):
    assert steps["action"].iloc[0] == "current" and steps["qpv_covered"].iloc[0] == result.summary["qpv_covered"]
    gained = steps["qpv_covered"].diff().iloc[1:]
    assert (gained >= 0).all()
    assert (gained == steps["n_qpv_gained"].iloc[1:]).all()
    assert ((gained > 0) | (steps["qpv_fully_covered"].diff().iloc[1:] > 0)).all()
    created = steps[steps["action"] == "creation"]
    assert all(cid == f"NEW-{s}" for cid, s in zip(created["council_id"], created["siren_epci"]))
    assert result.plan(0)["step"].tolist() == [0]


def test_first_step_is_the_best_candidate(model, steps):
    """Brute force over every candidate of the first state, scored by the engine's rules."""
    net = model.net
    cands = candidates(model, model.x0, {c: set(u) for c, u in net.council_units.items()}, net.touched.copy())
    assert {a for a, _, _ in cands} == {"creation", "extension"}
    best = max(model.score(model.with_units(model.x0, units))[0] for _, _, units in cands)
    assert steps["qpv_covered"].iloc[1] == best


@hsettings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_adding_units_never_lowers_coverage(model, data):
    hosts = sorted({p for units in model.net.qpv_units.values() for p in units})
    a = data.draw(st.lists(st.sampled_from(hosts), max_size=30))
    b = data.draw(st.lists(st.sampled_from(hosts), max_size=30))
    xa = model.with_units(model.x0, a)
    before = model.score(xa)
    after = model.score(model.with_units(xa, b))
    assert after[0] >= before[0] and after[1] >= before[1] and after[2] >= before[2] - 1e-9


@hsettings(max_examples=4, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_random_scenarios_equal_the_engine(model, result, layer, data):
    net = model.net
    cands = candidates(model, model.x0, {c: set(u) for c, u in net.council_units.items()}, net.touched.copy())
    chosen = data.draw(st.lists(st.sampled_from(cands), min_size=1, max_size=4, unique_by=lambda c: (c[0], c[1])))
    rows = []
    x = model.x0
    for i, (action, key, units) in enumerate(chosen, start=1):
        x = model.with_units(x, units)
        rows.append({"step": i, "action": action, "council_id": f"NEW-{key}" if action == "creation" else key,
                     "council_name": f"new {key}", "siren_epci": key,
                     "units_added": tuple(net.unit_codes[p] for p in units)})
    rerun = clsm_geo.coverage(apply_plan(result, pd.DataFrame(rows)), 2024, qpv=layer, method=result.method)
    assert list(model.statuses(x).status) == list(rerun.qpv["status"])


def test_priorities_rank_territories_without_council(result, shared):
    table = priorities(result)
    epci = table[table["level"] == "epci"]
    deps = table[table["level"] == "department"]
    assert list(epci["rank"]) == list(range(1, len(epci) + 1))
    keys = list(zip(-epci["qpv_uncovered"], -epci["population"], epci["code"]))
    assert keys == sorted(keys)
    # Independently: EPCI none of whose communes is in an active council, with QPV left uncovered.
    t = pd.read_csv(f"{shared}/admin/cog2024_tables_cogugaison/table_appartenance_geo_communes_2024.csv", dtype=str)
    active = result.councils_table[result.councils_table["active"]]
    touched = {c for cs in active["communes"] for c in cs}
    q = result.qpv[result.qpv["in_force"]]
    left = set(q.loc[~q["status"].isin(COUNTED), "code_qp"])
    off = pd.read_csv(f"{shared}/qpv/qpv2024_anct_list_by_commune/qpv2024_code_commune_DERIVED.csv", dtype=str)
    off = off[off["code_qp"].isin(left)].merge(t[["CODGEO", "EPCI", "DEP"]], left_on="insee_com", right_on="CODGEO")
    white = set(t["EPCI"]) - set(t.loc[t["CODGEO"].isin(touched), "EPCI"])
    assert set(epci["code"]) == set(off["EPCI"]) & white
    dep_with = {d for ds in active["departments"] for d in ds}
    assert set(deps["code"]) == set(q.loc[~q["status"].isin(COUNTED), "insee_dep"]) - dep_with
    assert (table["qpv_uncovered"] <= table["qpv_total"]).all()


def test_cli_plan(tmp_path, capsys):
    outs = []
    for run in ("a", "b"):
        out = tmp_path / run
        assert main(["--offline", "plan", "--year", "2024", "--registry", str(EXAMPLE), "--steps", "3",
                     "--out", str(out)]) == 0
        outs.append([(out / n).read_bytes() for n in ("plan.csv", "priorities.csv")])
    assert outs[0] == outs[1]
    text = capsys.readouterr().out
    assert "étape 3\u00a0: " in text and "situation actuelle\u00a0: " in text
    assert " QPV couverts sur 1\u202f362 (" in text
    assert main(["--offline", "--lang", "en", "-q", "plan", "--registry", str(EXAMPLE), "--steps", "1",
                 "--out", str(tmp_path / "en")]) == 0
    text = capsys.readouterr().out
    assert text.startswith("now: ") and "\nstep 1: " in text and " of 1,362 QPV covered (" in text
    plan = pd.read_csv(tmp_path / "a" / "plan.csv", dtype={"siren_epci": str})
    assert len(plan) == 4 and plan["qpv_covered"].is_monotonic_increasing
    assert main(["--offline", "plan", "--registry", str(EXAMPLE), "--steps", "-1", "--out", str(tmp_path)]) == 2
