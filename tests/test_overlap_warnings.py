"""The overlap warnings filled column by column say exactly what one ``str.format`` per part said; the
validation report lists problems in the same order on every run."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings as hsettings, strategies as st
from scipy import sparse

from clsm_geo import i18n
from clsm_geo.errors import Problem
from clsm_geo.perimeters import _overlap_warnings

REPO = Path(__file__).resolve().parents[1]


def reference(councils, file, year, *, most, matrix, unit_labels):
    """The warnings as they were written before, one council and one part at a time."""
    active = (councils["status"] == "active").to_numpy()
    holders: dict[int, int] = {}
    shared: dict[int, dict[int, list[int]]] = {}
    ids = councils["id"].tolist()
    for i in np.flatnonzero(active).tolist():                   # registry order: the first holder owns a unit
        for u in sorted(matrix[i].indices.tolist()):
            if u not in holders:
                holders[u] = i
            else:
                shared.setdefault(i, {}).setdefault(holders[u], []).append(u)
    lang = i18n.get_lang()
    part, message = i18n.template("perimeters.overlap.part", lang), i18n.template("perimeters.overlap.message", lang)
    out = []
    for i in sorted(shared):
        others = sorted(shared[i], key=lambda o: (str(ids[o]), o))
        parts = []
        for o in others[:most]:
            units = shared[i][o]
            sample = ", ".join(unit_labels[u] for u in units[:3]) + (" …" if len(units) > 3 else "")
            parts.append(part.format(other=ids[o], n=i18n.fmt_int(len(units), lang), sample=sample))
        more = i18n.tn("perimeters.overlap.more", len(others) - most, lang) if len(others) > most else ""
        text = message.format(id=ids[i], year=year, parts=i18n.t("perimeters.overlap.separator", lang).join(parts),
                              more=more)
        out.append(Problem("warning", file, int(councils["row"].iloc[i]), "communes", None, text,
                           i18n.t("perimeters.overlap.hint", lang)))
    return out


@st.composite
def networks(draw):
    n = draw(st.integers(1, 14))
    n_units = draw(st.integers(1, 9))
    cells = draw(st.lists(st.lists(st.integers(0, n_units - 1), max_size=6, unique=True), min_size=n, max_size=n))
    status = draw(st.lists(st.sampled_from(["active", "active", "in_project", "dormant"]), min_size=n, max_size=n))
    ids = draw(st.lists(st.text("AB1é ", min_size=1, max_size=3), min_size=n, max_size=n, unique=True))
    rows = [r for r, c in zip(range(2, 2 + n), cells) for _ in c]
    cols = [u for c in cells for u in c]
    matrix = sparse.csr_matrix((np.ones(len(cols)), ([r - 2 for r in rows], cols)), shape=(n, n_units))
    matrix.sort_indices()
    councils = pd.DataFrame({"id": ids, "status": status, "row": range(2, 2 + n)})
    labels = [f"{10000 + 37 * u:05d}" if u % 3 else f"Commune {u} {{x}}" for u in range(n_units)]
    return councils, matrix, labels, draw(st.integers(1, 5)), draw(st.sampled_from(["fr", "en"]))


@hsettings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(networks())
def test_overlap_warnings_are_those_written_one_part_at_a_time(case):
    councils, matrix, labels, most, lang = case
    i18n.set_lang(lang)
    try:
        got = _overlap_warnings(councils, "r.csv", 2024, most=most, matrix=matrix, unit_labels=labels)
        want = reference(councils, "r.csv", 2024, most=most, matrix=matrix, unit_labels=labels)
    finally:
        i18n.set_lang(None)
    assert got == want


@hsettings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(["{a}", "{b}", " : ", "{{", "}}", "x", "\u202f; ", "{a}{a}"]), max_size=8),
       st.lists(st.tuples(st.text(max_size=4), st.text(max_size=4)), max_size=5), st.text(max_size=3))
def test_format_each_is_str_format_row_by_row(pieces, rows, scalar):
    text = "".join(pieces)
    a = [r[0] for r in rows]
    got = i18n.format_each(text, len(rows), a=a, b=scalar)
    assert got.tolist() == [text.format(a=x, b=scalar) for x in a]


@hsettings(max_examples=100, deadline=None)
@given(st.lists(st.text(max_size=3), max_size=12), st.integers(1, 5))
def test_format_each_in_blocks_is_str_format_row_by_row(rows, block):
    import pytest

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(i18n, "_FORMAT_BLOCK", block)  # blocks of 1-5 rows: the last one short, or none at all
        got = i18n.format_each("<{a}|{b}>", len(rows), a=rows, b=tuple(reversed(rows)))
    assert got.tolist() == [f"<{x}|{y}>" for x, y in zip(rows, reversed(rows))]


def test_format_each_with_a_format_spec_goes_row_by_row():
    assert i18n.format_each("{a:>3}|{b!r}", 2, a=["x", "yy"], b="z").tolist() == ["  x|'z'", " yy|'z'"]


def test_the_validation_report_lists_problems_in_the_same_order_in_every_process(tmp_path):
    """Two warnings on one row and one column (a code listed twice, an overlap): their order used to follow
    the string hashes of the process (a set), so two runs could write two different reports."""
    path = tmp_path / "r.csv"
    path.write_text("id,name,status,created,communes\nA,Un,actif,2010,01053;01053;01004\n"
                    "B,Deux,actif,2011,01053;01004;01004\n", encoding="utf-8")
    code = ("import sys, clsm_geo; r = clsm_geo.validate(sys.argv[1], 2024); "
            "print([(p.row, p.message) for p in r.problems])")
    seen = set()
    for seed in (0, 3):  # the two orders of the old set under these seeds (Python 3.11's string hashing)
        env = {**os.environ, "PYTHONHASHSEED": str(seed), "CLSM_GEO_LANG": "en",
               "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
        done = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True, env=env,
                              timeout=300)
        assert done.returncode == 0, done.stderr
        seen.add(done.stdout)
    assert len(seen) == 1
    order = eval(seen.pop())  # noqa: S307 - our own printout
    assert [row for row, _ in order] == [2, 3, 3]
    assert order[1][1] == "listed twice" and order[2][1].startswith("active council B overlaps")
