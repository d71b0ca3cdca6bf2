"""`clsm-geo --help`, `--version` and a bad option import neither pandas, geopandas nor matplotlib."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PROBE = """
import sys
from clsm_geo.cli import main
try:
    main(sys.argv[1:])
except SystemExit:
    pass
heavy = sorted(m for m in ("pandas", "geopandas", "matplotlib", "numpy", "scipy", "shapely") if m in sys.modules)
print("HEAVY=" + ",".join(heavy))
"""


@pytest.mark.parametrize("argv", [["--help"], ["--version"], ["--no-such-option"], ["coverage", "--help"],
                                  ["map", "interactive", "--help"]])
def test_cli_help_and_errors_stay_light(argv):
    out = subprocess.run([sys.executable, "-c", PROBE, *argv], cwd=REPO, capture_output=True, text=True, timeout=60)
    line = [x for x in out.stdout.splitlines() if x.startswith("HEAVY=")]
    assert line == ["HEAVY="], (argv, line, out.stderr[-500:])


def test_an_offline_run_imports_no_network_library(tmp_path):
    """``--offline`` reads the shipped data and the cache: requests (and urllib3) are imported only to download;
    the shipped Parquet files are read one by one, without pyarrow's dataset layer."""
    probe = PROBE.replace('("pandas", "geopandas", "matplotlib", "numpy", "scipy", "shapely")',
                          '("requests", "urllib3", "matplotlib", "xlsxwriter", "pyarrow.dataset")')
    argv = ["--offline", "-q", "coverage", "--year", "2024", "--registry", str(REPO / "examples" /
            "registry_fictitious.csv"), "--format", "csv", "--out", str(tmp_path / "out")]
    out = subprocess.run([sys.executable, "-c", probe, *argv], cwd=REPO, capture_output=True, text=True, timeout=300)
    line = [x for x in out.stdout.splitlines() if x.startswith("HEAVY=")]
    assert line == ["HEAVY="], (line, out.stderr[-500:])
    assert (tmp_path / "out" / "qpv.csv").is_file()


def test_coverage_reads_no_geometry_library_it_does_not_need(tmp_path):
    """``clsm-geo coverage`` (tables and workbook, no map) runs without geopandas nor pyproj (the example lists
    former communes: their shares are read from ``data/prebuilt``), in the program and in the child writing the
    workbook: importing them is made to fail in both (the child is a fork of the program)."""
    probe = ("import sys\n"
             "class Refuse:\n"
             "    def find_spec(self, name, path=None, target=None):\n"
             "        if name.split('.')[0] in ('geopandas', 'pyproj', 'matplotlib'):\n"
             "            raise ImportError('refused: ' + name)\n"
             "sys.meta_path.insert(0, Refuse())\n" + PROBE.replace(
                 '("pandas", "geopandas", "matplotlib", "numpy", "scipy", "shapely")', '("geopandas", "pyproj", "matplotlib")'))
    argv = ["--offline", "-q", "coverage", "--year", "2024", "--registry", str(REPO / "examples" /
            "registry_fictitious.csv"), "--out", str(tmp_path / "out")]
    out = subprocess.run([sys.executable, "-c", probe, *argv], cwd=REPO, capture_output=True, text=True, timeout=300)
    line = [x for x in out.stdout.splitlines() if x.startswith("HEAVY=")]
    assert line == ["HEAVY="], (line, out.stderr[-500:])
    assert "refused" not in out.stdout + out.stderr, out.stderr[-800:]
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "councils.csv", "coverage.xlsx", "departments.csv", "qpv.csv", "reconciliation.csv", "regions.csv",
        "summary.json"]


def test_the_program_imports_one_folium_plugin_and_the_package_still_works(tmp_path):
    """``clsm-geo map interactive`` imports the Fullscreen plugin alone (folium.plugins' __init__, which
    imports every plugin, is deferred: clsm_geo._lazy_imports); asked for, the package is all there."""
    probe = (PROBE.replace('("pandas", "geopandas", "matplotlib", "numpy", "scipy", "shapely")',
                           '("folium.plugins.antpath", "folium.plugins.heat_map")')
             .replace("from clsm_geo.cli import main", "from clsm_geo import _lazy_imports\n_lazy_imports.defer()\n"
                      "from clsm_geo.cli import main")
             + "import folium.plugins\n"
             "from folium.plugins import AntPath, Fullscreen, HeatMap\n"
             "from folium.plugins.fullscreen import Fullscreen as F\n"
             "print('AFTER', Fullscreen is F, AntPath.__module__, len(folium.plugins.__all__) > 30)\n")
    out_file = tmp_path / "m.html"
    argv = ["--offline", "-q", "map", "interactive", "--offline", "--year", "2024", "--registry",
            str(REPO / "examples" / "registry_fictitious.csv"), "--out", str(out_file)]
    out = subprocess.run([sys.executable, "-c", probe, *argv], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert [x for x in out.stdout.splitlines() if x.startswith("HEAVY=")] == ["HEAVY="], out.stderr[-800:]
    assert "AFTER True folium.plugins.antpath True" in out.stdout, out.stderr[-800:]
    assert "L.control.fullscreen" in out_file.read_text(encoding="utf-8")


def test_deferred_package_init_runs_once_on_first_attribute():
    """A package deferred by _lazy_imports.defer(inits=...) has its path (submodules import alone) and runs its
    __init__ once, when first asked for an attribute; an attribute it does not define is an AttributeError."""
    probe = ("import sys\n"
             "from clsm_geo import _lazy_imports\n"
             "_lazy_imports.defer(names=(), inits=('email.mime',))\n"
             "import email.mime.text\n"
             "pkg = sys.modules['email.mime']\n"
             "print('BEFORE', '__getattr__' in pkg.__dict__)\n"
             "try:\n"
             "    pkg.no_such_name\n"
             "except AttributeError:\n"
             "    print('MISSING ok')\n"
             "print('AFTER', '__getattr__' in pkg.__dict__, email.mime.text.MIMEText.__name__)\n")
    out = subprocess.run([sys.executable, "-c", probe], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert out.stdout.split("\n")[:3] == ["BEFORE True", "MISSING ok", "AFTER False MIMEText"], out.stderr[-800:]
