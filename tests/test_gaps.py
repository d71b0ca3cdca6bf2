"""Uncovered QPV and gaps of the network, on the real 2024 data, against expectations computed independently.

Expectations use plain set logic on the official QPV list by commune and the INSEE table
d'appartenance (read from ../shared/data with pandas), and, for enclaves, a geometric method
(filling the holes of the perimeter's union) instead of the library's boundary topology.
"""

from __future__ import annotations

import functools

import geopandas as gpd
import pandas as pd
import pytest
import shapely
from hypothesis import given, settings, strategies as st

import clsm_geo
import clsm_geo.units
from clsm_geo.cli import main
from clsm_geo.gaps import KINDS, enclaves_of, unit_adjacency
from clsm_geo.qpv import qpv

NANCY_RING = ["54274", "54304", "54339", "54357", "54482", "54526", "54547", "54578"]          # around 54395
ECHIROLLES_RING = ["38057", "38068", "38158", "38185", "38200", "38317", "38486"]             # around 38151
COUNCILS = [
    # id, status, created, closed, communes, epci
    ("ANZ", "actif", 2015, "", ["59014"], []),                        # Anzin: cuts QPV shared with Raismes
    ("BDX", "actif", 2015, "", [], ["243300316"]),                    # Bordeaux Métropole, whole EPCI
    ("BRM", "actif", 2015, "", ["01053", "71270"], []),               # Bourg (01, ARA) + Mâcon (71, BFC)
    ("STE", "actif", 2015, "", ["42218", "43157"], []),               # Saint-Étienne (42) + Le Puy (43), ARA
    ("TL1", "actif", 2015, "", ["31555"], []),                        # Toulouse ...
    ("TL2", "actif", 2018, "", ["31555", "31149"], []),               # ... claimed twice (overlap)
    ("NCY", "actif", 2015, "", NANCY_RING, []),                       # Nancy enclosed
    ("ECH", "actif", 2015, "", ECHIROLLES_RING, []),                  # Échirolles enclosed (one corner neighbour)
    ("PRJ", "en_projet", "", "", ["13001"], []),                      # not active: counts nowhere
    ("OLD", "ferme", 2010, 2020, ["76540"], []),                      # closed before 2024
]


