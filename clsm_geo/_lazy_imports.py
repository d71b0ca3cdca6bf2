"""Modules that the ``clsm-geo`` program imports only when they are used (:func:`defer`).

SciPy's array-API layer (``scipy._lib.array_api_compat.numpy``, imported with ``scipy.sparse``) copies
every public attribute of ``numpy``, and asking ``numpy`` for ``f2py`` or ``testing`` imports them: the
Fortran wrapper generator and the test helpers, which no command uses, cost 0.05–0.08 s of each run
(``python -X importtime``). Deferred, such a module is created empty and executed on first attribute
access (:class:`importlib.util.LazyLoader`, the standard library's recipe), so a program that does use it
still gets the real module.
"""

from __future__ import annotations

import importlib.abc
import importlib.util
import sys

#: Modules the program defers: imported by SciPy's array-API layer, used by no command.
DEFERRED = ("numpy.f2py", "numpy.testing")


class _Finder(importlib.abc.MetaPathFinder):
    """Finds each of ``names`` once, with a lazy loader; then leaves the import system as it was."""

    def __init__(self, names) -> None:
        self.names = set(names)

    def find_spec(self, fullname, path=None, target=None):
        if fullname not in self.names:
            return None
        self.names.discard(fullname)             # the real finders answer from now on (and below)
        if not self.names and self in sys.meta_path:
            sys.meta_path.remove(self)
        spec = importlib.util.find_spec(fullname)
        if spec is None or spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return spec
        spec.loader = importlib.util.LazyLoader(spec.loader)
        return spec


def defer(names=DEFERRED) -> None:
    """Import each module of ``names`` (not imported yet) only when one of its attributes is first used."""
    pending = [name for name in names if name not in sys.modules]
    if pending:
        sys.meta_path.insert(0, _Finder(pending))
