"""One evaluation: every figure of a fusion result against the simulator's truth, side by side."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass

from truceline.domain.observation import Observation
from truceline.eval.data import FusedIncident, Truth
from truceline.eval.gates import DEFAULT_DISTANCE_GATE_M, DEFAULT_TIME_GATE_S
from truceline.eval.metrics import PRF, duplicate_rate, match, pairwise, percentiles, prf, truth_clusters
from truceline.eval.oracle import oracle_clusters


@dataclass(frozen=True)
class EvalReport:
    """Scores of one set of incidents; the oracle fields are None when no observations were given."""

    observations: int
    incidents: int
    targets_observed: int
    pairwise: PRF
    oracle_pairwise: PRF | None
    detection: PRF
    corroborated_detection: PRF
    location_error_m: dict[str, float]
    time_error_s: dict[str, float]
    duplicate_rate: float
    distance_gate_m: float
    time_gate_s: float

    @property
    def oracle_ratio(self) -> float | None:
        """Pairwise F1 as a fraction of the oracle's."""
        if self.oracle_pairwise is None or self.oracle_pairwise.f1 == 0:
            return None
        return self.pairwise.f1 / self.oracle_pairwise.f1

    def as_dict(self) -> dict[str, object]:
        """JSON-ready form (``--json``)."""
        out = asdict(self)
        out["oracle_ratio"] = self.oracle_ratio
        return out

    def lines(self) -> list[str]:
        """Human-readable, one figure per line."""
        p, d, c = self.pairwise, self.detection, self.corroborated_detection
        out = [
            f"observations                 {self.observations:>8d}",
            f"incidents                    {self.incidents:>8d}",
            f"observed event ends          {self.targets_observed:>8d}",
            f"pairwise precision/recall/F1 {p.precision:8.4f} {p.recall:8.4f} {p.f1:8.4f}",
        ]
        if self.oracle_pairwise is not None:
            o = self.oracle_pairwise
            out.append(f"oracle pairwise P/R/F1       {o.precision:8.4f} {o.recall:8.4f} {o.f1:8.4f}")
            ratio = self.oracle_ratio
            out.append(f"pairwise F1 / oracle F1      {ratio:8.4f}" if ratio is not None else "pairwise F1 / oracle F1           n/a")
        out += [
            f"incident P/R/F1 (all)        {d.precision:8.4f} {d.recall:8.4f} {d.f1:8.4f}   gates {self.distance_gate_m:.0f} m, {self.time_gate_s:.0f} s",
            f"incident P/R/F1 (corrob.)    {c.precision:8.4f} {c.recall:8.4f} {c.f1:8.4f}",
            "location error m p50/p90/p95 " + " ".join(f"{v:8.1f}" for v in self.location_error_m.values()),
            "time error s p50/p90/p95     " + " ".join(f"{v:8.2f}" for v in self.time_error_s.values()),
            f"duplicate rate               {self.duplicate_rate:8.4f}",
        ]
        return out


def evaluate(
    truth: Truth,
    incidents: Sequence[FusedIncident],
    observations: Sequence[Observation] | None = None,
    distance_gate_m: float = DEFAULT_DISTANCE_GATE_M,
    time_gate_s: float = DEFAULT_TIME_GATE_S,
) -> EvalReport:
    """Score incidents against truth; with the observations, also the oracle's pairwise score."""
    if not (math.isfinite(distance_gate_m) and distance_gate_m > 0 and math.isfinite(time_gate_s) and time_gate_s > 0):
        raise ValueError(f"gates must be positive, got {distance_gate_m!r} m and {time_gate_s!r} s")
    truth_of = truth_clusters(truth.labels)
    predicted = {oid: inc.id for inc in incidents for oid in inc.observation_ids}
    observed = {(lab.event, lab.phase or "impact") for lab in truth.labels.values() if lab.event is not None}
    targets = {k: truth.targets[k] for k in observed}
    matching = match(incidents, targets, distance_gate_m, time_gate_s)
    corroborated = [i for i in incidents if i.status in ("corroborated", "verified")]
    matching_c = match(corroborated, targets, distance_gate_m, time_gate_s)
    oracle = None
    if observations is not None:
        oracle = pairwise(oracle_clusters(observations, truth.targets), truth_of)
    return EvalReport(
        observations=len(truth.labels),
        incidents=len(incidents),
        targets_observed=len(targets),
        pairwise=pairwise(predicted, truth_of),
        oracle_pairwise=oracle,
        detection=prf(len(matching.pairs), len(incidents), len(targets)),
        corroborated_detection=prf(len(matching_c.pairs), len(corroborated), len(targets)),
        location_error_m=percentiles([d for _, _, d, _ in matching.pairs]),
        time_error_s=percentiles([abs(dt) for _, _, _, dt in matching.pairs]),
        duplicate_rate=duplicate_rate(incidents, truth.labels),
        distance_gate_m=distance_gate_m,
        time_gate_s=time_gate_s,
    )
