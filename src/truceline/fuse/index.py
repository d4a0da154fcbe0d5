"""Multi-resolution space-time grid, for "which incidents could this measurement's gate reach?".

Items are cylinders: a disc in space (centre, radius) over a time interval (centre, half-width). Extents
differ by four orders of magnitude in both (a UAV fix of 10 m and 2 s, a regional report of 80 km and an
hour), so one grid is either too fine for the large ones or too coarse for the small ones. An item lives on
the first level whose cell and time bucket hold its extent, registered in the (at most eight) cells its box
overlaps; a query reads, on each occupied level, the cells its own box overlaps, or walks a 16×-coarser map
of occupied cells when its box is large. Buckets are insertion-ordered, so results (and fusion) are
deterministic.

This class is the reference: ``_grid.c`` is its C twin (the same results in the same order, which fusion's
ties depend on), and :mod:`truceline.fuse.grid` picks the one fusion uses.
"""

from __future__ import annotations

import math
from collections.abc import Hashable
from typing import Final, Generic, TypeVar

T = TypeVar("T", bound=Hashable)

# ``Final`` and ``math.floor`` called as such (not through a local alias): compiled (fuse/native.py), mypyc
# inlines the constants and the float primitives instead of looking up module attributes.
# Cells are keyed modulo 2**19 per axis (2**19 finest cells: 1 million km, beyond any frame on Earth) and time
# buckets modulo 2**25 (127 years of finest buckets: longer than observations' valid times, 2000 to now), in 63
# bits. Two live items whose keys alias would corrupt the grid (a KeyError on removal), and items live as long
# as late reports keep them (the window evicts by event time): 2**16 buckets (91 days) were once reachable.
_MASK_XY: Final = (1 << 19) - 1
_MASK_T: Final = (1 << 25) - 1
_SHIFT_I: Final = 44
_SHIFT_J: Final = 25
_SHIFT: Final = 4  # coarse map: 16 × 16 × 16 cells
_DIRECT: Final = 16  # up to this many cells, look each up; beyond, walk the coarse map
# Coordinates whose cells would lie beyond 2**60 finest cells (or buckets) from the origin are refused, so that
# cell indices fit the C twin's int64 with room to spare (here they would be big ints, equally meaningless).
_SPAN: Final = 2.0**60
_BEYOND: Final = "coordinates beyond 2**60 cells or buckets of the finest level from the origin"

Cell = tuple[int, int, int]


def _key(i: int, j: int, k: int) -> int:
    return ((i & _MASK_XY) << _SHIFT_I) | ((j & _MASK_XY) << _SHIFT_J) | (k & _MASK_T)


