"""Attribution: which party acted, from where its act started, with the probability behind the verdict.

The origin estimate (a launch point with covariance, or a back-bearing with a range interval, or — for an
incident of the launch phase, a launch or muzzle-flash — the incident's own position, since that is where
the act started) is sampled
in metres on the ground — never as an offset in degrees — and every sample is located against the
agreement's territories. The share of samples on each party's ground is that party's probability. Sampling
is seeded from the incident id and agreement digest, so a verdict is reproducible bit for bit by anyone
re-running it.

:func:`attribute_many` is the batch path that ``verify.rules.judge`` uses; :func:`attribute` is the same
computation for one event. Two things make the batch cheap without changing what is computed:

* the "clear of every boundary" test (nearest boundary more than ``CLEAR_SIGMAS`` σ away) runs for all
  points in one vectorised locate and one STRtree query instead of one GEOS round trip per point;
* a Gaussian origin is sampled in the agreement's local frame through the projection's Jacobian at the
  estimate (exact to centimetres for kilometre offsets) instead of one ``Geod.fwd`` per sample, with the
  same seeded draws. Samples closer to the estimate than the nearest territory edge lie on the estimate's
  ground by construction; only the rest go through point-in-polygon, all events' samples in one call.

Estimates vaguer than ``LOCAL_SAMPLING_MAX_SIGMA_M`` and back-bearings (tens of kilometres of range)
are still sampled geodesically, where the tangent-plane approximation would no longer be negligible.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import NDArray

from truceline.domain.agreement import AttributionSettings
from truceline.domain.geo import GEOD, normal_cdf
from truceline.domain.violation import (
    LAUNCH_PHASE_KINDS,
    OUTSIDE,
    UNDETERMINED,
    Attribution,
    AttributionMethod,
    BackBearing,
    JudgedEvent,
)
from truceline.verify.geometry import AgreementGeometry

#: Beyond this many standard deviations from every boundary, sampling is skipped: the other side's mass is < 1e-9.
CLEAR_SIGMAS = 6.0
#: Up to this 1-σ (metres) a Gaussian origin is sampled in the local tangent frame: the second-order error
#: (≈ 1e-8 m⁻¹ × offset², tests/test_verify_geometry.py) is ≤ 9 m = 0.09% of σ at 3σ, shifting a probability
#: by < 4e-4, under the Monte-Carlo standard error; vaguer estimates are sampled geodesically.
LOCAL_SAMPLING_MAX_SIGMA_M = 10_000.0
#: Samples classified per point-in-polygon call: bounds memory (16 bytes a point) while keeping calls few.
_CLASSIFY_CHUNK = 1 << 21

Covariance = tuple[tuple[float, float], tuple[float, float]]
How = Literal["origin", "location"]


def sampling_rng(event_id: str, salt: str) -> np.random.Generator:
    """The generator an event's samples are drawn from: seeded by its id and the agreement digest."""
    seed = int.from_bytes(hashlib.sha256(f"{event_id}\x00{salt}".encode()).digest()[:8], "little")
    return np.random.default_rng(seed)


def standard_offsets(cov_m2: Covariance, n: int, rng: np.random.Generator) -> NDArray[np.float64]:
    """``n`` (east, north) offsets in metres with covariance ``cov_m2``; the draws every sampler shares."""
    chol = np.linalg.cholesky(np.asarray(cov_m2, dtype=np.float64))
    offsets: NDArray[np.float64] = rng.standard_normal((n, 2)) @ chol.T
    return offsets


def sample_gaussian(lat: float, lon: float, cov_m2: Covariance, n: int,
                    rng: np.random.Generator) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """``n`` points around (lat, lon) with east/north covariance ``cov_m2`` (m²), as geodesic offsets."""
    east_north = standard_offsets(cov_m2, n, rng)
    azimuth = np.degrees(np.arctan2(east_north[:, 0], east_north[:, 1]))
    dist = np.hypot(east_north[:, 0], east_north[:, 1])
    lon_s, lat_s, _ = GEOD.fwd(np.full(n, lon), np.full(n, lat), azimuth, dist)
    return np.asarray(lat_s), np.asarray(lon_s)


