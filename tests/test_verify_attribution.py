"""Attribution on the real line: Monte-Carlo probabilities against Φ(−d/σ), bearings, impact-only, determinism."""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
import pytest
import shapely

from truceline.domain.agreement import AttributionSettings
from truceline.domain.geo import GEOD, normal_cdf
from truceline.domain.violation import (
    OUTSIDE,
    UNDETERMINED,
    AttributionMethod,
    BackBearing,
    JudgedEvent,
    OriginPoint,
)
from truceline.verify.agreement_loader import load_demo_agreement
from truceline.verify.attribution import (
    CLEAR_SIGMAS,
    attribute,
    attribute_many,
    sample_gaussian,
    sampling_rng,
    side_probabilities,
)
from truceline.verify.geometry import AgreementGeometry, geometry_for

SIGMA = 1_000.0
SETTINGS = AttributionSettings(min_confidence=0.9, samples=20_000)


@pytest.fixture(scope="module")
def geometry() -> AgreementGeometry:
    return geometry_for(load_demo_agreement())


@pytest.fixture(scope="module")
def straight(geometry: AgreementGeometry) -> tuple[np.ndarray, np.ndarray, str, str]:
    """Midpoint and unit normal of the longest straight stretch of the line, and the party on each side."""
    seg = geometry.segments
    angle = np.arctan2(seg[:, 3] - seg[:, 1], seg[:, 2] - seg[:, 0])
    joined = np.all(np.isclose(seg[1:, :2], seg[:-1, 2:]), axis=1)
    breaks = np.flatnonzero(~joined | (np.abs(np.angle(np.exp(1j * np.diff(angle)))) > 0.01)) + 1
    runs = np.split(np.arange(len(seg)), breaks)
    lengths = [float(np.hypot(seg[r[-1], 2] - seg[r[0], 0], seg[r[-1], 3] - seg[r[0], 1])) for r in runs]
    run = runs[int(np.argmax(lengths))]
    a, b = seg[run[0], :2], seg[run[-1], 2:]
    length = float(np.hypot(*(b - a)))
    assert length > 12 * SIGMA, "need a stretch straight over ±6σ for Φ(−d/σ) to hold"
    tangent = (b - a) / length
    vertices = np.vstack([seg[run, :2], seg[run[-1:], 2:]])
    assert np.abs((vertices - a) @ np.array([-tangent[1], tangent[0]])).max() < 20.0, "the stretch is straight to 20 m"
    mid = (a + b) / 2
    normal = np.array([-tangent[1], tangent[0]])
    sides = []
    for sign in (1, -1):
        lon, lat = geometry.projection.inverse([mid[0] + sign * 5 * SIGMA * normal[0]], [mid[1] + sign * 5 * SIGMA * normal[1]])
        sides.append(geometry.locate(float(lat[0]), float(lon[0]))["controlled_by"])
    assert set(sides) == {"UA", "RU"}
    return mid, normal, sides[0], sides[1]


def _origin_at(geometry: AgreementGeometry, straight: tuple[np.ndarray, np.ndarray, str, str], d: float) -> tuple[float, float]:
    mid, normal, _, _ = straight
    lon, lat = geometry.projection.inverse([mid[0] + d * normal[0]], [mid[1] + d * normal[1]])
    return float(lat[0]), float(lon[0])


@pytest.mark.parametrize("d_sigmas", [0.0, 0.5, 1.0, 2.0, -1.0])
def test_probability_of_the_far_side_is_phi_of_minus_d_over_sigma(geometry: AgreementGeometry, straight: tuple[np.ndarray, np.ndarray, str, str], d_sigmas: float) -> None:
    _, _, plus_side, minus_side = straight
    lat, lon = _origin_at(geometry, straight, d_sigmas * SIGMA)
    event = JudgedEvent(id=f"mc-{d_sigmas}", time="2023-05-01T00:00:00Z", kind="launch", lat=lat, lon=lon,
                        origin=OriginPoint(lat=lat, lon=lon, cov_m2=((SIGMA**2, 0.0), (0.0, SIGMA**2))))
    result = attribute(event, "origin", geometry, SETTINGS)
    near, far = (plus_side, minus_side) if d_sigmas >= 0 else (minus_side, plus_side)
    expected_far = normal_cdf(-abs(d_sigmas))
    standard_error = math.sqrt(expected_far * (1 - expected_far) / SETTINGS.samples)
    assert result.samples == SETTINGS.samples
    assert result.probabilities[far] == pytest.approx(expected_far, abs=4 * standard_error + 2e-3)
    assert result.probabilities[near] + result.probabilities[far] == pytest.approx(1.0)
    if abs(d_sigmas) >= 2:
        assert result.party == near and result.confidence == pytest.approx(1 - expected_far, abs=0.01)
    else:
        assert result.party == UNDETERMINED and result.confidence == 0.0
        assert "threshold of 90%" in result.basis