def write_registry(path, councils=COUNCILS):
    lines = ["id,name,status,created,closed,communes,epci"]
    for cid, status, created, closed, communes, epci in councils:
        lines.append(f"{cid},Council {cid},{status},{created},{closed},{';'.join(communes)},{';'.join(epci)}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@functools.lru_cache(maxsize=1)
def official(shared_path: str) -> dict[str, frozenset[str]]:
    t = pd.read_csv(f"{shared_path}/qpv/qpv2024_anct_list_by_commune/qpv2024_code_commune_DERIVED.csv", dtype=str)
    t = t[~t["insee_com"].str.startswith("97")]
    return {code: frozenset(g) for code, g in t.groupby("code_qp")["insee_com"]}


@functools.lru_cache(maxsize=1)
def insee(shared_path: str) -> pd.DataFrame:
    path = f"{shared_path}/admin/cog2024_tables_cogugaison/table_appartenance_geo_communes_2024.csv"
    return pd.read_csv(path, dtype=str).set_index("CODGEO")


def expectations(shared_path: str, councils=COUNCILS) -> dict:
    """Every gap kind by plain set logic (no PLM city in the councils, commune method)."""
    off = official(shared_path)
    t = insee(shared_path)
    members = {e: frozenset(g.index) for e, g in t.groupby("EPCI") if e != "ZZZZZZZZZ"}
    sets = {}
    for cid, status, created, closed, communes, epci in councils:
        if status == "actif":
            sets[cid] = frozenset(communes).union(*[members[e] for e in epci])
    union = frozenset().union(*sets.values())
    epci_of = t["EPCI"].to_dict()
    out = {k: set() for k in KINDS}
    for q, s in off.items():
        cut = {c for c, cs in sets.items() if 0 < len(s & cs) < len(s)}
        if len(s) >= 2 and cut:
            out["straddling_qpv"].add((q, tuple(sorted(cut))))
    hosted: dict[str, set[str]] = {}
    for q, s in off.items():
        for m in s:
            hosted.setdefault(epci_of[m], set()).add(q)
    for e, ms in members.items():
        if ms & union:
            left = {q for q, s in off.items() if s & (ms - union)}
            if left:
                out["epci_partial"].add((e, tuple(sorted(c for c, cs in sets.items() if cs & ms)), tuple(sorted(left))))
        elif e in hosted:
            out["white_epci"].add((e, tuple(sorted(hosted[e]))))
    for c, cs in sets.items():
        epcis = {epci_of[m] for m in cs} - {"ZZZZZZZZZ"}
        if len(epcis) >= 2:
            out["crosses_epci"] |= {(e, (c,)) for e in epcis if not members[e] <= cs}
        if len({t.at[m, "DEP"] for m in cs}) >= 2:
            out["crosses_department"].add((c, (c,)))
        if len({t.at[m, "REG"] for m in cs}) >= 2:
            out["crosses_region"].add((c, (c,)))
    claims: dict[str, list[str]] = {}
    for c, cs in sets.items():
        for m in cs:
            claims.setdefault(m, []).append(c)
    out["overlap"] = {(m, tuple(sorted(cs))) for m, cs in claims.items() if len(cs) >= 2}
    return out


def found(table: pd.DataFrame, kind: str) -> set:
    rows = table[table["kind"] == kind]
    if kind == "epci_partial":
        return set(zip(rows["territory_code"], rows["council_ids"], rows["qpv_codes"]))
    if kind == "white_epci":
        return set(zip(rows["territory_code"], rows["qpv_codes"]))
    return set(zip(rows["territory_code"], rows["council_ids"]))


@pytest.fixture(scope="module")
def layer():
    return qpv(2024)


@pytest.fixture(scope="module")
def result(tmp_path_factory, layer):
    path = write_registry(tmp_path_factory.mktemp("reg") / "gaps.csv")
    return clsm_geo.coverage(path, 2024, qpv=layer, method="commune")


@pytest.fixture(scope="module")
def gap_table(result):
    return result.gaps()


@pytest.mark.parametrize("kind", [k for k in KINDS if k != "enclave"])
def test_each_gap_kind_matches_set_logic(gap_table, shared, kind):
    expected = expectations(str(shared))[kind]
    assert expected, f"the constructed registry should produce {kind}"
    assert found(gap_table, kind) == expected


def test_present_and_absent_cases(gap_table):
    def codes(kind):
        return set(gap_table.loc[gap_table["kind"] == kind, "territory_code"])

    assert "QN05920M" in codes("straddling_qpv")                     # Anzin + Raismes, only Anzin inside
    assert not codes("straddling_qpv") & {"QN03301I", "QN03302M"}     # Bordeaux QPV inside the whole-EPCI council
    assert codes("crosses_region") == {"BRM"}                          # Bourg + Mâcon: two regions
    assert codes("crosses_department") == {"BRM", "STE"}               # Saint-Étienne + Le Puy: one region
    assert "243300316" not in codes("crosses_epci") | codes("epci_partial") | codes("white_epci")
    assert codes("overlap") == {"31555"}                               # Toulouse twice; Colomiers once
    assert "200023414" in codes("white_epci")                          # Rouen: its council closed in 2020
    assert "200054807" in codes("white_epci")                          # Aix-Marseille: its council in project only
    ids = set().union(*gap_table["council_ids"])
    assert not ids & {"PRJ", "OLD"}


def test_enclaves_match_filled_holes_of_the_perimeter(gap_table, result):
    """Expected enclaves by geometry: units outside a perimeter lying in the holes of its union."""
    units = clsm_geo.units.units(2024)
    expected = set()
    for cid, communes in (("NCY", NANCY_RING), ("ECH", ECHIROLLES_RING)):
        union = shapely.union_all(units.set_index("unit").geometry.loc[communes].to_numpy())
        filled = shapely.union_all([shapely.Polygon(p.exterior) for p in shapely.get_parts(union)])
        near = units[units.geometry.intersects(filled) & ~units["unit"].isin(communes)]
        inside = near.geometry.map(lambda g: shapely.area(shapely.intersection(g, filled)) >= 0.999 * g.area)
        expected |= {(u, (cid,)) for u in near.loc[inside, "unit"]}
    assert expected == {("54395", ("NCY",)), ("38151", ("ECH",))}
    assert found(gap_table, "enclave") == expected
    row = gap_table[gap_table["territory_code"] == "54395"].iloc[0]
    assert set(row["qpv_codes"]) >= {"QN05415M", "QN05416M", "QN05417M"}
    assert "Nancy" in row["sentence"] and "NCY" in row["sentence"]


def test_enclave_rules_on_the_adjacency():
    adj = unit_adjacency(2024)
    pos = clsm_geo.units.unit_index(2024).get_indexer
    assert (adj.shared != adj.shared.T).nnz == 0
    # Échirolles touches one commune at a corner only: not a neighbour, so not needed to enclose it.
    assert len(adj.neighbours(pos(["38151"])[0])) == len(ECHIROLLES_RING)
    # Without one neighbour, the commune is not enclosed.
    assert enclaves_of(adj, pos(ECHIROLLES_RING[1:]).tolist()) == []
    # Marseille without one arrondissement: an inland one is enclosed, a coastal one (7e) is not.
    arrondissements = [f"132{i:02d}" for i in range(1, 17)]
    for target, enclosed in (("13205", True), ("13207", False)):
        others = pos([u for u in arrondissements if u != target]).tolist()
        assert (pos([target])[0] in enclaves_of(adj, others)) is enclosed, target


def test_sentences_name_councils_territory_and_qpv(gap_table):
    assert gap_table["kind"].isin(KINDS).all()
    for row in gap_table.itertuples(index=False):
        assert row.territory_code in row.sentence or row.territory_name in row.sentence
        for cid in row.council_ids:
            assert f"({cid})" in row.sentence
        for code in row.qpv_codes[:3]:
            assert code in row.sentence
    order = {k: i for i, k in enumerate(KINDS)}
    keys = [(order[k], t, c) for k, t, c in zip(gap_table["kind"], gap_table["territory_code"],
                                                   gap_table["council_ids"])]
    assert keys == sorted(keys)
    assert gap_table.crs.to_epsg() == 4326 and gap_table.geometry.notna().all()


def test_sentences_in_each_language_keep_the_codes(result, gap_table):
    english = result.gaps(lang="en")
    machine = [c for c in gap_table.columns if c not in ("sentence", "geometry")]
    pd.testing.assert_frame_equal(pd.DataFrame(english[machine]), pd.DataFrame(gap_table[machine]))
    by_kind = dict(zip(english["kind"], english["sentence"]))
    assert by_kind["overlap"].startswith("Toulouse (31555) is claimed by 2 active councils: Council TL1 (TL1) and "
                                         "Council TL2 (TL2)")  # lists as the language writes them (Babel)
    assert by_kind["enclave"].startswith("Nancy (54395) is surrounded by the perimeter of Council NCY (NCY) but")
    french = dict(zip(gap_table["kind"], gap_table["sentence"]))
    assert french["overlap"].startswith("Toulouse (31555) fait partie de 2 CLSM actifs\u00a0: Council TL1 (TL1) et "
                                        "Council TL2 (TL2)")
    assert french["enclave"].startswith("Le périmètre de Council NCY (NCY) entoure Nancy (54395) sans l'inclure")
    assert "\u202f; on y compte " in french["enclave"]


def test_no_active_council_gives_only_white_epci(tmp_path, layer, shared):
    path = write_registry(tmp_path / "none.csv", [("PRJ", "en_projet", "", "", ["13001"], [])])
    table = clsm_geo.coverage(path, 2024, qpv=layer).gaps()
    assert set(table["kind"]) == {"white_epci"}
    off = official(str(shared))
    epci_of = insee(str(shared))["EPCI"]
    assert set(table["territory_code"]) == {epci_of[m] for s in off.values() for m in s}
    assert sum(table["n_qpv"]) >= len(off)


def test_uncovered_lists_uncovered_and_partial_with_nearest_council(result, shared):
    table = result.uncovered()
    q = result.qpv[result.qpv["in_force"]]
    assert set(table["code_qp"]) == set(q.loc[q["status"].isin(["uncovered", "partial"]), "code_qp"])
    assert table["population"].isna().all() and "population" in table
    assert list(table.sort_values(["insee_dep", "code_qp"])["code_qp"]) == list(table["code_qp"])
    # Partial QPV touch their council: distance 0 (Anzin's QPV shared with Raismes).
    anzin = table.set_index("code_qp").loc["QN05920M"]
    assert anzin["status"] == "partial" and anzin["nearest_council_id"] == "ANZ"
    assert anzin["nearest_distance_km"] == 0
    # Brute force on a sample: every active council, Lambert-93, smallest distance then smallest id.
    councils = result.councils[result.councils["active"]].to_crs(2154)
    sample = table[~table["insee_dep"].str.startswith(("97", "2A", "2B"))].iloc[::40]
    for rec in sample.itertuples(index=False):
        g = gpd.GeoSeries([rec.geometry], crs=4326).to_crs(2154).iloc[0]
        d = councils.geometry.distance(g).to_numpy()
        assert abs(rec.nearest_distance_km * 1000 - d.min()) < 1
        assert rec.nearest_council_id in set(councils["id"][d <= d.min() + 1])
    # Approach: extension when the QPV's EPCI or department already has an active council.
    t = insee(str(shared))
    off = official(str(shared))
    members = set().union(*[set(c[4]) for c in COUNCILS if c[1] == "actif"])
    members |= set(t.index[t["EPCI"] == "243300316"])
    epcis = {t.at[m, "EPCI"] for m in members}
    deps = {t.at[m, "DEP"] for m in members}
    for rec in table.itertuples(index=False):
        has_epci = any(t.at[m, "EPCI"] in epcis for m in off[rec.code_qp])
        assert rec.epci_has_council == has_epci, rec.code_qp
        assert rec.department_has_council == (rec.insee_dep in deps)
        assert rec.approach == ("extension" if has_epci or rec.insee_dep in deps else "creation")


def test_cli_uncovered_and_gaps_write_deterministic_files(tmp_path, capsys):
    reg = write_registry(tmp_path / "reg.csv")
    for command, names in (("uncovered", ("uncovered.csv", "uncovered.geojson")),
                           ("gaps", ("gaps.csv", "gaps.geojson"))):
        outs = []
        for run in ("a", "b"):
            out = tmp_path / f"{command}-{run}"
            assert main(["--offline", "--quiet", command, "--year", "2024", "--registry", str(reg),
                         "--out", str(out)]) == 0
            outs.append([(out / n).read_bytes() for n in names])
        assert outs[0] == outs[1]
    text = capsys.readouterr().out
    assert "QPV en vigueur ne sont pas entièrement couverts en 2024" in text and " constats\u00a0: " in text
    gaps_csv = pd.read_csv(tmp_path / "gaps-a" / "gaps.csv", dtype=str)
    assert set(gaps_csv["kind"]) == set(KINDS)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(0, 34_976), min_size=0, max_size=150, unique=True))
