"""Arrow string arrays read without a Python string per cell (plumbing for the registry reader and its checks)."""

from __future__ import annotations

import numpy as np


def text_bytes(array) -> bytes | None:
    """The character data of an Arrow string array: its cells one after another in UTF-8 (missing cells empty),
    read from the array's buffers without a Python string per cell; None for another type."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if not (pa.types.is_large_string(array.type) or pa.types.is_string(array.type)):
        return None
    if not len(array):
        return b""
    if array.null_count:
        array = pc.fill_null(array, "")
    offsets = np.frombuffer(array.buffers()[1], dtype=np.int64 if pa.types.is_large_string(array.type) else np.int32)
    start, end = int(offsets[array.offset]), int(offsets[array.offset + len(array)])
    return array.buffers()[2].slice(start, end - start).to_pybytes() if end > start else b""
