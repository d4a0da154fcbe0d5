"""Attribution on the real line: Monte-Carlo probabilities against Φ(−d/σ), bearings, impact-only, determinism."""

from __future__ import annotations

import math

import numpy as np
import pytest

from truceline.domain.agreement import AttributionSettings
from truceline.domain.geo import GEOD, normal_cdf
from truceline.domain.violation import OUTSIDE, UNDETERMINED, AttributionMethod, BackBearing, JudgedEvent, OriginPoint
from truceline.verify.agreement_loader import load_demo_agreement
from truceline.verify.attribution import attribute, sample_gaussian
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