def test_samples_are_gaussian_in_metres_not_degrees() -> None:
    rng = np.random.default_rng(5)
    lat, lon = sample_gaussian(48.0, 37.0, ((4e6, 0.0), (0.0, 1e6)), 50_000, rng)  # σ east 2 km, σ north 1 km
    east = (lon - 37.0) * 111_320 * math.cos(math.radians(48.0))
    north = (lat - 48.0) * 111_132
    assert np.std(east) == pytest.approx(2_000, rel=0.02)
    assert np.std(north) == pytest.approx(1_000, rel=0.02)


def test_impact_alone_is_undetermined(geometry: AgreementGeometry) -> None:
    event = JudgedEvent(id="impact-1", time="2023-05-01T00:00:00Z", kind="impact", lat=48.6, lon=37.9)
    result = attribute(event, "origin", geometry, SETTINGS)
    assert result.party == UNDETERMINED and result.confidence == 0.0
    assert result.method is AttributionMethod.NO_ORIGIN
    assert "point of impact" in result.basis


def test_origin_far_inside_a_side_is_attributed_without_sampling(geometry: AgreementGeometry) -> None:
    event = JudgedEvent(id="launch-1", time="2023-05-01T00:00:00Z", kind="launch", lat=47.0, lon=37.5,  # impact in UA
                        origin=OriginPoint(lat=47.85, lon=38.3, cov_m2=((4e5, 1e5), (1e5, 2.5e5))))  # launch near Makiivka
    result = attribute(event, "origin", geometry, SETTINGS)
    assert result.party == "RU" and result.confidence == 1.0 and result.samples == 0
    assert result.method is AttributionMethod.ORIGIN_POINT
    assert "ground controlled by RU" in result.basis


def test_launch_from_across_the_border_is_attributed_to_the_party_owning_that_soil(geometry: AgreementGeometry) -> None:
    event = JudgedEvent(id="belgorod-1", time="2023-05-01T00:00:00Z", kind="launch", lat=49.99, lon=36.23,
                        origin=OriginPoint(lat=50.5955, lon=36.5873, cov_m2=((1e6, 0.0), (0.0, 1e6))))
    result = attribute(event, "origin", geometry, SETTINGS)
    assert result.party == "RU"


def test_back_bearing_from_the_impact_points_to_the_shooter(geometry: AgreementGeometry) -> None:
    # impact 1.5 km west of the line near Bakhmut's latitude; the gun lies 5–20 km to the east
    bearing = BackBearing(from_lat=48.59, from_lon=37.99, bearing_deg=90.0, bearing_sd_deg=5.0, min_range_m=5_000, max_range_m=20_000)
    event = JudgedEvent(id="crater-1", time="2023-05-01T00:00:00Z", kind="impact", lat=48.59, lon=37.99, back_bearing=bearing)
    result = attribute(event, "origin", geometry, SETTINGS)
    assert result.method is AttributionMethod.ORIGIN_BEARING
    assert result.party == "RU" and result.probabilities["RU"] > 0.99
    westward = attribute(event.model_copy(update={"back_bearing": bearing.model_copy(update={"bearing_deg": 270.0})}),
                         "origin", geometry, SETTINGS)
    assert westward.party == "UA"


