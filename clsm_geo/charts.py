"""Charts that are not maps: the yearly trend (councils active, share of QPV covered)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from .io import atomic_path


def trend_chart(national: pd.DataFrame, path: str | Path) -> Path:
    """Bars of councils active per year and a line of the share of QPV covered; PNG, SVG or PDF.

    Deterministic: no creation date in the metadata, a fixed SVG hash salt.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path = Path(path)
    fmt = path.suffix.lstrip(".").lower()
    with matplotlib.rc_context({"svg.hashsalt": "clsm-geo", "font.size": 9}):
        fig, ax = plt.subplots(figsize=(8, 4.5), dpi=100)
        years = national["year"].astype(int)
        ax.bar(years, national["councils_active"], color="#4575b4", label="CLSM active at 31 Dec")
        ax.set_ylabel("councils active")
        ax.set_ylim(0, max(1, float(national["councils_active"].max())) * 1.25)
        ax.set_xticks(list(years))
        share = pd.to_numeric(national["qpv_covered_share"], errors="coerce") * 100
        ax2 = ax.twinx()
        ax2.plot(years, share, color="#d73027", marker="o", label="QPV covered (%)")
        ax2.set_ylim(0, 100)
        ax2.set_ylabel("QPV covered (%)")
        over = national["qpv_overseas_geography"] if "qpv_overseas_geography" in national else national[
            "qpv_geography"]
        for year, geography, overseas in zip(years, national["qpv_geography"], over):
            before = years == year - 1
            if year == years.min() or not before.any():
                continue
            label = []
            if geography != national.loc[before, "qpv_geography"].iloc[0]:
                label.append(f"QPV {geography} geography (metropolitan) →")
            if overseas != over[before].iloc[0]:
                label.append(f"QPV {overseas} geography (overseas) →")
            if label:
                ax.axvline(year - 0.5, color="grey", linestyle="--", linewidth=0.8)
                ax.text(year - 0.45, ax.get_ylim()[1] * 0.97, "\n".join(label), fontsize=8, color="grey",
                        va="top")
        ax.set_title("CLSM network and QPV coverage by year")
        handles = ax.get_legend_handles_labels()[0] + ax2.get_legend_handles_labels()[0]
        labels = ax.get_legend_handles_labels()[1] + ax2.get_legend_handles_labels()[1]
        ax.legend(handles, labels, loc="upper left", frameon=False, ncols=2)
        fig.text(0.01, 0.01, "Sources: councils' registry; ANCT QPV geographies 2015 and 2024; INSEE COG.",
                 fontsize=7, color="#555555")
        fig.tight_layout(rect=(0, 0.03, 1, 1))
        metadata = {"svg": {"Date": None}, "pdf": {"CreationDate": None}}.get(fmt, {"Software": None})
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format=fmt, metadata=metadata)
        plt.close(fig)
    return path