class PySpaceTimeIndex(Generic[T]):
    """:meth:`query` returns every item whose cylinder may meet the query's (a superset: callers test exactly)."""

    __slots__ = ("_buckets", "_cells", "_coarse", "_reach_t", "_reach_xy", "_sizes", "_where")

    def __init__(self, base_cell_m: float = 2_000.0, base_bucket_s: float = 120.0, factor: float = 8.0, levels: int = 7) -> None:
        """Level ``k`` has cells of ``base_cell_m · factor**k`` and buckets of ``base_bucket_s · factor**k``."""
        if base_cell_m <= 0 or base_bucket_s <= 0 or factor <= 1 or levels < 1:
            raise ValueError(f"need positive base sizes, factor > 1, levels ≥ 1; got {base_cell_m}, {base_bucket_s}, {factor}, {levels}")
        self._sizes = [base_cell_m * factor**i for i in range(levels)]
        self._buckets = [base_bucket_s * factor**i for i in range(levels)]
        self._cells: list[dict[int, T | dict[T, None]]] = [{} for _ in range(levels)]
        self._coarse: list[dict[int, dict[int, Cell]]] = [{} for _ in range(levels)]
        self._where: dict[T, tuple[int, int, int, int, int, int, int]] = {}
        self._reach_xy: float = _SPAN * base_cell_m
        self._reach_t: float = _SPAN * base_bucket_s

    def __len__(self) -> int:
        return len(self._where)

    def __contains__(self, item: object) -> bool:
        return item in self._where

    def put(self, item: T, x: float, y: float, radius: float, t: float, half_width: float) -> None:
        """Insert ``item`` or move it to its new extent."""
        sizes, buckets = self._sizes, self._buckets
        level = 0
        while radius > sizes[level] or half_width > buckets[level]:
            level += 1
            if level == len(sizes):
                raise ValueError(f"extent {radius:.0f} m / {half_width:.0f} s exceeds the top grid level")
        if abs(x) + abs(radius) > self._reach_xy or abs(y) + abs(radius) > self._reach_xy or abs(t) + abs(half_width) > self._reach_t:
            raise OverflowError(_BEYOND)  # NaN passes: math.floor raises ValueError for it
        size, bucket_s = sizes[level], buckets[level]
        i0, i1 = math.floor((x - radius) / size), math.floor((x + radius) / size)
        j0, j1 = math.floor((y - radius) / size), math.floor((y + radius) / size)
        k0, k1 = math.floor((t - half_width) / bucket_s), math.floor((t + half_width) / bucket_s)
        box = (level, i0, i1, j0, j1, k0, k1)
        where = self._where
        old = where.get(item)
        if old is not None:
            if old == box:
                return
            self._discard(item, old)
        where[item] = box  # only the box: the cells are recomputed from it on removal (fewer live objects)
        table = self._cells[level]
        coarse = self._coarse[level]
        for i in range(i0, i1 + 1):
            ki = (i & _MASK_XY) << _SHIFT_I
            for j in range(j0, j1 + 1):
                kij = ki | ((j & _MASK_XY) << _SHIFT_J)
                for k in range(k0, k1 + 1):
                    key = kij | (k & _MASK_T)
                    bucket = table.get(key)
                    if bucket is None:
                        table[key] = item  # a cell of one item holds it bare: one container fewer to collect
                        ckey = _key(i >> _SHIFT, j >> _SHIFT, k >> _SHIFT)
                        group = coarse.get(ckey)
                        if group is None:
                            coarse[ckey] = {key: (i, j, k)}
                        else:
                            group[key] = (i, j, k)
                    elif isinstance(bucket, dict):
                        bucket[item] = None
                    else:
                        table[key] = {bucket: None, item: None}  # insertion order, as a dict keeps it

    def remove(self, item: T) -> None:
        """Remove ``item``; removing an absent item is a no-op."""
        old = self._where.pop(item, None)
        if old is not None:
            self._discard(item, old)

    def _discard(self, item: T, box: tuple[int, int, int, int, int, int, int]) -> None:
        level, i0, i1, j0, j1, k0, k1 = box
        table = self._cells[level]
        coarse = self._coarse[level]
        for i in range(i0, i1 + 1):
            ki = (i & _MASK_XY) << _SHIFT_I
            for j in range(j0, j1 + 1):
                kij = ki | ((j & _MASK_XY) << _SHIFT_J)
                for k in range(k0, k1 + 1):
                    key = kij | (k & _MASK_T)
                    bucket = table[key]
                    if isinstance(bucket, dict):
                        del bucket[item]
                        if len(bucket) == 1:
                            table[key] = next(iter(bucket))
                        continue
                    del table[key]  # the bare item was the cell's only one
                    ckey = _key(i >> _SHIFT, j >> _SHIFT, k >> _SHIFT)
                    group = coarse[ckey]
                    del group[key]
                    if not group:
                        del coarse[ckey]

    def query(self, x: float, y: float, radius: float, t: float, half_width: float) -> list[T]:
        """Items whose extent may meet the cylinder around ``(x, y, t)`` (each once, in a stable order)."""
        if abs(x) + abs(radius) > self._reach_xy or abs(y) + abs(radius) > self._reach_xy or abs(t) + abs(half_width) > self._reach_t:
            raise OverflowError(_BEYOND)
        found: dict[T, None] = {}
        for level, table in enumerate(self._cells):
            if not table:
                continue
            size, bucket_s = self._sizes[level], self._buckets[level]
            i0, i1 = math.floor((x - radius) / size), math.floor((x + radius) / size)
            j0, j1 = math.floor((y - radius) / size), math.floor((y + radius) / size)
            k0, k1 = math.floor((t - half_width) / bucket_s), math.floor((t + half_width) / bucket_s)
            if (i1 - i0 + 1) * (j1 - j0 + 1) * (k1 - k0 + 1) <= _DIRECT:
                for i in range(i0, i1 + 1):
                    ki = (i & _MASK_XY) << _SHIFT_I
                    for j in range(j0, j1 + 1):
                        kij = ki | ((j & _MASK_XY) << _SHIFT_J)
                        for k in range(k0, k1 + 1):
                            bucket = table.get(kij | (k & _MASK_T))
                            if bucket is not None:
                                if isinstance(bucket, dict):
                                    found.update(bucket)
                                else:
                                    found[bucket] = None
                continue
            coarse = self._coarse[level]
            ci0, ci1, cj0, cj1, ck0, ck1 = i0 >> _SHIFT, i1 >> _SHIFT, j0 >> _SHIFT, j1 >> _SHIFT, k0 >> _SHIFT, k1 >> _SHIFT
            if (ci1 - ci0 + 1) * (cj1 - cj0 + 1) * (ck1 - ck0 + 1) <= len(coarse):
                groups = [
                    g
                    for ci in range(ci0, ci1 + 1)
                    for cj in range(cj0, cj1 + 1)
                    for ck in range(ck0, ck1 + 1)
                    if (g := coarse.get(_key(ci, cj, ck)))
                ]
            else:
                groups = list(coarse.values())
            for group in groups:
                for key, (i, j, k) in group.items():
                    if i0 <= i <= i1 and j0 <= j <= j1 and k0 <= k <= k1:
                        bucket = table[key]
                        if isinstance(bucket, dict):
                            found.update(bucket)
                        else:
                            found[bucket] = None
        return list(found)

