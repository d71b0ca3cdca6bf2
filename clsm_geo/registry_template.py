"""The registry template: a workbook to fill in, read back as is by :func:`clsm_geo.registry.read_registry`.

``write_template(path, year, lang)`` writes four sheets: the registry (headers in the chosen language, drop-down
list of statuses, checks on years and codes), instructions with examples, and the communes/arrondissements and
EPCI of COG ``year`` to pick codes from. A hidden sheet marks the file as a template so that reading it checks
that sheets and headers are where the template put them (a renamed sheet or a moved header is an error naming
the cell). The bytes are identical on rerun (fixed document dates and zip timestamps).
"""

from __future__ import annotations

import datetime
import os
from pathlib import Path

from . import i18n
from .errors import InputError

#: Registry columns of the template, in order (codes of :mod:`clsm_geo.registry`).
COLUMNS: tuple[str, ...] = ("id", "name", "status", "created", "closed", "communes", "epci", "region", "notes")
#: Name of the hidden sheet that marks a template (it holds the language and the template version).
MARKER_SHEET = "_clsm_geo"
TEMPLATE_VERSION = "1"
_WIDTHS = {"id": 16, "name": 40, "status": 14, "created": 12, "closed": 12, "communes": 40, "epci": 28,
           "region": 18, "notes": 40}
_ROWS = 2000  # rows prepared with drop-down lists and checks


def header_labels(lang: str) -> dict[str, str]:
    """Column code -> header of the template in ``lang``."""
    return {c: i18n.t(f"template.header.{c}", lang) for c in COLUMNS}


def column_aliases() -> dict[str, tuple[str, ...]]:
    """Column code -> template headers in every language (read back by the registry reader)."""
    return {c: tuple(i18n.t(f"template.header.{c}", lang) for lang in i18n.LANGS) for c in COLUMNS}


def write_template(path: str | os.PathLike, year: int = 2025, lang: str | None = None, *,
                   reference_sheets: bool = True) -> Path:
    """Write the registry template for COG ``year`` in ``lang`` to ``path`` (``.xlsx``) and return the path.

    ``reference_sheets=False`` leaves out the communes and EPCI sheets (a light file, e.g. for tests).
    """
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font
    from openpyxl.utils import get_column_letter
    from openpyxl.worksheet.datavalidation import DataValidation

    from .geography import geography
    from .io import atomic_path, fix_xlsx_times
    from .registry import MAX_YEAR, MIN_YEAR

    lang = i18n.get_lang(lang)
    geo = geography(year)
    t = lambda key, **kw: i18n.t(f"template.{key}", lang, **kw)  # noqa: E731
    wb = Workbook()
    reg = wb.active
    reg.title = t("sheet.registry")
    bold = Font(bold=True)
    for j, code in enumerate(COLUMNS, start=1):
        cell = reg.cell(row=1, column=j, value=t(f"header.{code}"))
        cell.font = bold
        reg.column_dimensions[get_column_letter(j)].width = _WIDTHS[code]
    reg.freeze_panes = "A2"
    letter = {c: get_column_letter(COLUMNS.index(c) + 1) for c in COLUMNS}
    status = DataValidation(type="list", formula1=f'"{t("status.choices")}"', allow_blank=True,
                            showErrorMessage=True, error=t("instructions.status_error"))
    years = DataValidation(type="whole", operator="between", formula1=str(MIN_YEAR), formula2=str(MAX_YEAR),
                           allow_blank=True, showErrorMessage=True,
                           error=t("instructions.year_error", low=MIN_YEAR, high=MAX_YEAR))
    codes = DataValidation(type="textLength", operator="greaterThanOrEqual", formula1="4", allow_blank=True,
                           showInputMessage=True, prompt=t("instructions.codes_prompt"), errorStyle="warning")
    for dv, cols in ((status, ("status",)), (years, ("created", "closed")), (codes, ("communes", "epci"))):
        for c in cols:
            dv.add(f"{letter[c]}2:{letter[c]}{_ROWS + 1}")
        reg.add_data_validation(dv)
    for c in ("id", "communes", "epci", "region"):  # codes stay text (leading zeros)
        reg.column_dimensions[letter[c]].number_format = "@"

    ins = wb.create_sheet(t("sheet.instructions"))
    ins.append([t("instructions.title")])
    ins["A1"].font = Font(bold=True, size=14)
    ins.append([t("instructions.intro", sheet=t("sheet.registry"), communes=t("sheet.communes"),
                  epci=t("sheet.epci"), year=year)])
    ins.append([])
    ins.append([t("instructions.column"), t("instructions.meaning")])
    for cell in ins[4]:
        cell.font = bold
    for code in COLUMNS:
        ins.append([t(f"header.{code}"), t(f"help.{code}")])
    ins.append([])
    ins.append([t("instructions.check")])
    ins.column_dimensions["A"].width = 28
    ins.column_dimensions["B"].width = 110
    for row in ins.iter_rows():
        for cell in row:
            cell.alignment = Alignment(wrap_text=True, vertical="top")

    if reference_sheets:
        _reference_sheets(wb, geo, t, bold)
    marker = wb.create_sheet(MARKER_SHEET)
    marker.append(["clsm-geo registry template", TEMPLATE_VERSION, lang, year])
    marker.sheet_state = "hidden"
    fixed = datetime.datetime(2000, 1, 1)
    wb.properties.created = wb.properties.modified = fixed
    wb.properties.creator = "clsm-geo"
    with atomic_path(path) as tmp:
        wb.save(tmp)
        fix_xlsx_times(tmp)
    return Path(path)


