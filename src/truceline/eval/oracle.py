"""The oracle: each observation assigned to its most likely true event end, knowing where and when those are.

It uses the same measurement model and gates as fusion, but true positions instead of estimated ones, so
what it gets wrong is what the observations themselves cannot tell apart (a coarse report inside a salvo, a
bearing through two impacts). Its pairwise F1 is the ceiling a fuser is compared with.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
from scipy.spatial import cKDTree

from truceline.domain.chi2 import chi2_ppf
from truceline.domain.identity import local_id
from truceline.domain.observation import Observation
from truceline.eval.data import Target
from truceline.fuse.kinds import IMPACT, LAUNCH
from truceline.fuse.measurement import MeasurementModel, measure
from truceline.locate.enu import LocalFrame

_PHASE_BIT = {"impact": IMPACT, "launch": LAUNCH}


def oracle_clusters(
    observations: Sequence[Observation],
    targets: Mapping[tuple[str, str], Target],
    model: MeasurementModel | None = None,
    gate_probability: float = 0.999,
) -> dict[str, str]:
    """Observation id → ``event/phase`` of the true end it most likely saw, or ``alone/<id>`` if none fits."""
    model = model or MeasurementModel()
    keys = list(targets)
    out = {str(o.id): f"alone/{o.id}" for o in observations}
    if not keys or not observations:
        return out
    tgt = [targets[k] for k in keys]
    frame = LocalFrame(float(np.mean([t.lat for t in tgt])), float(np.mean([t.lon for t in tgt])))
    epoch = math.floor(min(t.time for t in tgt) / 86400.0) * 86400.0
    tx, ty = frame.to_enu([t.lat for t in tgt], [t.lon for t in tgt])
    tt = np.array([t.time - epoch for t in tgt])
    bits = np.array([_PHASE_BIT[t.phase] for t in tgt])
    tree = cKDTree(np.column_stack([tx, ty]))
    gate3 = chi2_ppf(gate_probability, 3)
    gate2 = chi2_ppf(gate_probability, 2)
    g = math.sqrt(gate3)
    measurements, _, _ = measure(observations, frame, epoch, model)
    for m in measurements:
        if m.bearing:
            half = 0.5 * m.brange
            cand = np.array(tree.query_ball_point([m.x + m.bux * half, m.y + m.buy * half], half + 1.0), dtype=np.int64)
        else:
            cand = np.array(tree.query_ball_point([m.x, m.y], g * m.radius), dtype=np.int64)
        if cand.size == 0:
            continue
        cand = cand[(bits[cand] & m.mask) != 0]
        dt = tt[cand] - m.t
        keep = dt * dt <= gate3 * m.vt
        cand, dt = cand[keep], dt[keep]
        if cand.size == 0:
            continue
        dx = tx[cand] - m.x
        dy = ty[cand] - m.y
        if m.bearing:
            along = dx * m.bux + dy * m.buy
            perp = dx * m.buy - dy * m.bux
            rng2 = dx * dx + dy * dy
            d2 = perp * perp / (rng2 * m.bvar + m.bsvar) + dt * dt / m.vt
            ok = (along > 0) & (rng2 <= m.brange**2) & (d2 <= gate2)
        else:
            d2 = (m.iyy * dy * dy + 2.0 * m.ixy * dx * dy + m.ixx * dx * dx) + dt * dt / m.vt
            ok = d2 <= gate3
        if not ok.any():
            continue
        best = int(cand[ok][np.argmin(d2[ok])])
        out[local_id(m.id)] = f"{keys[best][0]}/{keys[best][1]}"  # measurements are keyed ORG/id
    return out
