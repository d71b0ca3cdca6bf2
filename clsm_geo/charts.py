"""Charts that are not maps: the yearly trend (councils active, share of QPV covered).

Figures are built with :class:`matplotlib.figure.Figure` directly (no pyplot), so the global matplotlib
state (backend, open figures) is never changed; labels come from the ``charts`` catalogue.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from . import i18n
from .io import atomic_path


def trend_figure(national: pd.DataFrame, lang: str | None = None):
    """Bars of councils active per year and a line of the share of QPV covered (a matplotlib Figure)."""
    import matplotlib
    from .figures import InlineFigure
    from matplotlib.ticker import FuncFormatter

    lang = i18n.get_lang(lang)

    def label(key: str, **values) -> str:
        return i18n.t(f"charts.trend.{key}", lang, **values)

    with matplotlib.rc_context({"font.size": 9}):
        fig = InlineFigure(figsize=(8, 4.5), dpi=100)
        ax = fig.add_subplot()
        years = national["year"].astype(int)
        ax.bar(years, national["councils_active"], color="#4575b4", label=label("bars"))
        ax.set_ylabel(label("bars_axis"))
        ax.set_ylim(0, max(1, float(national["councils_active"].max())) * 1.25)
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: i18n.fmt_int(v, lang) if v == int(v) else ""))
        ax.set_xticks(list(years))
        share = pd.to_numeric(national["qpv_covered_share"], errors="coerce") * 100
        ax2 = ax.twinx()
        ax2.plot(years, share, color="#d73027", marker="o", label=label("share"))
        ax2.set_ylim(0, 100)
        ax2.set_ylabel(label("share"))
        overseas = national["qpv_overseas_geography"] if "qpv_overseas_geography" in national else \
            national["qpv_geography"]
        for i, year in enumerate(years):
            if i == 0 or years.iloc[i - 1] != year - 1:
                continue
            apart = bool((overseas != national["qpv_geography"]).any())  # territories switched in different years
            texts = [label(f"geography{part}", geography=series.iloc[i], year=year)
                     for part, series in (("_metropolitan" if apart else "", national["qpv_geography"]),
                                          ("_overseas", overseas))
                     if series.iloc[i] != series.iloc[i - 1]]
            if texts:  # the switch of QPV geography: metropolitan France in 2024, overseas in 2025
                ax.axvline(year - 0.5, color="grey", linestyle="--", linewidth=0.8)
                ax.text(year - 0.47, ax.get_ylim()[1] * 0.02, "\n".join(texts),
                        fontsize=8, color="grey", rotation=90, ha="left", va="bottom")
        ax.set_title(label("title"))
        handles = ax.get_legend_handles_labels()[0] + ax2.get_legend_handles_labels()[0]
        labels = ax.get_legend_handles_labels()[1] + ax2.get_legend_handles_labels()[1]
        ax.legend(handles, labels, loc="upper left", frameon=False, ncols=2)
        fig.text(0.01, 0.01, label("sources"), fontsize=7, color="#555555")
        fig.tight_layout(rect=(0, 0.03, 1, 1))
    return fig


def trend_chart(national: pd.DataFrame, path: str | Path, lang: str | None = None) -> Path:
    """:func:`trend_figure` written as PNG, SVG or PDF (by the suffix of ``path``), atomically.

    Deterministic: no creation date in the metadata, a fixed SVG hash salt.
    """
    import matplotlib

    path = Path(path)
    fmt = path.suffix.lstrip(".").lower()
    fig = trend_figure(national, lang)
    metadata = {"svg": {"Date": None}, "pdf": {"CreationDate": None}}.get(fmt, {"Software": None})
    with matplotlib.rc_context({"svg.hashsalt": "clsm-geo"}), atomic_path(path) as tmp:
        fig.savefig(tmp, format=fmt, metadata=metadata)
    return path