def _reference_sheets(wb, geo, t, bold) -> None:
    """The communes (and arrondissements) and EPCI of the COG year, to pick codes from."""
    com = wb.create_sheet(t("sheet.communes"))
    com.append([t("instructions.code"), t("instructions.commune_name"), t("instructions.department"),
                t("instructions.kind"), t("instructions.epci_siren")])
    rows = [(r.insee_com, r.lib_com, r.insee_dep, t("instructions.kind_commune"), r.siren_epci or "")
            for r in geo.communes.itertuples()]
    rows += [(r.insee_arm, r.lib_arm, r.insee_dep, t("instructions.kind_arrondissement"), "")
             for r in geo.arrondissements.itertuples()]
    for row in sorted(rows):
        com.append(list(row))
    _header_style(com, bold, (12, 40, 12, 24, 16))

    epci = wb.create_sheet(t("sheet.epci"))
    epci.append([t("instructions.epci_siren"), t("instructions.epci_name"), t("instructions.epci_kind"),
                 t("instructions.members")])
    for r in geo.epci.sort_values("siren_epci").itertuples():
        epci.append([r.siren_epci, r.lib_epci, r.type_epci, int(r.n_communes)])
    _header_style(epci, bold, (14, 60, 10, 18))


def _header_style(ws, bold, widths) -> None:
    from openpyxl.utils import get_column_letter

    for cell in ws[1]:
        cell.font = bold
    ws.freeze_panes = "A2"
    ws.auto_filter.ref = ws.dimensions
    for j, width in enumerate(widths, start=1):
        ws.column_dimensions[get_column_letter(j)].width = width
    ws.column_dimensions["A"].number_format = "@"


def registry_sheet(path: str | os.PathLike) -> str | int:
    """The sheet a registry workbook is read from: the template's registry sheet, checked, or the first one.

    For a template (hidden marker sheet present) the registry sheet must exist under its name in either
    language and keep its headers in place: else :class:`InputError` naming the sheet or the cell.
    """
    from openpyxl import load_workbook

    wb = load_workbook(path, read_only=True)
    try:
        if MARKER_SHEET not in wb.sheetnames:
            return 0
        marker = next(wb[MARKER_SHEET].iter_rows(max_row=1, values_only=True), ())
        lang = marker[2] if len(marker) > 2 and marker[2] in i18n.LANGS else i18n.get_lang()
        names = {i18n.t("template.sheet.registry", code) for code in i18n.LANGS}
        found = [n for n in wb.sheetnames if n in names]
        name = Path(path).name
        if not found:
            visible = [n for n in wb.sheetnames if n != MARKER_SHEET]
            raise InputError(i18n.t("template.error.sheet_missing", None, file=name,
                                    expected=i18n.t("template.sheet.registry", lang), found=", ".join(visible)))
        sheet = found[0]
        header = next(wb[sheet].iter_rows(max_row=1, values_only=True), ())
        aliases = column_aliases()
        for j, code in enumerate(COLUMNS):
            value = header[j] if j < len(header) else None
            if str(value or "").strip() not in aliases[code]:
                from openpyxl.utils import get_column_letter

                raise InputError(i18n.t("template.error.header_moved", None, file=name,
                                        cell=f"{get_column_letter(j + 1)}1", sheet=sheet,
                                        expected=i18n.t(f"template.header.{code}", lang), found=value or ""))
        return sheet
    finally:
        wb.close()
