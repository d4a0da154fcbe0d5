"""Bearings awaiting a partner: a lone bearing fixes no position, so it waits (by event time) for a crossing one.

Kept in one-minute buckets of event time, so "which waiting bearings could pair with this one in time" reads
only the buckets its time gate spans; a heap of arrival order lets the window drop the expired ones.
"""

from __future__ import annotations

import heapq
import math
from bisect import bisect_left, bisect_right, insort
from typing import Final

from truceline.fuse.measurement import Measurement

_BUCKET_S: Final = 60.0


class PendingBearings:
    """Waiting bearings by id and by time bucket; ``near`` is a superset in time (callers gate exactly)."""

    __slots__ = ("_buckets", "_by_id", "_count", "_heap", "_keys", "_made", "_sd")

    def __init__(self) -> None:
        self._by_id: dict[str, Measurement] = {}
        self._buckets: dict[int, dict[str, Measurement]] = {}
        self._keys: list[int] = []  # the keys of _buckets, ascending
        self._made: dict[int, int] = {}  # key -> when its bucket was made (the dict's own order)
        self._count = 0
        self._heap: list[tuple[float, int, str]] = []
        self._sd = 0.0  # the largest time σ of any bearing that waited: bounds how far apart a pair can be

    def __len__(self) -> int:
        return len(self._by_id)

    def near(self, t: float, vt: float, sigmas: float) -> list[Measurement]:
        """The waiting bearings whose times could lie within ``sigmas`` joint σ of ``t`` (variance ``vt``).

        Their order is the one a walk of the bucket dict gave (ascending keys when the span had fewer keys than
        the dict had buckets, else the buckets in the order they were made), but the buckets in the span are
        found by bisecting the sorted keys: a walk read every minute of a span of ~10²."""
        span = sigmas * (math.sqrt(vt) + self._sd)
        lo = math.floor((t - span) / _BUCKET_S)
        hi = math.floor((t + span) / _BUCKET_S)
        keys = self._keys
        first = bisect_left(keys, lo)
        last = bisect_right(keys, hi)
        out: list[Measurement] = []
        if first == last:
            return out
        buckets = self._buckets
        chosen = keys[first:last]
        if len(chosen) > 1 and hi - lo + 1 > len(buckets):
            chosen.sort(key=self._made.__getitem__)
        for key in chosen:
            out.extend(buckets[key].values())
        return out

    def add(self, m: Measurement, seq: int) -> None:
        """Let ``m`` wait; ``seq`` orders bearings of the same time for expiry."""
        self._by_id[m.id] = m
        key = math.floor(m.t / _BUCKET_S)
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = {}
            insort(self._keys, key)
            self._count += 1
            self._made[key] = self._count
        bucket[m.id] = m
        self._sd = max(self._sd, math.sqrt(m.vt))
        heapq.heappush(self._heap, (m.t, seq, m.id))

    def remove(self, m: Measurement) -> None:
        """Stop ``m`` waiting (it paired or joined an incident); it must be waiting."""
        del self._by_id[m.id]
        key = math.floor(m.t / _BUCKET_S)
        bucket = self._buckets[key]
        del bucket[m.id]
        if not bucket:
            del self._buckets[key]
            del self._made[key]
            del self._keys[bisect_left(self._keys, key)]

    def expire(self, cutoff: float) -> list[Measurement]:
        """Remove and return the waiting bearings older than ``cutoff``."""
        heap = self._heap
        gone: list[Measurement] = []
        while heap and heap[0][0] < cutoff:
            _, _, oid = heapq.heappop(heap)
            waiting = self._by_id.get(oid)
            if waiting is not None:
                self.remove(waiting)
                gone.append(waiting)
        return gone