def test_neighbours_of_are_the_units_sharing_a_boundary_with_any_position(positions):
    import numpy as np

    from clsm_geo.adjacency import unit_adjacency

    adj = unit_adjacency(2024)
    got = adj.neighbours_of(positions)
    shared = adj.shared.tocsc()  # the definition, read by columns: b neighbours a when shared[a, b] > 0
    want = sorted({b for a in positions for b in shared[:, a].indices.tolist()} - set(positions))
    assert got.tolist() == want


def test_the_network_reads_only_the_outlines_it_is_asked_for(layer, tmp_path):
    """gaps, plan and the report build the network from the units' attributes; the outlines of the units a
    step needs (the nearest council, an overlap, an enclave) are decoded for those units only, and they are
    the outlines of the full units layer."""
    from clsm_geo.gaps import Network

    res = clsm_geo.coverage(write_registry(tmp_path / "gaps.csv"), 2024, qpv=layer, method="commune")
    net = Network(res)
    assert "units" not in res.vintage.__dict__  # the 35,000 outlines of France were not decoded
    positions = [0, 17, 5, 17, len(net.unit_codes) - 1]
    got = net.outlines(positions)
    full = clsm_geo.units.units(2024).geometry.to_numpy()
    assert all(shapely.equals_exact(a, full[p], 0) for a, p in zip(got, positions))
    assert list(net.outlines([])) == []
    table = res.gaps()
    assert "units" not in res.vintage.__dict__ and len(table) and table.geometry.notna().all()


