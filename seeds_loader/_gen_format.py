"""Bulk CSV formatting for the generator: numpy columns in, ASCII bytes out, no per-row Python.

Every field is a pair ``(chars, mask)`` of ``(n, width)`` arrays: ``chars`` holds the ASCII
codes of the field laid out in a fixed-width slot and ``mask`` says which of them belong to the
field (numbers are right-aligned, so their leading zeros are masked out). :func:`join_lines`
lays the fields of a chunk side by side with the separators and keeps the masked-in bytes in
row-major order, which is exactly the text of the chunk's lines. Text of very uneven length
(a variable number of words) is rendered as its own flat stream and spliced into the lines by
:func:`splice`, so no row pays for the widest one. The output is a pure function of the input
arrays, hence byte-deterministic.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

Field = tuple[np.ndarray, np.ndarray]


def _quotients(values: np.ndarray, width: int) -> np.ndarray:
    """``floor(v / 10**k)`` for ``k = width .. 0`` (columns), exactly, in float64.

    Float division is much faster than int64 division in numpy and exact here: a true quotient
    that is not an integer is at least ``10**-k`` away from one, far more than the float spacing
    while ``v < 4.5e15``.
    """
    v = np.asarray(values, dtype=np.int64)
    if v.size and (int(v.min()) < 0 or int(v.max()) >= 10**width):
        raise ValueError(f"integers must be in [0, 10**{width}); got {int(v.min())}..{int(v.max())}")
    powers = 10.0 ** np.arange(width, -1, -1)
    return np.floor(v.astype(np.float64)[:, None] / powers)


def int_field(values: np.ndarray, width: int) -> Field:
    """Decimal digits of non-negative integers, right-aligned in ``width`` columns."""
    q = _quotients(values, width)
    chars = (q[:, 1:] - 10.0 * q[:, :-1] + 48.0).astype(np.uint8)
    mask = q[:, 1:] > 0
    mask[:, -1] = True  # the units digit, also of 0
    return chars, mask


def fixed_int_field(values: np.ndarray, width: int) -> Field:
    """Zero-padded decimal digits (for decimals such as the ``200`` of ``n277.200``)."""
    q = _quotients(values, width)
    chars = (q[:, 1:] - 10.0 * q[:, :-1] + 48.0).astype(np.uint8)
    return chars, np.ones(chars.shape, dtype=bool)


def table_field(codes: np.ndarray, words: Sequence[bytes]) -> Field:
    """Look up one of a few fixed words (event names, property names) per row."""
    width = max(len(w) for w in words)
    chars = np.zeros((len(words), width), dtype=np.uint8)
    mask = np.zeros((len(words), width), dtype=bool)
    for i, w in enumerate(words):
        chars[i, : len(w)] = np.frombuffer(w, dtype=np.uint8)
        mask[i, : len(w)] = True
    return chars[codes], mask[codes]


def literal(text: bytes, n: int, present: np.ndarray | None = None) -> Field:
    """The same bytes on every row (or only where ``present``)."""
    chars = np.broadcast_to(np.frombuffer(text, dtype=np.uint8), (n, len(text)))
    if present is None:
        return chars, np.ones((n, len(text)), dtype=bool)
    return chars, np.broadcast_to(np.asarray(present, dtype=bool)[:, None], (n, len(text)))


def where(present: np.ndarray, field: Field) -> Field:
    """``field`` on the rows where ``present``, nothing on the others."""
    chars, mask = field
    return chars, mask & np.asarray(present, dtype=bool)[:, None]


def concat(fields: Sequence[Field]) -> Field:
    """Fields side by side as one wider field."""
    return np.concatenate([f[0] for f in fields], axis=1), np.concatenate([f[1] for f in fields], axis=1)


def render(fields: Sequence[Field]) -> tuple[np.ndarray, np.ndarray]:
    """The fields of each row side by side: (all rows' bytes, uint8, row-major; each row's length)."""
    chars, mask = concat(fields)
    return chars[mask], mask.sum(axis=1)


def join_lines(fields: Sequence[Field], sep: bytes = b",", end: bytes = b"\n") -> bytes:
    """The text of ``n`` CSV lines: the fields joined by ``sep``, each line ended by ``end``."""
    n = fields[0][0].shape[0]
    parts: list[Field] = []
    for i, f in enumerate(fields):
        if f[0].shape[0] != n:
            raise ValueError("all fields of a chunk must have the same number of rows")
        if i:
            parts.append(literal(sep, n))
        parts.append(f)
    parts.append(literal(end, n))
    return render(parts)[0].tobytes()


def splice(segments: Sequence[tuple[np.ndarray, np.ndarray]]) -> bytes:
    """Row ``i`` of the output is segment ``i`` of every stream, in order.

    Each stream is (bytes of all its rows' segments, concatenated; length of each row's segment).
    """
    lengths = [np.asarray(length, dtype=np.int64) for _, length in segments]
    row_len = np.sum(lengths, axis=0)
    total = int(row_len.sum())
    index = np.int32 if total < 2**31 else np.int64  # halves the scratch memory of a chunk
    out = np.empty(total, dtype=np.uint8)
    dest_start = np.cumsum(row_len) - row_len
    for (data, _), length in zip(segments, lengths, strict=True):
        shift = (dest_start - (np.cumsum(length) - length)).astype(index)
        out[np.repeat(shift, length) + np.arange(len(data), dtype=index)] = data
        dest_start += length
    return out.tobytes()