def test_sampling_is_reproducible_and_sums_to_one(geometry: AgreementGeometry, straight: tuple[np.ndarray, np.ndarray, str, str]) -> None:
    lat, lon = _origin_at(geometry, straight, 300.0)
    event = JudgedEvent(id="repeat", time="2023-05-01T00:00:00Z", kind="launch", lat=lat, lon=lon,
                        origin=OriginPoint(lat=lat, lon=lon, cov_m2=((SIGMA**2, 0.0), (0.0, SIGMA**2))))
    first = attribute(event, "origin", geometry, SETTINGS)
    again = attribute(event, "origin", geometry, SETTINGS)
    assert first == again
    assert sum(first.probabilities.values()) == pytest.approx(1.0)
    assert first.probabilities[OUTSIDE] == 0.0
    other = attribute(event.model_copy(update={"id": "repeat-2"}), "origin", geometry, SETTINGS)
    assert other.probabilities != first.probabilities  # a different seed
    assert other.probabilities["RU"] == pytest.approx(first.probabilities["RU"], abs=0.02)


def test_location_attribution_with_a_vague_position_near_the_line_is_undetermined(geometry: AgreementGeometry, straight: tuple[np.ndarray, np.ndarray, str, str]) -> None:
    lat, lon = _origin_at(geometry, straight, 200.0)
    event = JudgedEvent(id="tank-1", time="2023-05-01T00:00:00Z", kind="equipment-sighting", lat=lat, lon=lon, sigma_m=2_000.0)
    vague = attribute(event, "location", geometry, SETTINGS)
    assert vague.method is AttributionMethod.LOCATION and vague.party == UNDETERMINED
    sharp = attribute(event.model_copy(update={"sigma_m": 20.0}), "location", geometry, SETTINGS)
    assert sharp.party == straight[2] and sharp.confidence > 0.99


def test_location_attribution_uses_the_position_covariance(geometry: AgreementGeometry, straight: tuple[np.ndarray, np.ndarray, str, str]) -> None:
    mid, normal, near, _ = straight
    lat, lon = _origin_at(geometry, straight, 500.0)
    # the line's direction as a true azimuth (the local frame's grid north is a few degrees off true north here)
    tangent_xy = np.array([normal[1], -normal[0]])
    ends_lon, ends_lat = geometry.projection.inverse(mid[0] + np.array([-1e3, 1e3]) * tangent_xy[0], mid[1] + np.array([-1e3, 1e3]) * tangent_xy[1])
    azimuth = math.radians(GEOD.inv(ends_lon[0], ends_lat[0], ends_lon[1], ends_lat[1])[0])
    tangent = np.array([math.sin(azimuth), math.cos(azimuth)])  # east, north
    across_dir = np.array([-tangent[1], tangent[0]])
    # 3 km along the line, 50 m across it: the position is sharp where it matters
    cov = 3_000.0**2 * np.outer(tangent, tangent) + 50.0**2 * np.outer(across_dir, across_dir)
    event = JudgedEvent(id="tank-2", time="2023-05-01T00:00:00Z", kind="equipment-sighting", lat=lat, lon=lon, sigma_m=2_000.0,
                        cov_m2=((float(cov[0, 0]), float(cov[0, 1])), (float(cov[1, 0]), float(cov[1, 1]))))
    result = attribute(event, "location", geometry, SETTINGS)
    assert result.party == near and result.confidence > 0.99


def _reference(event: JudgedEvent, how: str, geometry: AgreementGeometry, settings: AttributionSettings) -> tuple[dict[str, float], int]:
    """The straightforward per-incident definition: one point's distances, then geodesic samples one by one."""
    if how == "location":
        lat, lon, cov = event.lat, event.lon, event.position_covariance()
    else:
        assert event.origin is not None
        lat, lon, cov = event.origin.lat, event.origin.lon, event.origin.cov_m2
    sigma = math.sqrt(float(np.linalg.eigvalsh(np.asarray(cov)).max()))
    here = geometry.locate(lat, lon)
    nearest = min(here["distance_to_contact_line_m"], geometry.distance_to_territory_edge(lat, lon))
    if nearest > CLEAR_SIGMAS * sigma:
        probs = {code: 0.0 for code in geometry.party_codes} | {OUTSIDE: 0.0}
        probs[here["controlled_by"] or OUTSIDE] = 1.0
        return probs, 0
    lat_s, lon_s = sample_gaussian(lat, lon, cov, settings.samples, sampling_rng(event.id, geometry.agreement.digest()))
    return side_probabilities(geometry, lat_s, lon_s), settings.samples