def _nearest_by_tree(queries, parts):
    import numpy as np

    (qi, pi), d = shapely.STRtree(parts).query_nearest(queries, return_distance=True, all_matches=True)
    order = np.lexsort((pi, qi))
    return qi[order], pi[order], d[order]


_shape = st.tuples(st.integers(-40, 40), st.integers(-40, 40), st.integers(1, 12), st.integers(1, 12),
                   st.integers(0, 3))


def _polygon(spec):
    """Boxes, triangles and L shapes on an integer grid: many equal distances (ties) and touching shapes."""
    x, y, w, h, kind = spec
    if kind == 0:
        return shapely.box(x, y, x + w, y + h)
    if kind == 1:
        return shapely.Polygon([(x, y), (x + w, y), (x, y + h)])
    if kind == 2:
        return shapely.Polygon([(x, y), (x + w, y), (x + w, y + 1), (x + 1, y + 1), (x + 1, y + h), (x, y + h)])
    return shapely.MultiPolygon([shapely.box(x, y, x + 1, y + 1), shapely.box(x + w, y + h, x + w + 1, y + h + 1)])


@settings(max_examples=150, deadline=None)
@given(st.lists(_shape, min_size=0, max_size=12), st.lists(_shape, min_size=0, max_size=25))
def test_nearest_parts_finds_what_the_tree_finds_ties_included(query_specs, part_specs):
    """The envelope-bounded search returns the same pairs and distances as ``STRtree.query_nearest`` with
    ``all_matches=True`` (and as brute force), on shapes made to tie, touch and overlap."""
    import numpy as np

    from clsm_geo.gaps import nearest_parts

    queries = np.array([_polygon(s) for s in query_specs], dtype=object)
    parts = np.array([_polygon(s) for s in part_specs], dtype=object)
    got = nearest_parts(queries, parts)
    if len(queries) and len(parts):
        want = _nearest_by_tree(queries, parts)
        for g, w in zip(got, want):
            assert g.tolist() == w.tolist()
        full = shapely.distance(queries[:, None], parts[None, :])
        for a, b, d in zip(*got):
            assert d == full[a].min() == full[a, b]
        assert sorted(set(got[0].tolist())) == list(range(len(queries)))
        assert len(got[0]) == int((full == full.min(axis=1)[:, None]).sum())
    else:
        assert all(len(x) == 0 for x in got)


