"""Regions and departments by code or name (clsm_geo.territories), and the scope of a QPV file."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from clsm_geo import geography, territories
from clsm_geo.errors import InputError

GEO = geography(2024)
REGIONS = list(zip(GEO.regions["insee_reg"], GEO.regions["lib_reg"]))
DEPARTMENTS = list(zip(GEO.departments["insee_dep"], GEO.departments["lib_dep"]))


def strip_accents(text: str) -> str:
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(REGIONS + DEPARTMENTS), st.sampled_from([str.lower, str.upper, str.title, strip_accents,
                                                                lambda s: s.replace("-", " "),
                                                                lambda s: strip_accents(s).lower().replace("-", " ")]))
def test_every_name_resolves_in_any_case_with_or_without_accents(pair, spelling):
    code, name = pair
    kind = territories.region if (code, name) in REGIONS else territories.department
    found = kind(spelling(name))
    assert (found.code, found.name) == (code, name)


def test_codes_and_their_other_reading():
    idf = territories.region("11")
    assert (idf.kind, idf.code, idf.name, idf.other_reading) == ("region", "11", "Île-de-France", "11 Aude")
    assert territories.region("75").name == "Nouvelle-Aquitaine"        # a region code is read as a region
    assert territories.region("Île-de-France").other_reading is None    # a name has one reading
    d = territories.department("2a")
    assert (d.code, d.name, d.region) == ("2A", "Corse-du-Sud", "94")
    assert territories.department("1").code == "01" and territories.department("971").region == "01"
    assert territories.department("seine st denis").code == "93"
    assert territories.department("Val-d'Oise").code == territories.department("val d oise").code == "95"


@pytest.mark.parametrize("value, call, message, hint", [
    ("31", territories.region, "31 is not a region code: it is the department Haute-Garonne",
     "use --department 31; for its region, --region 76 (Occitanie)"),
    ("Gironde", territories.region, "33 is not a region code: it is the department Gironde",
     "--region 75 (Nouvelle-Aquitaine)"),
    ("Occitanie", territories.department, "Occitanie is not a department: it is the region Occitanie",
     "use --region 76"),
    ("Normandy", territories.region, "unknown region: Normandy", "closest: Normandie (28)"),
    ("Bouche du Rhone", territories.department, "unknown department: Bouche du Rhone",
     "closest: Bouches-du-Rhône (13)"),
    ("zzz", territories.department, "unknown department: zzz", "give the INSEE code (93, 2A, 971, …)"),
])
def test_wrong_values_name_the_fix(value, call, message, hint):
    from clsm_geo import i18n

    i18n.set_lang("en")
    with pytest.raises(InputError) as info:
        call(value)
    assert info.value.message == message
    assert hint in info.value.hint


def test_error_messages_are_french_by_default():
    with pytest.raises(InputError) as info:
        territories.region("Normandi", 2024)
    assert info.value.message == "région inconnue\u00a0: Normandi"
    assert info.value.hint == "les plus proches\u00a0: Normandie (28)"


def test_qpv_scope_of_a_national_and_a_regional_layer():
    import pandas as pd

    everywhere = pd.DataFrame({"insee_reg": [c for c, _ in REGIONS]})
    assert territories.qpv_scope(everywhere) == {"qpv_scope": "national", "qpv_regions": sorted(everywhere.insee_reg),
                                                 "qpv_regions_missing": []}
    paca = pd.DataFrame({"insee_reg": ["93", "93", None]})
    scope = territories.qpv_scope(paca)
    assert scope["qpv_scope"] == "partial" and scope["qpv_regions"] == ["93"] and len(scope["qpv_regions_missing"]) == 17
    assert territories.names(["93", "11"]) == "Provence-Alpes-Côte d'Azur, Île-de-France"
    assert territories.names([c for c, _ in REGIONS], most=2) == "Guadeloupe, Martinique, +16"


_STATUSES = ("covered", "partial", "uncovered", "undetermined")


@settings(max_examples=60, deadline=None)
@given(
    qpv=st.lists(st.tuples(st.sampled_from("ABC"), st.sampled_from(_STATUSES), st.booleans()), max_size=25),
    councils=st.lists(st.tuples(st.lists(st.sampled_from("ABCZ"), unique=True, max_size=3), st.booleans(),
                                st.booleans(), st.booleans(), st.lists(st.integers(0, 30), max_size=4)),
                      max_size=8),
    missing=st.sets(st.sampled_from("ABC"), max_size=1))
def test_per_territory_counts_are_those_of_each_territory(qpv, councils, missing):
    """The region and department tables (result._per_territory, counted in one pass) give, for each territory,
    what counting that territory alone gives; QPV figures of a territory whose geography is missing are
    unknown (<NA>), never 0."""
    import pandas as pd

    from clsm_geo.result import _per_territory

    q = pd.DataFrame({"code_qp": [f"Q{i}" for i in range(len(qpv))], "insee_dep": [t for t, _, _ in qpv],
                      "status": [s for _, s, _ in qpv], "in_force": pd.array([f for _, _, f in qpv], dtype=bool)})
    table = pd.DataFrame({"departments": [tuple(t) for t, *_ in councils],
                          "active": [a for _, a, *_ in councils], "new": [n for _, _, n, _, _ in councils],
                          "in_project": [p for *_, p, _ in councils],
                          "qpv_codes": [tuple(f"Q{i}" for i in codes) for *_, codes in councils]})
    names = pd.DataFrame({"insee_dep": ["A", "B", "C"], "lib_dep": ["a", "b", "c"]})
    out = _per_territory(q, table, "insee_dep", "departments", names, missing).set_index("insee_dep")
    where = dict(zip(q["code_qp"], q["insee_dep"]))
    in_force = q[q["in_force"]]
    for code in "ABC":
        row = out.loc[code]
        mine = [c for c in councils if code in c[0]]
        assert row["councils_active"] == sum(c[1] for c in mine)
        assert row["councils_new"] == sum(c[2] for c in mine)
        assert row["councils_in_project"] == sum(c[3] for c in mine)
        assert row["councils_covering_qpv"] == sum(
            1 for c in mine if c[1] and any(where.get(f"Q{i}") == code and q["in_force"].iloc[i]
                                            for i in c[4] if i < len(q)))
        here = in_force[in_force["insee_dep"] == code]["status"].tolist()
        if code in missing:
            assert pd.isna(row["qpv_total"]) and pd.isna(row["qpv_covered"]) and not row["qpv_geography_available"]
            continue
        assert row["qpv_total"] == len(here)
        assert row["qpv_covered"] == sum(s in ("covered", "partial") for s in here)
        assert row["qpv_partial"] == here.count("partial") and row["qpv_uncovered"] == here.count("uncovered")
        assert row["qpv_undetermined"] == here.count("undetermined")
        covered = sum(s in ("covered", "partial") for s in here)
        assert row["qpv_covered_share"] == (round(covered / len(here), 6) if here else 0.0)
