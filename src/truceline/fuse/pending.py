"""Bearings awaiting a partner: a lone bearing fixes no position, so it waits (by event time) for a crossing one.

Kept in one-minute buckets of event time, so "which waiting bearings could pair with this one in time" reads
only the buckets its time gate spans; a heap of arrival order lets the window drop the expired ones.
"""

from __future__ import annotations

import heapq
import math
from typing import Final

from truceline.fuse.measurement import Measurement

_BUCKET_S: Final = 60.0


class PendingBearings:
    """Waiting bearings by id and by time bucket; ``near`` is a superset in time (callers gate exactly)."""

    __slots__ = ("_buckets", "_by_id", "_heap", "_sd")

    def __init__(self) -> None:
        self._by_id: dict[str, Measurement] = {}
        self._buckets: dict[int, dict[str, Measurement]] = {}
        self._heap: list[tuple[float, int, str]] = []
        self._sd = 0.0  # the largest time σ of any bearing that waited: bounds how far apart a pair can be

    def __len__(self) -> int:
        return len(self._by_id)

    def near(self, t: float, vt: float, sigmas: float) -> list[Measurement]:
        """The waiting bearings whose times could lie within ``sigmas`` joint σ of ``t`` (variance ``vt``)."""
        span = sigmas * (math.sqrt(vt) + self._sd)
        lo = math.floor((t - span) / _BUCKET_S)
        hi = math.floor((t + span) / _BUCKET_S)
        buckets = self._buckets
        out: list[Measurement] = []
        if hi - lo + 1 > len(buckets):
            for key, held in buckets.items():
                if lo <= key <= hi:
                    out.extend(held.values())
        else:
            for key in range(lo, hi + 1):
                bucket = buckets.get(key)
                if bucket:
                    out.extend(bucket.values())
        return out

    def add(self, m: Measurement, seq: int) -> None:
        """Let ``m`` wait; ``seq`` orders bearings of the same time for expiry."""
        self._by_id[m.id] = m
        self._buckets.setdefault(math.floor(m.t / _BUCKET_S), {})[m.id] = m
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