def test_nearest_parts_on_real_outlines_equals_the_tree(layer):
    """Every QPV of Nord and Pas-de-Calais against the communes of both, in Lambert-93."""
    import numpy as np

    from clsm_geo.gaps import nearest_parts

    communes = clsm_geo.units.units(2024)
    communes = communes[communes["insee_dep"].isin(["59", "62"])].to_crs(2154)
    q = layer.frame
    q = q[q["insee_dep"].isin(["59", "62"])].to_crs(2154)
    queries, parts = q.geometry.to_numpy(), communes.geometry.to_numpy()[::7]  # every 7th: QPV outside them too
    got = nearest_parts(queries, parts)
    want = _nearest_by_tree(queries, parts)
    assert len(queries) > 100 and (got[2] > 0).sum() > 50
    for g, w in zip(got, want):
        assert np.array_equal(g, w)


def test_gaps_without_geometry_are_the_same_rows_and_read_no_outline(layer, tmp_path, gap_table):
    """``gaps(geometry=False)`` (what the report asks for): the same rows, a column of None, and no EPCI
    outline read nor perimeter dissolved; every kind has a geometry otherwise."""
    from clsm_geo.gaps import gaps

    res = clsm_geo.coverage(write_registry(tmp_path / "g.csv"), 2024, qpv=layer, method="commune")
    bare = gaps(res, geometry=False)
    assert "_epci_geoms" not in clsm_geo.gaps.network(res).__dict__
    assert "_council_geometries" not in res.__dict__ and bare.geometry.isna().all()
    machine = [c for c in gap_table.columns if c != "geometry"]
    pd.testing.assert_frame_equal(pd.DataFrame(bare[machine]), pd.DataFrame(gap_table[machine]))
    assert set(gap_table["kind"]) == set(KINDS) and gap_table.geometry.notna().all()
