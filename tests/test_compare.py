"""Year-on-year comparison: every change found with its reason, on constructed registries."""

from __future__ import annotations

import json

import pytest

from clsm_geo import coverage
from clsm_geo.cli import main
from clsm_geo.compare import compare

HEAD = "id,name,status,created,closed,communes,epci\n"
BEFORE = HEAD + (
    "C1,CLSM Toulouse,actif,2015,,31555,\n"
    "C2,CLSM Paris 18,actif,2016,,75118,\n"
    "C3,CLSM Le Havre,actif,2010,,76351,\n"
    "C4,CLSM Marseille 3,en_projet,,,13203,\n"
    "C5,CLSM Roubaix,actif,2012,,59512,\n"
    "C8,CLSM Paris 19-20,actif,2014,,75119;75120,\n"
)
AFTER = HEAD + (
    "C1,CLSM Toulouse,actif,2015,,31555,\n"              # unchanged
    "C2,CLSM Paris 18-17,actif,2016,,75118;75117,\n"     # enlarged
    "C3,CLSM Le Havre,en_sommeil,2010,2024,76351,\n"     # paused
    "C4,CLSM Marseille 3,actif,2024,,13203,\n"           # activated
    "C5,CLSM Roubaix,ferme,2012,2024,59512,\n"           # closed
    "C6,CLSM Saint-Denis,actif,2024,,93066,\n"           # created
    "C8,CLSM Paris 19,actif,2014,,75119,\n"              # reduced
)


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    d = tmp_path_factory.mktemp("cmp")
    (d / "before.csv").write_text(BEFORE)
    (d / "after.csv").write_text(AFTER)
    before = coverage(d / "before.csv", 2024)
    after = coverage(d / "after.csv", 2024)
    return d, before, after, compare(before, after)


def _covered(result, council):
    q = result.qpv
    return set(q[q["status"].isin(["covered", "partial"]) & q["councils"].map(lambda c: council in c)]["code_qp"])


def test_every_council_change_is_named(results):
    _, _, _, cmp = results
    changes = dict(zip(cmp.councils["id"], cmp.councils["change"]))
    assert changes == {"C2": "enlarged", "C3": "paused", "C4": "activated", "C5": "closed", "C6": "created",
                       "C8": "reduced"}
    row = cmp.councils.set_index("id").loc["C2"]
    assert row["communes_added"] == "75117" and row["communes_removed"] == ""
    assert cmp.councils.set_index("id").loc["C8", "communes_removed"] == "75120"


def test_every_qpv_change_has_its_reason(results):
    _, before, after, cmp = results
    q = cmp.qpv.set_index("code_qp")
    expected = {}
    for council, reason in (("C6", "new_council"), ("C4", "new_council"), ("C2", "extension")):
        for code in _covered(after, council) - _covered(before, "C2") - _covered(before, "C8"):
            expected[code] = reason
    for council, reason in (("C3", "pause"), ("C5", "closure"), ("C8", "reduction")):
        for code in _covered(before, council) - _covered(after, "C8"):
            expected.setdefault(code, reason)
    gained = q[q["change"] == "newly_covered"]
    lost = q[q["change"] == "no_longer_covered"]
    assert len(gained) >= 8 and len(lost) >= 5  # Saint-Denis, Marseille 3, Le Havre, Roubaix have many QPV
    for code, row in q.iterrows():
        if row["change"] in ("newly_covered", "no_longer_covered"):
            assert row["change_reason"] == expected[code], (code, row.to_dict())
    assert set(gained.index) | set(lost.index) <= set(expected)
    s = cmp.summary
    assert s["change"]["qpv_covered"] == after.summary["qpv_covered"] - before.summary["qpv_covered"]
    assert s["qpv_gained_by_reason"]["new_council"] == int((gained["change_reason"] == "new_council").sum())


def test_the_change_as_a_french_and_an_english_sentence(results):
    _, before, after, cmp = results
    s = cmp.summary
    d_active = after.summary["councils_active"] - before.summary["councils_active"]
    d_qpv = s["change"]["qpv_covered"]
    created = s["qpv_gained_by_reason"]["new_council"]
    sign = lambda n: ("+" if n > 0 else "-" if n < 0 else "") + str(abs(n))  # noqa: E731
    word = "actif" if abs(d_active) <= 1 else "actifs"
    assert cmp.sentence("fr") == (f"De 2024 à 2024\u00a0: {sign(d_active)} CLSM {word}, {sign(d_qpv)} QPV couverts "
                                  f"dont {created} par des créations.")
    assert cmp.sentence("en").startswith("From 2024 to 2024: ")
    assert "of which" in cmp.sentence("en") and "dont" not in cmp.sentence("en")


def test_same_file_twice_is_a_no_change_report(results, tmp_path, capsys):
    d, before, _, _ = results
    assert compare(before, before).sentence("fr") == "De 2024 à 2024\u00a0: aucun changement."
    code = main(["--offline", "compare", "--registry", str(d / "before.csv"), "--year", "2024", "--year-to", "2024",
                 "--out", str(tmp_path / "o")])
    out = capsys.readouterr().out
    assert code == 0 and "aucun changement" in out
    summary = json.loads((tmp_path / "o" / "compare.json").read_text())
    assert summary["no_change"] is True


def test_commune_merger_and_geography_change_between_vintages(tmp_path, capsys):
    """Saint-Denis 93066 absorbed Pierrefitte 93059 on 1 January 2025; overseas QPV 2024 apply from 2025."""
    reg = tmp_path / "r.csv"
    reg.write_text(HEAD + "S1,CLSM Saint-Denis,actif,2015,,93066,\nG1,CLSM Pointe-à-Pitre,actif,2015,,97120,\n")
    code = main(["--offline", "compare", "--registry", str(reg), "--year", "2024", "--year-to", "2025",
                 "--out", str(tmp_path / "o")])
    assert code == 0
    a, b = coverage(reg, 2024), coverage(reg, 2025)
    cmp = compare(a, b)
    assert dict(zip(cmp.councils["id"], cmp.councils["change"]))["S1"] == "commune_merger"
    q = cmp.qpv.set_index("code_qp")
    pierrefitte = b.qpv[b.qpv["communes"].map(lambda c: "93059" in c or c == ("93066",))]
    gained = q[(q["change"] == "newly_covered")]
    assert len(gained) and set(gained["change_reason"]) == {"commune_merger"}
    assert set(gained.index) <= set(pierrefitte["code_qp"])
    overseas = q[q["insee_dep"].str.startswith("97")]
    assert len(overseas) and set(overseas["change_reason"]) == {"qpv_geography_change"}
    names = {p.name for p in (tmp_path / "o").iterdir()}
    assert names == {"compare.json", "compare.xlsx", "compare_councils.csv", "compare_qpv.csv"}
