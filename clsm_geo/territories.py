"""Regions and departments by code or by name, any case, with or without accents.

    from clsm_geo.territories import region, department
    region("Île-de-France").code        # '11'
    region("ile-de-france").code        # '11'
    department("93").name               # 'Seine-Saint-Denis'
    department("seine st denis")        # InputError proposing 'Seine-Saint-Denis (93)'

A value is read as a code of the kind asked for first: ``region("75")`` is the region Nouvelle-Aquitaine
(INSEE region code 75), never the region of the department 75 (Paris). Every region code is also a
department code, so the resolved :class:`Territory` carries ``other_reading`` (the department with the same
code) for the caller to show. A value that is a department code but no region code (``region("31")``) is an
error that suggests ``--department 31`` and the region of that department. Names are compared after Unicode
normalisation (NFKD, accents dropped, case folded, ``-'’`` and ``Saint``/``St`` unified); an unknown name is
an error listing the closest names (rapidfuzz).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from .errors import InputError
from .i18n import t

__all__ = ["Territory", "department", "fold", "region"]

#: How many close names an error proposes.
SUGGESTIONS = 3
#: rapidfuzz WRatio score (0–100) under which a name is not proposed.
CUTOFF = 60


@dataclass(frozen=True)
class Territory:
    """A region or department of a COG year: ``kind`` is ``"region"`` or ``"department"``; ``region`` is the
    region code of a department (its own code for a region). ``other_reading`` names the territory of the
    other kind with the same code, when there is one (``"75 Paris"`` for the region 75)."""

    kind: str
    code: str
    name: str
    region: str
    other_reading: str | None = None

    def __str__(self) -> str:
        return f"{self.name} ({self.code})"


def fold(text: str) -> str:
    """Lower case, no accents, words separated by one space, ``st``/``ste`` as ``saint``/``sainte``."""
    text = unicodedata.normalize("NFKD", str(text)).encode("ascii", "ignore").decode().lower()
    text = re.sub(r"[\s\-_'’`.,/]+", " ", text).strip()
    return re.sub(r"\b(st|ste)\b", lambda m: "saint" if m.group(1) == "st" else "sainte", text)


def _tables(year: int):
    from .geography import geography

    geo = geography(year, nearest=True)
    regs = geo.attributes("regions")
    deps = geo.attributes("departments")
    return ({c: n for c, n in zip(regs["insee_reg"], regs["lib_reg"])},
            {c: (n, r) for c, n, r in zip(deps["insee_dep"], deps["lib_dep"], deps["insee_reg"])})


def _code(value: str) -> str:
    """``1`` -> ``01``, ``2a`` -> ``2A``; other text unchanged (stripped)."""
    v = value.strip().upper()
    return v.zfill(2) if v.isdigit() and len(v) == 1 else v


def _by_name(value: str, names: dict[str, str]) -> str | None:
    wanted = fold(value)
    for code, name in names.items():
        if fold(name) == wanted:
            return code
    return None


def closest(value: str, names: dict[str, str], limit: int = SUGGESTIONS) -> list[str]:
    """The ``limit`` names closest to ``value`` as ``Name (code)``, best first (rapidfuzz WRatio)."""
    from rapidfuzz import fuzz, process, utils

    choices = {code: fold(name) for code, name in names.items()}
    found = process.extract(fold(value), choices, scorer=fuzz.WRatio, processor=utils.default_process,
                            limit=limit, score_cutoff=CUTOFF)
    return [f"{names[code]} ({code})" for _, _, code in found]


def region(value: str, year: int = 2024) -> Territory:
    """The region whose INSEE code or name is ``value`` (see the module doc). :class:`InputError` otherwise."""
    regions, departments = _tables(year)
    code = _code(str(value))
    if code in regions:
        dep = departments.get(code)
        return Territory("region", code, regions[code], code, f"{code} {dep[0]}" if dep else None)
    if code in departments:
        name, reg = departments[code]
        raise InputError(t("cli.territory.department_not_region", code=code, name=name),
                         hint=t("cli.territory.use_department", code=code, region=reg, region_name=regions[reg]))
    found = _by_name(str(value), regions)
    if found:  # a name: no other reading
        return Territory("region", found, regions[found], found)
    dep = _by_name(str(value), {c: n for c, (n, _) in departments.items()})
    if dep:
        name, reg = departments[dep]
        raise InputError(t("cli.territory.department_not_region", code=dep, name=name),
                         hint=t("cli.territory.use_department", code=dep, region=reg, region_name=regions[reg]))
    raise _unknown("region", value, regions)


def department(value: str, year: int = 2024) -> Territory:
    """The department whose INSEE code or name is ``value``. :class:`InputError` otherwise."""
    regions, departments = _tables(year)
    names = {c: n for c, (n, _) in departments.items()}
    code = _code(str(value))
    if code in departments:
        name, reg = departments[code]
        return Territory("department", code, name, reg, f"{code} {regions[code]}" if code in regions else None)
    code = _by_name(str(value), names)
    if code:
        name, reg = departments[code]
        return Territory("department", code, name, reg)
    reg = _by_name(str(value), regions)
    if reg:
        raise InputError(t("cli.territory.region_not_department", value=value, name=regions[reg]),
                         hint=t("cli.territory.use_region", code=reg))
    raise _unknown("department", value, names)


def _unknown(kind: str, value, names: dict[str, str]) -> InputError:
    near = closest(str(value), names)
    hint = (t("cli.territory.closest", names=", ".join(near)) if near
            else t(f"cli.territory.list_{kind}"))
    return InputError(t(f"cli.territory.unknown_{kind}", value=value), hint=hint)


def qpv_scope(qpv, year: int = 2024) -> dict:
    """Whether a QPV layer covers all regions: ``{"qpv_scope": "national" | "partial", "qpv_regions": [codes
    present], "qpv_regions_missing": [codes absent]}``, from the ``insee_reg`` of every row of ``qpv`` (in force
    or not). A file of one region (a regional open-data copy) is ``partial``."""
    regions, _ = _tables(year)
    present = sorted({str(r) for r in qpv["insee_reg"].dropna()} & set(regions))
    missing = sorted(set(regions) - set(present))
    return {"qpv_scope": "partial" if missing else "national", "qpv_regions": present,
            "qpv_regions_missing": missing}


def names(codes, year: int = 2024, *, most: int = 6) -> str:
    """Region names of ``codes`` joined by commas, the tail summarised (``…, +3``)."""
    regions, _ = _tables(year)
    listed = [regions.get(c, c) for c in codes]
    return ", ".join(listed[:most]) + (f", +{len(listed) - most}" if len(listed) > most else "")
