"""Attribution: which party acted, from where its act started, with the probability behind the verdict.

The origin estimate (a launch point with covariance, or a back-bearing with a range interval) is sampled
in metres on the WGS84 ellipsoid — each sample is a geodesic offset from the estimate, never an offset in
degrees — and every sample is located against the agreement's territories. The share of samples on each
party's ground is that party's probability. Sampling is seeded from the incident id and agreement digest,
so a verdict is reproducible bit for bit by anyone re-running it.
"""

from __future__ import annotations

import hashlib
import math
from typing import Literal

import numpy as np
from numpy.typing import NDArray

from truceline.domain.agreement import AttributionSettings
from truceline.domain.geo import GEOD, normal_cdf
from truceline.domain.violation import OUTSIDE, UNDETERMINED, Attribution, AttributionMethod, BackBearing, JudgedEvent, OriginPoint
from truceline.verify.geometry import AgreementGeometry

#: Beyond this many standard deviations from every boundary, sampling is skipped: the other side's mass is < 1e-9.
CLEAR_SIGMAS = 6.0


def _rng(event_id: str, salt: str) -> np.random.Generator:
    seed = int.from_bytes(hashlib.sha256(f"{event_id}\x00{salt}".encode()).digest()[:8], "little")
    return np.random.default_rng(seed)


def sample_gaussian(lat: float, lon: float, cov_m2: tuple[tuple[float, float], tuple[float, float]], n: int,
                    rng: np.random.Generator) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """``n`` points around (lat, lon) with east/north covariance ``cov_m2`` (m²), as geodesic offsets."""
    chol = np.linalg.cholesky(np.asarray(cov_m2, dtype=np.float64))
    east_north = rng.standard_normal((n, 2)) @ chol.T
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


def side_probabilities(geometry: AgreementGeometry, lat: NDArray[np.float64], lon: NDArray[np.float64]) -> dict[str, float]:
    """Share of the points on each party's ground (inside the country or on its exterior soil), plus 'outside'."""
    _, controller = geometry.classify(lat, lon)
    counts = np.bincount(controller.astype(np.int64) + 1, minlength=len(geometry.party_codes) + 1)
    total = float(len(lat))
    probs = {code: counts[i + 1] / total for i, code in enumerate(geometry.party_codes)}
    probs[OUTSIDE] = counts[0] / total
    return probs


def _clear_of_boundaries(geometry: AgreementGeometry, lat: float, lon: float, sigma_max: float) -> tuple[str | None, float] | None:
    """(party, distance to nearest boundary) when every boundary is more than CLEAR_SIGMAS·σ away, else None."""
    located = geometry.locate_many([lat], [lon], exact=True)
    party = located.controlled_by(0)
    d_line = float(located.distance_m[0])
    d_edge = geometry.distance_to_territory_edge(lat, lon)
    nearest = min(d_line, d_edge)
    if nearest > CLEAR_SIGMAS * sigma_max:
        return party, nearest
    return None


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


def attribute(event: JudgedEvent, how: Literal["origin", "location"], geometry: AgreementGeometry,
              settings: AttributionSettings) -> Attribution:
    """Attribute one event: by its origin (who fired) or by its location (whose ground it is on)."""
    salt = geometry.agreement.digest()
    n = settings.samples
    if how == "location":
        return _from_point(event.id, event.lat, event.lon, event.position_covariance(), geometry, settings,
                           AttributionMethod.LOCATION, f"{event.kind.value} seen at", salt)
    if event.origin is not None:
        origin: OriginPoint = event.origin
        return _from_point(event.id, origin.lat, origin.lon, origin.cov_m2, geometry, settings,
                           AttributionMethod.ORIGIN_POINT, "estimated origin", salt)
    if event.back_bearing is not None:
        bb = event.back_bearing
        lat_s, lon_s = sample_back_bearing(bb, n, _rng(event.id, salt))
        probs = side_probabilities(geometry, lat_s, lon_s)
        party, conf = _verdict(probs, settings)
        basis = (f"Origin back-projected from {bb.from_lat:.5f} N, {bb.from_lon:.5f} E along bearing {bb.bearing_deg:.1f}° "
                 f"(1-σ {bb.bearing_sd_deg:.1f}°) at {bb.min_range_m / 1e3:.1f}–{bb.max_range_m / 1e3:.1f} km: "
                 f"of {n} samples, {_shares(probs)}. ")
        basis += _conclusion(party, conf, settings)
        return Attribution(party=party, confidence=conf, basis=basis, method=AttributionMethod.ORIGIN_BEARING,
                           probabilities=probs, samples=n)
    seen = "point of impact" if event.kind.value in ("impact", "explosion", "damage") else f"place of the {event.kind.value}"
    return Attribution(
        party=UNDETERMINED, confidence=0.0, method=AttributionMethod.NO_ORIGIN, samples=0,
        basis=(f"Only the {seen} is known, not where the act started. Where a round lands or a drone is seen does "
               "not show who fired or flew it, so no party is named; an estimated launch point or a back-bearing "
               "would allow attribution."),
    )


def _from_point(event_id: str, lat: float, lon: float, cov: tuple[tuple[float, float], tuple[float, float]],
                geometry: AgreementGeometry, settings: AttributionSettings, method: AttributionMethod, what: str,
                salt: str) -> Attribution:
    eig = np.linalg.eigvalsh(np.asarray(cov, dtype=np.float64))
    sigma_max = math.sqrt(float(eig.max()))
    where = f"{what} {lat:.5f} N, {lon:.5f} E (1-σ up to {sigma_max:,.0f} m)"
    clear = _clear_of_boundaries(geometry, lat, lon, sigma_max)
    if clear is not None:
        party_at, nearest = clear
        probs = {code: 0.0 for code in geometry.party_codes}
        probs[OUTSIDE] = 0.0
        probs[party_at if party_at is not None else OUTSIDE] = 1.0
        party, conf = _verdict(probs, settings)
        tail = normal_cdf(-nearest / sigma_max)
        basis = (f"{_upper_first(where)} lies on {_ground(party_at)}, {nearest / 1e3:,.1f} km from the nearest boundary "
                 f"({nearest / sigma_max:,.0f} σ; probability of the other side < {max(tail, 1e-12):.0e}). ")
        basis += _conclusion(party, conf, settings)
        return Attribution(party=party, confidence=conf, basis=basis, method=method, probabilities=probs, samples=0)
    n = settings.samples
    lat_s, lon_s = sample_gaussian(lat, lon, cov, n, _rng(event_id, salt))
    probs = side_probabilities(geometry, lat_s, lon_s)
    party, conf = _verdict(probs, settings)
    located = geometry.locate(lat, lon)
    basis = (f"{_upper_first(where)} lies on {_ground(located['controlled_by'])}, "
             f"{located['distance_to_contact_line_m'] / 1e3:,.2f} km from the line of contact; of {n} samples of its "
             f"uncertainty: {_shares(probs)}. ")
    basis += _conclusion(party, conf, settings)
    return Attribution(party=party, confidence=conf, basis=basis, method=method, probabilities=probs, samples=n)


def _upper_first(text: str) -> str:
    return text[:1].upper() + text[1:]


def _ground(party: str | None) -> str:
    return f"ground controlled by {party}" if party else "ground of no party (sea or a third country)"


def _conclusion(party: str, confidence: float, settings: AttributionSettings) -> str:
    if party == UNDETERMINED:
        return (f"No party reaches the agreed threshold of {settings.min_confidence:.0%}, so the party is "
                f"{UNDETERMINED}.")
    return f"Attributed to {party} with confidence {_percent(confidence)} (threshold {settings.min_confidence:.0%})."
