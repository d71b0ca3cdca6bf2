"""The example notebook, executed in a real Jupyter kernel (nbclient + ipykernel), and the names the docs use.

The notebook runs in a copy of ``examples/`` (its files go under the copy's ``out/``, never beside the
package), in a fresh kernel: no ``%matplotlib inline``, no pyplot import by the notebook.
"""

from __future__ import annotations

import base64
import json
import re
import shutil
import sys
from pathlib import Path

import pytest

import clsm_geo

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "examples"
MAX_OUTPUT = 100_000  # bytes of any one output as stored in the notebook


def _output_size(output: dict) -> int:
    return len(json.dumps(output, ensure_ascii=False).encode())


@pytest.fixture(scope="module")
def executed(tmp_path_factory):
    """The tour notebook executed in a fresh python3 kernel, in a copy of examples/."""
    nbformat = pytest.importorskip("nbformat")
    from nbclient import NotebookClient

    work = tmp_path_factory.mktemp("tour")
    for name in ("tour.ipynb", "registry_fictitious.csv"):
        shutil.copy(EXAMPLES / name, work / name)
    nb = nbformat.read(work / "tour.ipynb", as_version=4)
    # one extra cell, for the test only: the state matplotlib is left in
    nb.cells.append(nbformat.v4.new_code_cell(
        "import sys, matplotlib\nprint(matplotlib.get_backend(), 'matplotlib.pyplot' in sys.modules)"))
    data_dir = tmp_path_factory.mktemp("tour-data")
    client = NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(work)}},
                            allow_errors=False)
    import os

    env = {"CLSM_GEO_DATA_DIR": str(data_dir), "PYTHONPATH": str(REPO)}
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        client.execute()
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    return nb, work


def test_the_tour_runs_without_error_and_stays_light(executed):
    nb, work = executed
    outputs = [o for cell in nb.cells if cell.cell_type == "code" for o in cell.outputs]
    assert outputs and not [o for o in outputs if o.output_type == "error"]
    assert not [o for o in outputs if o.output_type == "stream" and o.name == "stderr" and "Traceback" in o.text]
    sizes = [_output_size(o) for o in outputs]
    assert max(sizes) < MAX_OUTPUT, sorted(sizes)[-3:]


def test_figures_display_as_images_in_a_fresh_kernel(executed):
    nb, _ = executed
    plot_cell = next(c for c in nb.cells if c.cell_type == "code" and c.source.startswith("res.plot("))
    images = [o for o in plot_cell.outputs if "image/png" in o.get("data", {})]
    assert len(images) == 1
    png = base64.b64decode(images[0]["data"]["image/png"])
    assert png.startswith(b"\x89PNG") and 10_000 < len(png) < 75_000


def test_rich_displays_are_short_and_say_the_essentials(executed):
    nb, _ = executed
    code = [c for c in nb.cells if c.cell_type == "code"]
    first = code[0].outputs[-1]["data"]["text/html"]
    assert "CLSM" in first and "QPV couverts" in first and "dont partiellement (seuil 1\u00a0%)" in first
    assert "Source QPV\u00a0: couche livrée" in first and len(first) < 5_000
    assert "/work" not in first and str(REPO) not in first                 # no local path
    trend = next(c for c in code if c.source.startswith("tr = clsm_geo.trend"))
    html = trend.outputs[-1]["data"]["text/html"]
    assert "Évolution 2023–2025" in html and html.count("<tr>") == 4
    interactive = next(c for c in code if c.source.startswith("res.map("))
    assert "leaflet" in interactive.outputs[-1]["data"]["text/html"].lower()
    errors = next(c for c in code if "seine st denys" in c.source)
    assert "Seine-Saint-Denis (93)" in errors.outputs[0]["text"]


def test_files_go_under_the_working_folder_and_matplotlib_state_is_untouched(executed):
    nb, work = executed
    written = next(c for c in nb.cells if c.cell_type == "code" and "to_files" in c.source)
    assert "out/trend/trend.png" in written.outputs[-1]["data"]["text/plain"]
    assert (work / "out" / "trend" / "trend.png").is_file()
    assert not (EXAMPLES / "out").exists()
    backend = nb.cells[-1].outputs[0]["text"]
    assert "agg" != backend.split()[0].lower()                               # the inline backend stayed


def test_every_name_the_readme_and_docs_use_exists():
    texts = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md")), EXAMPLES / "README.md"]
    names = set()
    for path in texts:
        for block in re.findall(r"```python\n(.*?)```", path.read_text(encoding="utf-8"), flags=re.S):
            names |= set(re.findall(r"\bclsm_geo\.([A-Za-z_]\w*)\b", block))
    assert {"coverage", "trend", "geography"} <= names
    missing = [n for n in sorted(names) if not hasattr(clsm_geo, n)]
    assert not missing


def test_the_api_tour_script_writes_under_the_given_folder(tmp_path):
    import subprocess

    done = subprocess.run([sys.executable, str(EXAMPLES / "api_tour.py"), "--out", str(tmp_path / "tour")],
                          cwd=tmp_path, capture_output=True, text=True, timeout=600,
                          env={**__import__("os").environ, "PYTHONPATH": str(REPO)})
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "tour" / "summary.json").is_file()
    assert not (EXAMPLES / "out").exists() and not (REPO / "out").exists()


def test_exporting_charts_and_maps_leaves_the_global_matplotlib_state_alone(tmp_path):
    import matplotlib
    import pandas as pd
    from matplotlib import _pylab_helpers

    from clsm_geo.charts import trend_chart
    from clsm_geo.figures import InlineFigure

    def raw():  # rcParams read without resolving the backend (reading it through rcParams would switch it)
        return {key: dict.__getitem__(matplotlib.rcParams, key) for key in dict.keys(matplotlib.rcParams)}

    rc = raw()
    national = pd.DataFrame({"year": [2023, 2024], "councils_active": [10, 12], "qpv_covered_share": [0.2, 0.25],
                             "qpv_geography": [2015, 2024]})
    trend_chart(national, tmp_path / "t.png")
    after = raw()
    assert after["backend"] is rc["backend"]                        # no matplotlib.use()
    assert {k: v for k, v in after.items() if k != "backend"} == {k: v for k, v in rc.items() if k != "backend"}
    assert not _pylab_helpers.Gcf.get_all_fig_managers()            # nothing left open in pyplot
    fig = InlineFigure(figsize=(2, 1))
    fig.subplots().plot([0, 1], [0, 1])
    assert fig._repr_png_().startswith(b"\x89PNG")