def sample_back_bearing(bearing: BackBearing, n: int, rng: np.random.Generator) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """``n`` points along a Gaussian bearing from a known point, uniform over the range interval."""
    azimuth = bearing.bearing_deg + bearing.bearing_sd_deg * rng.standard_normal(n)
    dist = rng.uniform(bearing.min_range_m, bearing.max_range_m, n)
    lon_s, lat_s, _ = GEOD.fwd(np.full(n, bearing.from_lon), np.full(n, bearing.from_lat), azimuth, dist)
    return np.asarray(lat_s), np.asarray(lon_s)


def _probabilities(geometry: AgreementGeometry, counts: NDArray[np.int64], total: float) -> dict[str, float]:
    """Counts per controller (index 0: no party) → shares per party code plus 'outside'."""
    probs = {code: counts[i + 1] / total for i, code in enumerate(geometry.party_codes)}
    probs[OUTSIDE] = counts[0] / total
    return probs


def side_probabilities(geometry: AgreementGeometry, lat: NDArray[np.float64], lon: NDArray[np.float64]) -> dict[str, float]:
    """Share of the points on each party's ground (inside the country or on its exterior soil), plus 'outside'."""
    _, controller = geometry.classify(lat, lon)
    counts = np.bincount(controller.astype(np.int64) + 1, minlength=len(geometry.party_codes) + 1)
    return _probabilities(geometry, counts, float(len(lat)))


def _verdict(probs: dict[str, float], settings: AttributionSettings) -> tuple[str, float]:
    parties = {k: v for k, v in probs.items() if k != OUTSIDE}
    best = max(parties, key=lambda k: parties[k]) if parties else None
    if best is not None and parties[best] >= settings.min_confidence:
        return best, parties[best]
    return UNDETERMINED, 0.0


def _percent(p: float) -> str:
    if p >= 0.9995 and p < 1.0:
        return ">99.9%"
    if 0.0 < p < 0.0005:
        return "<0.1%"
    return f"{p:.1%}"


def _shares(probs: dict[str, float]) -> str:
    return ", ".join(f"{k} {_percent(v)}" for k, v in sorted(probs.items(), key=lambda kv: -kv[1]) if v > 0)


def attribute(event: JudgedEvent, how: How, geometry: AgreementGeometry, settings: AttributionSettings) -> Attribution:
    """Attribute one event: by its origin (who fired) or by its location (whose ground it is on)."""
    return attribute_many([(event, how)], geometry, settings)[0]


@dataclass(frozen=True)
class _PointEstimate:
    """A Gaussian position to attribute: the event's own position or its estimated origin."""

    slot: int
    event_id: str
    lat: float
    lon: float
    cov: Covariance
    method: AttributionMethod
    what: str


def attribute_many(requests: Sequence[tuple[JudgedEvent, How]], geometry: AgreementGeometry,
                   settings: AttributionSettings) -> list[Attribution]:
    """Attribute many (event, how) pairs at once; element k equals ``attribute(*requests[k], ...)``.

    Batching is what makes judging a week of incidents affordable (see the module docstring); the answer
    for an event never depends on the other events of the batch.
    """
    salt = geometry.agreement.digest()
    out: list[Attribution | None] = [None] * len(requests)
    points: list[_PointEstimate] = []
    for k, (event, how) in enumerate(requests):
        if how == "location":
            points.append(_PointEstimate(k, event.id, event.lat, event.lon, event.position_covariance(),
                                         AttributionMethod.LOCATION, f"{event.kind.value} seen at"))
        elif event.origin is not None:
            points.append(_PointEstimate(k, event.id, event.origin.lat, event.origin.lon, event.origin.cov_m2,
                                         AttributionMethod.ORIGIN_POINT, "estimated origin"))
        elif event.back_bearing is not None:
            out[k] = _from_bearing(event.id, event.back_bearing, geometry, settings, salt)
        elif event.kind in LAUNCH_PHASE_KINDS:
            # A launch or muzzle-flash is seen where the act started: its own position is the firing point.
            points.append(_PointEstimate(k, event.id, event.lat, event.lon, event.position_covariance(),
                                         AttributionMethod.FIRING_POINT, _firing_point(event)))
        else:
            out[k] = _no_origin(event)
    for estimate, attribution in zip(points, _from_points(points, geometry, settings, salt), strict=True):
        out[estimate.slot] = attribution
    done = [a for a in out if a is not None]
    assert len(done) == len(requests)
    return done


