"""Modules that the ``clsm-geo`` program imports only when they are used (:func:`defer`).

SciPy's array-API layer (``scipy._lib.array_api_compat.numpy``, imported with ``scipy.sparse``) copies
every public attribute of ``numpy``, and asking ``numpy`` for ``f2py`` or ``testing`` imports them: the
Fortran wrapper generator and the test helpers, which no command uses, cost 0.05–0.08 s of each run
(``python -X importtime``). Deferred, such a module is created empty and executed on first attribute
access (:class:`importlib.util.LazyLoader`, the standard library's recipe), so a program that does use it
still gets the real module.

Packages whose ``__init__`` imports many modules of which a command uses one (:data:`DEFERRED_INITS`:
``folium.plugins`` imports its 40 plugins, each compiling its Jinja templates, where the interactive map
uses ``Fullscreen``; ``benchmarks/ab_commands.py --command map``: 0.957 of the time with them) are created
with their path but without running their ``__init__``: a submodule imports alone
(``folium.plugins.fullscreen``), and the first attribute asked of the package itself runs its ``__init__``
then (a module ``__getattr__``, PEP 562). Only in the program: a notebook
importing clsm_geo keeps the import system as it is.
"""

from __future__ import annotations

import importlib.abc
import importlib.util
import sys

#: Modules the program defers: imported by SciPy's array-API layer, used by no command.
DEFERRED = ("numpy.f2py", "numpy.testing")
#: Packages whose ``__init__`` the program runs only when the package itself is asked for an attribute.
DEFERRED_INITS = ("folium.plugins",)


class _Finder(importlib.abc.MetaPathFinder):
    """Finds each of ``names`` once, with the loader ``wrap(spec)`` gives (the usual one when it gives None);
    then leaves the import system as it was."""

    def __init__(self, names, wrap) -> None:
        self.names, self.wrap = set(names), wrap

    def find_spec(self, fullname, path=None, target=None):
        if fullname not in self.names:
            return None
        self.names.discard(fullname)             # the real finders answer from now on (and below)
        if not self.names and self in sys.meta_path:
            sys.meta_path.remove(self)
        spec = importlib.util.find_spec(fullname)
        if spec is None or spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return spec
        spec.loader = self.wrap(spec) or spec.loader
        return spec


def _lazy(spec):
    return importlib.util.LazyLoader(spec.loader)


def _init_on_first_use(spec):
    return _InitOnFirstUse(spec.loader) if spec.submodule_search_locations is not None else None


class _InitOnFirstUse(importlib.abc.Loader):
    """Loads a package without running its ``__init__`` until an attribute it does not have yet is asked for."""

    def __init__(self, loader) -> None:
        self.loader = loader

    def create_module(self, spec):
        return None  # the usual module, with ``__path__``: its submodules import as usual

    def exec_module(self, module) -> None:
        loader = self.loader

        def __getattr__(name: str):
            module.__dict__.pop("__getattr__", None)  # once: the real __init__ runs now, in the module itself
            module.__loader__ = module.__spec__.loader = loader
            loader.exec_module(module)
            return getattr(module, name)

        module.__getattr__ = __getattr__


def defer(names=DEFERRED, inits=DEFERRED_INITS) -> None:
    """Import each module of ``names`` (not imported yet) only when one of its attributes is first used, and
    run the ``__init__`` of each package of ``inits`` only when the package itself is asked for an attribute."""
    for wanted, wrap in ((names, _lazy), (inits, _init_on_first_use)):
        pending = [name for name in wanted if name not in sys.modules]
        if pending:
            sys.meta_path.insert(0, _Finder(pending, wrap))
