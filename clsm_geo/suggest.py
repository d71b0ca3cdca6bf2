"""Closest valid values for a wrong one, by rapidfuzz after Unicode normalisation: statuses, column names,
commune and EPCI names (a name written where a code is expected -> its codes with the department).

Name look-ups read the shipped COG tables of :data:`NAMES_YEAR` (attributes only, no geometry) once.
"""

from __future__ import annotations

import functools

from .territories import fold

__all__ = ["closest", "commune_codes", "epci_codes"]

#: COG year whose commune and EPCI names answer "which code did you mean".
NAMES_YEAR = 2024
#: rapidfuzz score (0–100) under which a value is not proposed.
CUTOFF = 75
#: How many homonyms or close names a suggestion lists.
MOST = 5


def closest(value: str, choices, *, cutoff: float = CUTOFF) -> str | None:
    """The choice closest to ``value`` (case, accents, ``-``/``_`` ignored), or None under ``cutoff``."""
    from rapidfuzz import fuzz, process

    folded = {c: fold(c) for c in choices}
    found = process.extractOne(fold(value), folded, scorer=fuzz.ratio, score_cutoff=cutoff)
    return found[2] if found else None


@functools.cache
def _communes() -> tuple[dict[str, list[tuple[str, str]]], dict[str, str]]:
    """Folded commune name -> [(code, "Name, Department (dep)")]; department code -> name."""
    from .geography import read_layer

    deps = read_layer("departments", NAMES_YEAR, ["insee_dep", "lib_dep"])
    dep_names = dict(zip(deps["insee_dep"].tolist(), deps["lib_dep"].tolist()))
    communes = read_layer("communes", NAMES_YEAR, ["insee_com", "lib_com", "insee_dep"])
    by_name: dict[str, list[tuple[str, str]]] = {}
    for code, name, dep in zip(communes["insee_com"].tolist(), communes["lib_com"].tolist(),
                               communes["insee_dep"].tolist()):
        by_name.setdefault(fold(name), []).append((code, f"{name}, {dep_names.get(dep, dep)} ({dep})"))
    return by_name, dep_names


@functools.cache
def _epci() -> dict[str, list[tuple[str, str]]]:
    from .geography import read_layer

    epci = read_layer("epci", NAMES_YEAR, ["siren_epci", "lib_epci"])
    out: dict[str, list[tuple[str, str]]] = {}
    for code, name in zip(epci["siren_epci"].tolist(), epci["lib_epci"].tolist()):
        out.setdefault(fold(name), []).append((code, name))
    return out


def _lookup(value: str, table: dict[str, list[tuple[str, str]]]) -> tuple[bool, list[str]]:
    """``(exact, ["code (label)", ...])``: homonyms of an exact (folded) name, else the closest names."""
    from rapidfuzz import fuzz, process

    key = fold(value)
    if key in table:
        return True, [f"{code} ({label})" for code, label in table[key][:MOST]]
    found = process.extract(key, list(table), scorer=fuzz.ratio, limit=3, score_cutoff=CUTOFF)
    return False, [f"{code} ({label})" for name, _, _ in found for code, label in table[name][:2]][:MOST]


def commune_codes(value: str) -> tuple[bool, list[str]]:
    """INSEE codes for a commune name (``Toulouse`` -> ``31555 (Toulouse, Haute-Garonne (31))``)."""
    return _lookup(value, _communes()[0])


def epci_codes(value: str) -> tuple[bool, list[str]]:
    """SIREN codes for an EPCI name."""
    return _lookup(value, _epci())
