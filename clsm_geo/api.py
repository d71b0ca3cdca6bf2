"""What :func:`clsm_geo.coverage` returns: the engine's result with the analyses and outputs one call away.

A thin layer above the engine, the analyses and the outputs. The engine's result
(:class:`clsm_geo.result.CoverageResult`) is plain data and imports none of the modules that consume it;
:class:`CoverageResult` here is the same object with methods that call them: ``res.uncovered()``,
``res.gaps()``, ``res.plan()``, ``res.map()``, ``res.plot()``, ``res.report()``, ``res.to_files()``. So data
flows one way (registry → vintage → perimeters → coverage → analyses → outputs) while a notebook still
writes ``clsm_geo.coverage("conseils.csv", 2024).plot()``.
"""

from __future__ import annotations

from pathlib import Path

from . import result as _result


class CoverageResult(_result.CoverageResult):
    """A coverage result (see :class:`clsm_geo.result.CoverageResult` for its tables and figures) with the
    analyses and outputs as methods."""

    @classmethod
    def of(cls, res: _result.CoverageResult) -> CoverageResult:
        """``res`` as this class: the same fields and the tables already computed, nothing copied."""
        if isinstance(res, cls):
            return res
        out = object.__new__(cls)
        out.__dict__.update(res.__dict__)  # fields and cached tables (frozen dataclass: no __setattr__)
        return out

    def uncovered(self):
        """Uncovered and partial QPV with their nearest active council (see :mod:`clsm_geo.gaps`)."""
        from .gaps import uncovered

        return uncovered(self)

    def gaps(self, lang: str | None = None):
        """Gaps of the network, one row per finding with a ``kind`` and a sentence in ``lang`` (default: the
        current language; see :mod:`clsm_geo.gaps`)."""
        from .gaps import gaps

        return gaps(self, lang)

    def plan(self, steps: int = 20, lang: str | None = None):
        """Greedy extension plan: the ``steps`` creations/extensions that raise coverage most (names of councils
        to create in ``lang``; :func:`clsm_geo.plan.step_sentences` says each step)."""
        from .plan import plan

        return plan(self, steps, lang)

    def map(self, **options):
        """Interactive folium map of councils, QPV and territories (see :mod:`clsm_geo.maps.interactive`)."""
        from .maps.interactive import interactive_map

        return interactive_map(self, **options)

    def plot(self, **options):
        """Static choropleth with overseas insets (see :mod:`clsm_geo.maps.static`): a matplotlib Figure
        (:class:`clsm_geo.figures.InlineFigure`) that a notebook shows by itself; ``path=`` also writes it.
        No pyplot: the global matplotlib state (backend, open figures) is left untouched."""
        from .maps.static import choropleth

        return choropleth(self, **options)

    def report(self, **options):
        """The yearly report (HTML + Markdown), national or ``region=`` (see :mod:`clsm_geo.report`)."""
        from .report import report

        return report(self, **options)

    def to_files(self, directory: str | Path, formats=("csv", "xlsx"), lang: str | None = None, *,
                 parallel: bool = False, workbook=None) -> list[Path]:
        """Write ``summary.json`` and the tables in each format into ``directory``, all of them or none (see
        :func:`clsm_geo.coverage_files.write_files`: formats ``csv``, ``xlsx``, ``geojson``, ``parquet``)."""
        from .coverage_files import write_files

        return write_files(self, directory, formats, lang, parallel=parallel, workbook=workbook)


def coverage(registry, year: int = 2024, *, qpv=None, method: str = "auto", population=None, settings=None,
             vintage=None) -> CoverageResult:
    """Coverage of the QPV in force in ``year`` by the councils active at 31 December of ``year``.

    The engine, :func:`clsm_geo.coverage.coverage` (same arguments: ``registry`` a path or a
    :class:`~clsm_geo.registry.Registry`; ``qpv`` a layer, path, URL or ``{geography: …}``; ``method``
    ``auto``, ``commune`` or ``geometry``; ``population`` INSEE files; ``settings``; ``vintage`` one already
    built), and its result as a :class:`CoverageResult`.
    """
    from .coverage import coverage as engine

    return CoverageResult.of(engine(registry, year, qpv=qpv, method=method, population=population,
                                    settings=settings, vintage=vintage))
