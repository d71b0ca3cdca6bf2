"""A tour of the clsm_geo Python API on the fictitious example registry (runs offline).

    python examples/api_tour.py [--out DIR]

Files are written under ``--out`` (default ``out/api-tour`` in the current folder), never beside the package.
"""

import argparse
from pathlib import Path

import clsm_geo

HERE = Path(__file__).resolve().parent
REGISTRY = HERE / "registry_fictitious.csv"

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--out", default="out/api-tour", help="output folder (default: out/api-tour here)")
OUT = Path(parser.parse_args().out)
clsm_geo.settings.configure(offline=True)

# 1. Reference geography of a COG year: communes, arrondissements, EPCI, departments, regions (EPSG:4326).
geo = clsm_geo.geography(2024)
print(f"COG {geo.year}: {len(geo.communes):,} communes, {len(geo.epci):,} EPCI, {len(geo.departments)} departments")

# 2. Codes from earlier vintages resolve to the communes of the year, and say how.
print(clsm_geo.resolve_communes(["91182", "50173", "8294", "75113"], 2024)[["code", "insee_com", "how"]])

# 3. The QPV layer: the --qpv file, else the cache, else the layer shipped with the package.
layer = clsm_geo.qpv(2024)
print(layer.source.describe()[:120], "…")

# 4. Validate the registry: every problem with file, row, column.
report = clsm_geo.validate(REGISTRY, 2024)
print(report)

# 5. Coverage in 2024: the headline, per-region figures, per-QPV statuses.
res = clsm_geo.coverage(REGISTRY, year=2024)
print(res.headline)                 # in French by default (CLSM_GEO_LANG / lang= for English)
print(res.headline_in("en"))
print(res.regions[["lib_reg", "councils_active", "qpv_total", "qpv_covered", "qpv_covered_share"]].head(8))
print(res.qpv["status"].value_counts())
print(res.councils_table[["id", "name", "scale", "n_communes", "qpv_covered"]].head(5))
if res.reconciliation is not None:
    print(res.reconciliation[["code_qp", "status_commune", "status_geometry", "reason"]].head(3).to_string())

# 6. Territories by code or name: any case, accents optional.
print(clsm_geo.region("ile-de-france"), clsm_geo.department("seine st denis"))

# 7. Files: summary.json, qpv.csv, councils.csv, regions.csv, departments.csv (+ xlsx, geojson, parquet).
written = res.to_files(OUT, formats=("csv", "xlsx"))
print(f"{len(written)} files written to {OUT}/")