def _firing_point(event: JudgedEvent) -> str:
    n = event.independent_sources
    by = f"{n} independent source{'s' if n != 1 else ''}" if n else "its observations"
    return f"firing point ({event.kind.value}) located by {by} at"


def _no_origin(event: JudgedEvent) -> Attribution:
    seen = "point of impact" if event.kind.value in ("impact", "explosion", "damage") else f"place of the {event.kind.value}"
    return Attribution(
        party=UNDETERMINED, confidence=0.0, method=AttributionMethod.NO_ORIGIN, samples=0,
        basis=(f"Only the {seen} is known, not where the act started. Where a round lands or a drone is seen does "
               "not show who fired or flew it, so no party is named; an estimated launch point or a back-bearing "
               "would allow attribution."),
    )


def _from_bearing(event_id: str, bb: BackBearing, geometry: AgreementGeometry, settings: AttributionSettings,
                  salt: str) -> Attribution:
    n = settings.samples
    lat_s, lon_s = sample_back_bearing(bb, n, sampling_rng(event_id, salt))
    probs = side_probabilities(geometry, lat_s, lon_s)
    party, conf = _verdict(probs, settings)
    basis = (f"Origin back-projected from {bb.from_lat:.5f} N, {bb.from_lon:.5f} E along bearing {bb.bearing_deg:.1f}° "
             f"(1-σ {bb.bearing_sd_deg:.1f}°) at {bb.min_range_m / 1e3:.1f}–{bb.max_range_m / 1e3:.1f} km: "
             f"of {n} samples, {_shares(probs)}. ")
    basis += _conclusion(party, conf, settings)
    return Attribution(party=party, confidence=conf, basis=basis, method=AttributionMethod.ORIGIN_BEARING,
                       probabilities=probs, samples=n)


def _sample_counts(geometry: AgreementGeometry, estimates: Sequence[_PointEstimate], x0: NDArray[np.float64],
                   y0: NDArray[np.float64], ctrl0: NDArray[np.int8], clear_radius: NDArray[np.float64], n: int,
                   salt: str) -> NDArray[np.int64]:
    """Samples per controller (column 0: no party) for each estimate, drawn in the local tangent frame.

    A sample nearer its estimate than ``clear_radius`` (the distance to the nearest territory edge) is on
    the estimate's ground ``ctrl0`` — no edge separates them; the others are classified in shared batches.
    """
    width = len(geometry.party_codes) + 1
    counts = np.zeros((len(estimates), width), dtype=np.int64)
    if not estimates:
        return counts
    _, _, jac = geometry.tangent_frames([e.lat for e in estimates], [e.lon for e in estimates])
    pending_x: list[NDArray[np.float64]] = []
    pending_y: list[NDArray[np.float64]] = []
    pending_owner: list[NDArray[np.int64]] = []
    pending = 0

    def flush() -> None:
        nonlocal pending
        if not pending:
            return
        _, ctrl = geometry.classify_xy(np.concatenate(pending_x), np.concatenate(pending_y))
        flat = np.concatenate(pending_owner) * width + ctrl.astype(np.int64) + 1
        counts[:] += np.bincount(flat, minlength=counts.size).reshape(counts.shape)
        pending_x.clear()
        pending_y.clear()
        pending_owner.clear()
        pending = 0

    for j, est in enumerate(estimates):
        east_north = standard_offsets(est.cov, n, sampling_rng(est.event_id, salt))
        dx = east_north @ jac[j].T
        # 1 mm and a relative 1e-9 inside the edge distance: rounding can never move a sample across an edge.
        radius = max(float(clear_radius[j]) * (1.0 - 1e-9) - 1e-3, 0.0)
        outer = np.flatnonzero(np.einsum("ij,ij->i", dx, dx) >= radius * radius)
        counts[j, int(ctrl0[j]) + 1] += n - len(outer)
        if len(outer):
            pending_x.append(x0[j] + dx[outer, 0])
            pending_y.append(y0[j] + dx[outer, 1])
            pending_owner.append(np.full(len(outer), j, dtype=np.int64))
            pending += len(outer)
            if pending >= _CLASSIFY_CHUNK:
                flush()
    flush()
    return counts


