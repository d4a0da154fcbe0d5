"""Bearings awaiting a partner (fuse/pending.py): ``near`` finds buckets by bisection, in the walk's order.

The fuser attaches and pairs waiting bearings in the order ``near`` returns them (sums, ties), so the order is
part of the contract: ascending bucket keys when the time span is narrower than the number of buckets, else the
buckets in the order they were made (the dict's). The reference below is the walk ``near`` used to do; random
adds, removals, expiries and queries must give the same bearings, by identity, in the same order, on both paths.
"""

from __future__ import annotations

import math
import random

import pytest

from truceline.fuse.measurement import Measurement
from truceline.fuse.pending import PendingBearings


def _bearing(n: int, t: float, sd: float) -> Measurement:
    m = Measurement()
    m.id, m.t, m.vt = f"b{n}", t, sd * sd
    return m


def _walk(buckets: dict[int, dict[str, Measurement]], sd_max: float, t: float, vt: float, sigmas: float) -> tuple[list[Measurement], bool]:
    """The former ``near``: every key of a narrow span looked up, else the whole dict walked; and which it did."""
    span = sigmas * (math.sqrt(vt) + sd_max)
    lo = math.floor((t - span) / 60.0)
    hi = math.floor((t + span) / 60.0)
    out: list[Measurement] = []
    walked = hi - lo + 1 > len(buckets)
    if walked:
        for key, held in buckets.items():
            if lo <= key <= hi:
                out.extend(held.values())
    else:
        for key in range(lo, hi + 1):
            bucket = buckets.get(key)
            if bucket:
                out.extend(bucket.values())
    return out, walked


@pytest.mark.parametrize("seed", range(6))
def test_near_returns_what_the_walk_returned_in_its_order(seed: int) -> None:
    rng = random.Random(seed)
    pending = PendingBearings()
    buckets: dict[int, dict[str, Measurement]] = {}  # the reference's own dict, kept as the old code kept it
    waiting: list[Measurement] = []
    sd_max = 0.0
    paths = {True: 0, False: 0}
    for n in range(3000):
        op = rng.random()
        if op < 0.45 or not waiting:
            sd = rng.choice((1.0, 5.0, 30.0, 120.0 if seed % 2 else 20.0))
            m = _bearing(n, rng.uniform(0.0, 4 * 3600.0) if rng.random() < 0.3 else rng.uniform(0.0, 1800.0), sd)
            pending.add(m, n)
            buckets.setdefault(math.floor(m.t / 60.0), {})[m.id] = m
            sd_max = max(sd_max, sd)
            waiting.append(m)
        elif op < 0.75:
            m = waiting.pop(rng.randrange(len(waiting)))
            pending.remove(m)
            key = math.floor(m.t / 60.0)
            del buckets[key][m.id]
            if not buckets[key]:
                del buckets[key]
        elif op < 0.78:
            cutoff = rng.uniform(0.0, 600.0)
            gone = pending.expire(cutoff)
            for m in gone:
                waiting.remove(m)
                key = math.floor(m.t / 60.0)
                del buckets[key][m.id]
                if not buckets[key]:
                    del buckets[key]
        else:
            t = rng.uniform(-600.0, 4 * 3600.0 + 600.0)
            vt = rng.choice((1.0, 100.0, 3600.0, 1e6))
            sigmas = rng.choice((1.0, 4.0))
            expected, walked = _walk(buckets, sd_max, t, vt, sigmas)
            got = pending.near(t, vt, sigmas)
            assert [id(m) for m in got] == [id(m) for m in expected]
            paths[walked] += bool(expected)
        assert len(pending) == len(waiting)
    assert paths[True] > 20 and paths[False] > 20  # both orders were compared on non-empty answers
