"""A matplotlib Figure that shows itself in a notebook, without pyplot.

Figures of clsm-geo are built with :class:`InlineFigure` (object-oriented matplotlib: no pyplot, no backend
switch, nothing left open in a global registry). In Jupyter, a figure returned by ``res.plot()`` is displayed
as a PNG through :meth:`InlineFigure._repr_png_` even in a fresh kernel (no ``%matplotlib inline``, no pyplot
import); the image is rendered at :data:`DISPLAY_DPI` with a palette of :data:`DISPLAY_COLOURS` colours to keep
notebooks light (a national map is about 35 kB). ``savefig`` is unchanged.
"""

from __future__ import annotations

import io

from matplotlib.figure import Figure

__all__ = ["DISPLAY_DPI", "InlineFigure"]

#: Resolution of the image shown in a notebook (dots per inch); files keep the ``dpi`` asked for.
DISPLAY_DPI = 80
#: Colours of the palette the displayed PNG is reduced to (maps use a few flat colours).
DISPLAY_COLOURS = 128


class InlineFigure(Figure):
    """A :class:`matplotlib.figure.Figure` with a PNG representation for IPython/Jupyter."""

    def _repr_png_(self) -> bytes:
        from PIL import Image

        buffer = io.BytesIO()
        self.savefig(buffer, format="png", dpi=DISPLAY_DPI, metadata={"Software": None})
        image = Image.open(io.BytesIO(buffer.getvalue())).convert("RGB")
        out = io.BytesIO()
        image.quantize(colors=DISPLAY_COLOURS, method=Image.Quantize.MEDIANCUT).save(out, format="PNG", optimize=True)
        return out.getvalue()
