"""The collector paused while registries are read and validated and coverage is measured, and always restored."""

from __future__ import annotations

import gc

import pytest

import clsm_geo
from clsm_geo import _gc
from clsm_geo.errors import RegistryError


@pytest.fixture
def collector_on():
    was = gc.isenabled()
    gc.enable()
    yield
    gc.enable() if was else gc.disable()


def test_paused_restores_the_collector_after_an_error_and_when_nested(collector_on):
    with pytest.raises(ValueError):
        with _gc.paused():
            assert not gc.isenabled()
            with _gc.paused():
                assert not gc.isenabled()
            assert not gc.isenabled()  # the inner pause does not turn it back on
            raise ValueError
    assert gc.isenabled()


def test_a_collector_turned_off_by_the_caller_stays_off(collector_on):
    gc.disable()
    with _gc.paused():
        pass
    assert not gc.isenabled()


def test_steps_run_paused_and_leave_the_collector_on(tmp_path, collector_on):
    seen = []
    real = _gc.paused

    def spy():
        seen.append(gc.isenabled())
        return real()

    good = tmp_path / "good.csv"
    good.write_text("id,name,status,created,communes\nC1,A,actif,2019,75056\nC2,B,actif,2020,75056\n",
                    encoding="utf-8")
    bad = tmp_path / "bad.csv"
    bad.write_text("id,name,status,created,communes\nC1,A,inconnu,2019,75056\n", encoding="utf-8")
    _gc.paused = spy
    try:
        report = clsm_geo.validate(good, 2024)
        validating = len(seen)
        with pytest.raises(RegistryError):
            clsm_geo.coverage(bad, 2024)
    finally:
        _gc.paused = real
    assert gc.isenabled()
    assert seen[0] is True and validating >= 3  # validate, then the reader and the perimeters inside it
    assert seen[validating:] == [True, False]   # coverage, then the reader inside it (which fails)
    assert any(p.column == "communes" and p.severity == "warning" for p in report.problems)  # the overlap
