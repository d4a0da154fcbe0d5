"""Scores of a clustering of observations against ground truth.

*Pairwise co-membership*: every pair of observations is either together or apart, in truth and in the
result; precision, recall and F1 count pairs, so a merged salvo and a shredded event are both penalised.
*Incident matching*: incidents and true event ends are paired one-to-one (Hungarian algorithm) within a
distance and a time gate; the pairs give detection precision/recall and localization error. *Duplicate
rate*: extra incidents per represented event (two incidents whose observations mostly belong to the same
event).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from pyproj import Geod
from scipy.optimize import linear_sum_assignment
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree

from truceline.domain.observation import ObservationKind
from truceline.eval.data import FusedIncident, Label, Target
from truceline.fuse.kinds import KIND_MASK, phases
from truceline.locate.enu import LocalFrame

_GEOD = Geod(ellps="WGS84")


@dataclass(frozen=True)
class PRF:
    """Precision, recall and their harmonic mean, with the counts behind them."""

    precision: float
    recall: float
    f1: float
    true_positives: int
    predicted: int
    actual: int


def prf(tp: int, predicted: int, actual: int) -> PRF:
    """PRF from counts; an empty side scores 1 (nothing to get wrong)."""
    p = tp / predicted if predicted else 1.0
    r = tp / actual if actual else 1.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return PRF(p, r, f, tp, predicted, actual)


def truth_clusters(labels: Mapping[str, Label]) -> dict[str, str]:
    """Observation id → true cluster: ``event/phase``, or the observation alone if it saw nothing."""
    return {oid: (f"{lab.event}/{lab.phase}" if lab.event is not None else f"noise/{oid}") for oid, lab in labels.items()}


def pairwise(predicted: Mapping[str, str], truth: Mapping[str, str]) -> PRF:
    """Pair-counting precision/recall over the observations in ``truth``; unassigned ones stand alone."""
    joint: Counter[tuple[str, str]] = Counter()
    pred_sizes: Counter[str] = Counter()
    true_sizes: Counter[str] = Counter()
    for oid, true_cluster in truth.items():
        cluster = predicted.get(oid, f"alone/{oid}")
        joint[(cluster, true_cluster)] += 1
        pred_sizes[cluster] += 1
        true_sizes[true_cluster] += 1

    def pairs(counts: Counter[str] | Counter[tuple[str, str]]) -> int:
        return sum(n * (n - 1) // 2 for n in counts.values())

    return prf(pairs(joint), pairs(pred_sizes), pairs(true_sizes))


def incident_phases(kind: str) -> tuple[str, ...]:
    """Event ends an incident of this kind can describe (an explosion: either)."""
    try:
        return phases(KIND_MASK[ObservationKind(kind)]) or ("impact",)
    except ValueError:
        return ("impact", "launch")


@dataclass(frozen=True)
class Matching:
    """One-to-one pairs of incident index and target, with distance (m) and time difference (s)."""

    pairs: list[tuple[int, tuple[str, str], float, float]]


def match(
    incidents: Sequence[FusedIncident], targets: Mapping[tuple[str, str], Target], distance_gate_m: float, time_gate_s: float
) -> Matching:
    """Hungarian matching on (d/D)² + (Δt/T)², only pairs within both gates and of a compatible end."""
    if not incidents or not targets:
        return Matching([])
    keys = list(targets)
    tgt = [targets[k] for k in keys]
    frame = LocalFrame(float(np.mean([t.lat for t in tgt])), float(np.mean([t.lon for t in tgt])))
    ie, in_ = frame.to_enu([i.lat for i in incidents], [i.lon for i in incidents])
    te, tn = frame.to_enu([t.lat for t in tgt], [t.lon for t in tgt])
    t0 = min(t.time for t in tgt)
    scale = np.array([distance_gate_m, distance_gate_m, time_gate_s])
    a = np.column_stack([ie, in_, [i.time - t0 for i in incidents]]) / scale
    b = np.column_stack([te, tn, [t.time - t0 for t in tgt]]) / scale
    # Candidates within the gate box (a 2 % margin absorbs the plane's distortion), exact tests below.
    pairs = cKDTree(a).query_ball_tree(cKDTree(b), r=math.sqrt(2.0) * 1.02)
    rows: list[int] = []
    cols: list[int] = []
    costs: list[float] = []
    dists: list[float] = []
    dts: list[float] = []
    cand = [(i, j) for i, js in enumerate(pairs) for j in js if tgt[j].phase in incident_phases(incidents[i].kind)]
    if cand:
        ii = np.array([c[0] for c in cand])
        jj = np.array([c[1] for c in cand])
        _, _, dist = _GEOD.inv(
            np.array([incidents[i].lon for i in ii]),
            np.array([incidents[i].lat for i in ii]),
            np.array([tgt[j].lon for j in jj]),
            np.array([tgt[j].lat for j in jj]),
        )
        for (i, j), d in zip(cand, dist.tolist(), strict=True):
            dt = incidents[i].time - tgt[j].time
            if d <= distance_gate_m and abs(dt) <= time_gate_s:
                rows.append(i)
                cols.append(j)
                costs.append((d / distance_gate_m) ** 2 + (dt / time_gate_s) ** 2)
                dists.append(d)
                dts.append(dt)
    if not rows:
        return Matching([])
    n_i, n_t = len(incidents), len(tgt)
    graph = coo_matrix((np.ones(len(rows)), (rows, np.array(cols) + n_i)), shape=(n_i + n_t, n_i + n_t))
    _, component = connected_components(graph, directed=False)
    by_component: dict[int, list[int]] = {}
    for e, r in enumerate(rows):
        by_component.setdefault(int(component[r]), []).append(e)
    out: list[tuple[int, tuple[str, str], float, float]] = []
    big = 1e6
    for edges in by_component.values():
        r_ids = sorted({rows[e] for e in edges})
        c_ids = sorted({cols[e] for e in edges})
        r_at = {r: k for k, r in enumerate(r_ids)}
        c_at = {c: k for k, c in enumerate(c_ids)}
        cost = np.full((len(r_ids), len(c_ids)), big)
        for e in edges:
            cost[r_at[rows[e]], c_at[cols[e]]] = costs[e]
        ri, ci = linear_sum_assignment(cost)
        lookup = {(rows[e], cols[e]): e for e in edges}
        for a_, b_ in zip(ri.tolist(), ci.tolist(), strict=True):
            if cost[a_, b_] < big:
                e = lookup[(r_ids[a_], c_ids[b_])]
                out.append((rows[e], keys[cols[e]], dists[e], dts[e]))
    return Matching(out)


def percentiles(values: Sequence[float], qs: Sequence[float] = (50, 90, 95)) -> dict[str, float]:
    """``{"p50": …}`` of the values (NaN when there are none)."""
    if not values:
        return {f"p{int(q)}": math.nan for q in qs}
    arr = np.asarray(values, dtype=np.float64)
    return {f"p{int(q)}": float(np.percentile(arr, q)) for q in qs}


def duplicate_rate(incidents: Sequence[FusedIncident], labels: Mapping[str, Label]) -> float:
    """Extra incidents per represented event end (0: every event end has at most one incident)."""
    per_target: Counter[str] = Counter()
    for inc in incidents:
        votes = Counter(f"{lab.event}/{lab.phase}" for oid in inc.observation_ids if (lab := labels.get(oid)) is not None and lab.event is not None)
        if votes:
            per_target[votes.most_common(1)[0][0]] += 1
    represented = len(per_target)
    return sum(n - 1 for n in per_target.values()) / represented if represented else 0.0