def _from_points(estimates: Sequence[_PointEstimate], geometry: AgreementGeometry, settings: AttributionSettings,
                 salt: str) -> list[Attribution]:
    if not estimates:
        return []
    lat = np.array([e.lat for e in estimates])
    lon = np.array([e.lon for e in estimates])
    eig = np.linalg.eigvalsh(np.array([e.cov for e in estimates], dtype=np.float64))
    sigma_max = np.sqrt(eig[:, -1])
    located = geometry.locate_many(lat, lon, exact=True)
    x0, y0 = geometry.projection.forward(lon, lat)
    d_edge = geometry.distances_to_territory_edge_xy(x0, y0)
    nearest = np.minimum(located.distance_m, d_edge)
    clear = nearest > CLEAR_SIGMAS * sigma_max
    local = np.flatnonzero(~clear & (sigma_max <= LOCAL_SAMPLING_MAX_SIGMA_M))
    n = settings.samples
    counts = _sample_counts(geometry, [estimates[int(j)] for j in local], x0[local], y0[local],
                            located.controller[local], d_edge[local], n, salt)
    local_row = {int(j): r for r, j in enumerate(local)}
    out: list[Attribution] = []
    for j, est in enumerate(estimates):
        sigma = float(sigma_max[j])
        where = f"{est.what} {est.lat:.5f} N, {est.lon:.5f} E (1-σ up to {sigma:,.0f} m)"
        place = located.controlled_by(j)
        if clear[j]:
            near = float(nearest[j])
            probs = {code: 0.0 for code in geometry.party_codes}
            probs[OUTSIDE] = 0.0
            probs[place if place is not None else OUTSIDE] = 1.0
            party, conf = _verdict(probs, settings)
            tail = normal_cdf(-near / sigma)
            basis = (f"{_upper_first(where)} lies on {_ground(place)}, {near / 1e3:,.1f} km from the nearest boundary "
                     f"({near / sigma:,.0f} σ; probability of the other side < {max(tail, 1e-12):.0e}). ")
            basis += _conclusion(party, conf, settings)
            out.append(Attribution(party=party, confidence=conf, basis=basis, method=est.method, probabilities=probs, samples=0))
            continue
        if j in local_row:
            probs = _probabilities(geometry, counts[local_row[j]], float(n))
        else:
            lat_s, lon_s = sample_gaussian(est.lat, est.lon, est.cov, n, sampling_rng(est.event_id, salt))
            probs = side_probabilities(geometry, lat_s, lon_s)
        party, conf = _verdict(probs, settings)
        basis = (f"{_upper_first(where)} lies on {_ground(place)}, "
                 f"{float(located.distance_m[j]) / 1e3:,.2f} km from the line of contact; of {n} samples of its "
                 f"uncertainty: {_shares(probs)}. ")
        basis += _conclusion(party, conf, settings)
        out.append(Attribution(party=party, confidence=conf, basis=basis, method=est.method, probabilities=probs, samples=n))
    return out


def _upper_first(text: str) -> str:
    return text[:1].upper() + text[1:]


def _ground(party: str | None) -> str:
    return f"ground controlled by {party}" if party else "ground of no party (sea or a third country)"


def _conclusion(party: str, confidence: float, settings: AttributionSettings) -> str:
    if party == UNDETERMINED:
        return (f"No party reaches the agreed threshold of {settings.min_confidence:.0%}, so the party is "
                f"{UNDETERMINED}.")
    return f"Attributed to {party} with confidence {_percent(confidence)} (threshold {settings.min_confidence:.0%})."
