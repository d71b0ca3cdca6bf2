"""Data flows one way: (vintage, registry) → perimeters → coverage → analyses → outputs → facade → cli.

The vintage (boundaries, QPV layers, the tables built from them) and the registry are the two inputs; the
registry reader names regions and suggests codes from the reference data, so the vintage's modules come
first. Every import of every module (at the top or inside a function) is read from the source; a stage may
import its own stage or an earlier one, never a later one. In particular the engine's result does not import the
analyses and outputs that consume it: ``res.gaps()`` and ``res.to_files()`` live on
:class:`clsm_geo.api.CoverageResult`, above both.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "clsm_geo"

#: Each module's stage (a package stands for its modules). Stages are listed in pipeline order.
STAGES: dict[str, tuple[str, ...]] = {
    "plumbing": ("settings", "errors", "i18n", "_progress", "_worker", "_zip", "_lazy_imports", "_gc", "_arrow",
                 "_outputs", "_download", "cache", "io", "columns", "provenance", "headline", "headline_sources",
                 "_mpl_docs", "figures"),
    "vintage": ("geography", "codes", "territories", "suggest", "qpv", "qpv_normalise", "qpv_sources", "in_force",
                "population", "units", "adjacency", "apportion", "_prebuilt", "vintages"),
    "registry": ("registry", "registry_template", "validation"),
    "perimeters": ("perimeters",),
    "coverage": ("coverage", "result"),
    "analyses": ("gaps", "plan", "trend", "compare"),
    "outputs": ("workbook", "charts", "coverage_files", "data_dictionary", "maps", "report"),
    "facade": ("api", "__init__"),
    "cli": ("cli", "__main__"),
}
ORDER = list(STAGES)
#: Imports against the flow that are known and kept, each with its reason. Keep this list short.
KNOWN = {
    # `clsm_geo.validate` (the `validate` command) checks a registry down to its perimeters.
    ("registry", "perimeters"),
    # An analysis result writes its own files (Trend.to_files, Comparison.to_files) with the workbook and
    # chart writers.
    ("analyses", "outputs"),
}


def _stage(module: str) -> str:
    parts = module.split(".")
    name = parts[1] if len(parts) > 1 else "__init__"
    for stage, names in STAGES.items():
        if name in names:
            return stage
    raise AssertionError(f"clsm_geo.{name} has no stage in tests/test_stages.py: add it where it belongs")


def _modules():
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE.parent).with_suffix("").parts
        module = ".".join(rel[:-1] if rel[-1] == "__init__" else rel)
        package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
        yield module, package, ast.parse(path.read_text(encoding="utf-8"))


def _imports(package: str, tree: ast.AST):
    """(imported clsm_geo module, line) for every import in ``tree``; the package root only for names that
    are not submodules (``__version__``) is left out."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("clsm_geo."):
                    yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[:len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if not target.startswith("clsm_geo"):
                continue
            for alias in node.names:
                sub = f"{target}.{alias.name}"
                as_path = PACKAGE.parent / Path(*sub.split("."))
                if as_path.with_suffix(".py").is_file() or as_path.is_dir():
                    yield sub, node.lineno
                elif target != "clsm_geo":
                    yield target, node.lineno


def test_every_module_has_a_stage():
    for module, _, _ in _modules():
        _stage(module)


@pytest.mark.parametrize("module", sorted(m for m, _, _ in _modules()))
def test_no_module_imports_a_later_stage(module):
    package, tree = next((p, t) for m, p, t in _modules() if m == module)
    own = _stage(module)
    against = []
    for target, line in _imports(package, tree):
        stage = _stage(target)
        if ORDER.index(stage) > ORDER.index(own) and (own, stage) not in KNOWN:
            against.append(f"line {line}: {target} ({stage})")
    assert not against, f"{module} ({own}) imports a later stage: " + "; ".join(against)


def test_the_result_imports_no_analysis_or_output():
    package, tree = next((p, t) for m, p, t in _modules() if m == "clsm_geo.result")
    later = {_stage(t) for t, _ in _imports(package, tree)} - set(ORDER[:ORDER.index("coverage") + 1])
    assert not later