def test_batched_attribution_matches_the_per_incident_geodesic_path(geometry: AgreementGeometry) -> None:
    """A few hundred origins and positions within a few σ of the ISW line, anisotropic, 100 m to 3 km.

    Both paths draw the same seeded offsets; the batch maps them through the projection's Jacobian instead
    of a geodesic each, which moves a sample by centimetres, so only a sample that close to an edge can
    change side. Tolerance: 1e-3 per probability (10 of 10,000 samples), well under the Monte-Carlo
    standard error of up to 5e-3 at this sample count.
    """
    settings = AttributionSettings(min_confidence=0.9, samples=10_000)
    rng = np.random.default_rng(20231104)
    n = 300
    line = geometry.contact_line_xy
    base = shapely.line_interpolate_point(line, rng.uniform(0, line.length, n))
    sigma = rng.uniform(100.0, 3_000.0, n)
    offset = rng.normal(0.0, 1.0, (n, 2)) * (3.0 * sigma)[:, None]
    lon, lat = geometry.projection.inverse(shapely.get_x(base) + offset[:, 0], shapely.get_y(base) + offset[:, 1])
    requests: list[tuple[JudgedEvent, Literal["origin", "location"]]] = []
    for k in range(n):
        ratio, rho = rng.uniform(0.3, 1.0), rng.uniform(-0.8, 0.8)
        cov = ((sigma[k] ** 2, rho * ratio * sigma[k] ** 2), (rho * ratio * sigma[k] ** 2, (ratio * sigma[k]) ** 2))
        point = {"lat": float(lat[k]), "lon": float(lon[k])}
        if k % 4 == 3:
            requests.append((JudgedEvent(id=f"seen-{k}", time="2023-05-01T00:00:00Z", kind="equipment-sighting",
                                         cov_m2=cov, **point), "location"))
        else:
            requests.append((JudgedEvent(id=f"fired-{k}", time="2023-05-01T00:00:00Z", kind="launch", lat=47.0, lon=37.5,
                                         origin=OriginPoint(cov_m2=cov, **point)), "origin"))
    batched = attribute_many(requests, geometry, settings)
    sampled = 0
    for (event, how), fast in zip(requests, batched, strict=True):
        probs, samples = _reference(event, how, geometry, settings)
        assert fast.samples == samples, event.id
        sampled += samples > 0
        assert fast.probabilities.keys() == probs.keys()
        for party, p in probs.items():
            assert fast.probabilities[party] == pytest.approx(p, abs=1e-3), (event.id, party)
        best = max((v for k, v in probs.items() if k != OUTSIDE), default=0.0)
        if abs(best - settings.min_confidence) > 1e-3:
            expected_party = max(probs, key=lambda k: probs[k]) if best >= settings.min_confidence else UNDETERMINED
            assert fast.party == expected_party, event.id
    assert sampled > n // 2, "most cases must exercise sampling, not the clear-of-boundaries shortcut"
    assert 0 < sum(a.party == UNDETERMINED for a in batched) < n


def test_batch_answers_do_not_depend_on_the_other_events(geometry: AgreementGeometry, straight: tuple[np.ndarray, np.ndarray, str, str]) -> None:
    events = []
    for k, d in enumerate((-1_500.0, -300.0, 0.0, 250.0, 900.0, 40_000.0)):
        lat, lon = _origin_at(geometry, straight, d)
        events.append(JudgedEvent(id=f"batch-{k}", time="2023-05-01T00:00:00Z", kind="launch", lat=lat, lon=lon,
                                  origin=OriginPoint(lat=lat, lon=lon, cov_m2=((SIGMA**2, 0.0), (0.0, SIGMA**2)))))
    together = attribute_many([(e, "origin") for e in events], geometry, SETTINGS)
    alone = [attribute(e, "origin", geometry, SETTINGS) for e in reversed(events)][::-1]
    assert together == alone
    assert together[-1].samples == 0 and together[2].samples == SETTINGS.samples
