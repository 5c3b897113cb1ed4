"""Split a chunk of text into an Arrow table of lines without a Python loop over lines.

Line boundaries are found with NumPy; the newlines are dropped in one vectorised copy. Invalid
UTF-8 is replaced, because the rejects table keeps text.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from signalfire.sources.reader import Chunk


def line_table(chunk: Chunk) -> pa.Table:
    """Columns ``line`` (without its newline), ``log_line`` and ``log_offset`` of a chunk."""
    buf = np.frombuffer(chunk.data, dtype=np.uint8)
    is_newline = buf == 10
    ends = np.flatnonzero(is_newline)
    if chunk.partial_tail:
        ends = np.append(ends, len(buf))
    starts = np.empty(len(ends), dtype=np.int64)
    if len(ends):
        starts[0] = 0
        starts[1:] = ends[:-1] + 1
    offsets = np.zeros(len(ends) + 1, dtype=np.int64)
    np.cumsum(ends - starts, out=offsets[1:])
    # Every newline in a chunk ends a line, so dropping them all leaves the lines back to back.
    kept = buf[~is_newline]
    binary = pa.LargeBinaryArray.from_buffers(
        pa.large_binary(), len(ends), [None, pa.py_buffer(offsets), pa.py_buffer(kept)]
    )
    return pa.table(
        {
            "line": _to_text(binary),
            "log_line": pa.array(np.arange(chunk.first_line, chunk.first_line + len(ends))),
            "log_offset": pa.array(starts + chunk.start_offset),
        }
    )


def _to_text(lines: pa.Array) -> pa.Array:
    """Binary lines as UTF-8 text, with invalid sequences replaced (only in that rare case is
    each line decoded on its own)."""
    try:
        return lines.cast(pa.large_string())
    except pa.ArrowInvalid:
        return pa.array(
            [b.decode("utf-8", "replace") for b in lines.to_pylist()], type=pa.large_string()
        )
