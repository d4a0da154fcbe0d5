"""Sensor models: acoustic TDOA networks, acoustic direction finders, UAVs, counter-battery radar, satellites.

Each model sees the truth only through its physics: range-dependent detection, timing and angle noise,
revisit gaps, sectors, clouds. An acoustic network runs the real multilateration of :mod:`truceline.locate`
on noisy arrival times and reports the position with the covariance that solver returns, as a fielded
system would; the raw arrivals travel in the observation's ``attributes["tdoa"]`` for audit.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np

from truceline.locate.tdoa import locate_tdoa, sound_speed
from truceline.sim.draft import Draft, stream
from truceline.sim.scenario import AcousticNetwork, BearingSensor, Radar, Satellite, Scenario, Uav, Weapon
from truceline.sim.world import LineGeometry, TruthEvent

_CEP = 1.1774  # CEP / σ for a circular normal
LatLon = Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]


@dataclass(frozen=True)
class Context:
    """What every sensor model needs: the scenario, its geometry and time span, the shared fire truth."""

    scenario: Scenario
    geometry: LineGeometry
    weapons: dict[str, Weapon]
    start: float
    end: float
    sound_speed: float
    fires: dict[str, float]  # event id → how long its impact fire burns (s); absent: no fire


@dataclass(frozen=True)
class Placement:
    """One instance of a placed sensor (``repeat_km`` makes several) in frame metres."""

    id: str
    x: float
    y: float
    side: float  # -1 or +1: which party's side of the line it stands on (0 on the line)


def placements(sensor: AcousticNetwork | BearingSensor | Uav | Radar, geometry: LineGeometry) -> list[Placement]:
    """Instances of a placed sensor along the line, ids suffixed ``-00``, ``-01``… when repeated."""
    u0, v0 = sensor.at_km[0] * 1000.0, sensor.at_km[1] * 1000.0
    side = math.copysign(1.0, v0) if v0 else 0.0
    if sensor.repeat_km is None:
        return [Placement(sensor.id, *geometry.to_en(u0, v0), side)]
    step = sensor.repeat_km * 1000.0
    half = geometry.half_length_m
    k_lo = math.ceil((-half - u0) / step)
    k_hi = math.floor((half - u0) / step)
    return [Placement(f"{sensor.id}-{i:02d}", *geometry.to_en(u0 + k * step, v0), side) for i, k in enumerate(range(k_lo, k_hi + 1))]


def _sources(event: TruthEvent, weapon: Weapon, phases: tuple[str, ...]) -> list[tuple[str, float, float, float, float]]:
    """(phase, time, x, y, loudness) of the ends of a shot a sound sensor could hear."""
    out = []
    if "impact" in phases and weapon.impact_loudness > 0:
        out.append(("impact", event.impact_time, event.impact_x, event.impact_y, weapon.impact_loudness))
    if "launch" in phases and weapon.launch_loudness > 0:
        out.append(("launch", event.launch_time, event.origin_x, event.origin_y, weapon.launch_loudness))
    return out


def acoustic_network(spec: AcousticNetwork, ctx: Context, events: list[TruthEvent], latlon: LatLon) -> list[Draft]:
    """TDOA fixes of impacts and launches heard by enough microphones, and false alarms (clutter)."""
    out: list[Draft] = []
    c_true = ctx.sound_speed
    c_used = sound_speed(ctx.scenario.temperature_c + spec.temperature_error_c)
    r50 = spec.range50_km * 1000.0
    for place in placements(spec, ctx.geometry):
        rng = stream(ctx.scenario.seed, place.id)
        angles = 2 * math.pi * np.arange(spec.sensors) / spec.sensors + rng.uniform(-0.3, 0.3, spec.sensors)
        radii = spec.aperture_km * 500.0 * rng.uniform(0.6, 1.0, spec.sensors)
        mics = np.column_stack([place.x + radii * np.sin(angles), place.y + radii * np.cos(angles)])
        mic_lat, mic_lon = latlon(mics[:, 0], mics[:, 1])
        mic_ll = [[round(a, 7), round(b, 7)] for a, b in zip(mic_lat.tolist(), mic_lon.tolist(), strict=True)]
        sounds: list[tuple[str | None, str | None, float, float, float, float]] = []
        for event in events:
            weapon = ctx.weapons[event.weapon]
            for phase, t, x, y, loud in _sources(event, weapon, spec.phases):
                if math.hypot(x - place.x, y - place.y) < 2.5 * r50 * loud:
                    sounds.append((event.id, phase, t, x, y, loud))
        for _ in range(int(rng.poisson(spec.false_per_h * (ctx.end - ctx.start) / 3600.0))):
            a, r = rng.uniform(0, 2 * math.pi), 0.8 * r50 * math.sqrt(rng.uniform())
            sounds.append((None, None, float(rng.uniform(ctx.start, ctx.end)), place.x + r * math.sin(a), place.y + r * math.cos(a), 1.0))
        sounds.sort(key=lambda s: s[2])
        seq = 0
        for event_id, end, t, x, y, loud in sounds:
            dist = np.hypot(mics[:, 0] - x, mics[:, 1] - y)
            scale = r50 * loud
            p = 1.0 / (1.0 + np.exp((dist - scale) / (0.15 * scale)))
            heard = rng.uniform(size=spec.sensors) < p
            if int(heard.sum()) < spec.min_sensors:
                continue
            arrivals = t + dist[heard] / c_true + rng.normal(0.0, spec.timing_sd_s, int(heard.sum()))
            try:
                fix = locate_tdoa(mics[heard], arrivals, c_used, spec.timing_sd_s)
            except ArithmeticError:
                continue
            cov = fix.position_cov
            if not fix.converged or fix.ambiguous or math.sqrt(max(cov[0, 0], cov[1, 1])) > spec.max_sigma_m:
                continue
            seq += 1
            if event_id is None or end is None:
                kind, tag = "explosion", "clutter"
            else:
                kind = end if rng.uniform() < spec.classify_probability else "explosion"
                tag = "signal"
            out.append(
                Draft(
                    id=f"{place.id}-{seq:06d}",
                    time=fix.t0,
                    time_sd=max(fix.time_sd_s, 1e-3),
                    kind=kind,
                    source_id=place.id,
                    source_type="acoustic",
                    org=spec.org,
                    reliability=spec.reliability.value,
                    credibility=int(spec.credibility.value),
                    arrival=float(arrivals.max()) + spec.latency_s,
                    event=event_id,
                    phase=end,
                    tag=tag,  # type: ignore[arg-type]
                    point=(fix.x, fix.y),
                    cov=(float(cov[0, 0]), float(cov[0, 1]), float(cov[1, 1])),
                    attributes={
                        "tdoa": {
                            "sensors": [mic_ll[i] for i in np.flatnonzero(heard)],
                            "arrivals_s": [round(float(a) - fix.t0, 6) for a in arrivals],
                            "sound_speed_mps": round(c_used, 3),
                            "timing_sd_s": spec.timing_sd_s,
                        }
                    },
                )
            )
    return out


def bearing_sensor(spec: BearingSensor, ctx: Context, events: list[TruthEvent]) -> list[Draft]:
    """Bearings to sounds within range; the time assumes the sound came from mid-range."""
    out: list[Draft] = []
    c = ctx.sound_speed
    max_range = spec.max_range_km * 1000.0
    for place in placements(spec, ctx.geometry):
        rng = stream(ctx.scenario.seed, place.id)
        seq = 0
        for event in events:
            weapon = ctx.weapons[event.weapon]
            for phase, t, x, y, loud in _sources(event, weapon, spec.phases):
                dist = math.hypot(x - place.x, y - place.y)
                if dist > max_range * min(loud, 1.0) or dist < 50.0 or rng.uniform() >= spec.p_detect:
                    continue
                seq += 1
                bearing = math.atan2(x - place.x, y - place.y) + rng.normal(0.0, math.radians(spec.sd_deg))
                out.append(
                    Draft(
                        id=f"{place.id}-{seq:06d}",
                        time=t + (dist - max_range / 2.0) / c,
                        time_sd=max_range / (c * math.sqrt(12.0)),
                        kind="launch" if phase == "launch" else "explosion",
                        source_id=place.id,
                        source_type="acoustic",
                        org=spec.org,
                        reliability=spec.reliability.value,
                        credibility=int(spec.credibility.value),
                        arrival=t + dist / c + spec.latency_s,
                        event=event.id,
                        phase=phase,
                        tag="signal",
                        bearing=(place.x, place.y, bearing, spec.sd_deg, max_range, 5.0),
                    )
                )
    return out


def uav(spec: Uav, ctx: Context, events: list[TruthEvent]) -> list[Draft]:
    """Sightings inside the footprint while on station (revisit gaps in between)."""
    out: list[Draft] = []
    period = (spec.on_min + spec.off_min) * 60.0
    footprint = spec.footprint_km * 1000.0
    for place in placements(spec, ctx.geometry):
        rng = stream(ctx.scenario.seed, place.id)
        offset = float(rng.uniform(0.0, period))
        seq = 0
        for event in events:
            weapon = ctx.weapons[event.weapon]
            ends = (("impact", event.impact_time, event.impact_x, event.impact_y), ("launch", event.launch_time, event.origin_x, event.origin_y))
            for phase, t, x, y in ends:
                if phase not in spec.phases or (phase == "launch" and not weapon.launch_visible):
                    continue
                if math.hypot(x - place.x, y - place.y) > footprint or (t - ctx.start + offset) % period >= spec.on_min * 60.0:
                    continue
                if rng.uniform() >= spec.p_detect:
                    continue
                seq += 1
                out.append(
                    Draft(
                        id=f"{place.id}-{seq:06d}",
                        time=t + rng.normal(0.0, spec.time_sd_s),
                        time_sd=spec.time_sd_s,
                        kind="impact" if phase == "impact" else "muzzle-flash",
                        source_id=place.id,
                        source_type="uav",
                        org=spec.org,
                        reliability=spec.reliability.value,
                        credibility=int(spec.credibility.value),
                        arrival=t + spec.latency_s,
                        event=event.id,
                        phase=phase,
                        tag="signal",
                        point=(x + rng.normal(0.0, spec.sigma_m), y + rng.normal(0.0, spec.sigma_m)),
                        cep_m=_CEP * spec.sigma_m,
                    )
                )
    return out


def radar(spec: Radar, ctx: Context, events: list[TruthEvent]) -> list[Draft]:
    """Predicted impact point (the observation) and back-tracked origin (``attributes["origin"]``)."""
    out: list[Draft] = []
    max_range = spec.max_range_km * 1000.0
    half_sector = math.radians(spec.sector_deg) / 2.0
    for place in placements(spec, ctx.geometry):
        rng = stream(ctx.scenario.seed, place.id)
        fx, fy = ctx.geometry.to_en(0.0, -place.side if place.side else 1.0)  # faces the other side
        face = math.atan2(fx, fy)
        seq = 0
        for event in events:
            if not ctx.weapons[event.weapon].radar_visible:
                continue
            d_origin = math.hypot(event.origin_x - place.x, event.origin_y - place.y)
            d_impact = math.hypot(event.impact_x - place.x, event.impact_y - place.y)
            if d_origin > max_range or d_impact > max_range:
                continue
            look = math.atan2(event.origin_x - place.x, event.origin_y - place.y) - face
            if abs((look + math.pi) % (2 * math.pi) - math.pi) > half_sector or rng.uniform() >= spec.p_detect:
                continue
            seq += 1
            s_i = spec.impact_sigma_m + spec.impact_sigma_per_km * d_impact / 1000.0
            s_o = spec.origin_sigma_m + spec.origin_sigma_per_km * d_origin / 1000.0
            out.append(
                Draft(
                    id=f"{place.id}-{seq:06d}",
                    time=event.impact_time + rng.normal(0.0, spec.time_sd_s),
                    time_sd=spec.time_sd_s,
                    kind="impact",
                    source_id=place.id,
                    source_type="radar",
                    org=spec.org,
                    reliability=spec.reliability.value,
                    credibility=int(spec.credibility.value),
                    arrival=event.launch_time + spec.latency_s,
                    event=event.id,
                    phase="impact",
                    tag="signal",
                    point=(event.impact_x + rng.normal(0.0, s_i), event.impact_y + rng.normal(0.0, s_i)),
                    cep_m=_CEP * s_i,
                    origin=(event.origin_x + rng.normal(0.0, s_o), event.origin_y + rng.normal(0.0, s_o), _CEP * s_o),
                )
            )
    return out


def satellite(spec: Satellite, ctx: Context, events: list[TruthEvent]) -> list[Draft]:
    """Thermal detections of impact fires still burning at an overpass, plus false detections."""
    rng = stream(ctx.scenario.seed, spec.id)
    out: list[Draft] = []
    passes: list[float] = []
    day = datetime.fromtimestamp(ctx.start, ctx.scenario.start.tzinfo).replace(hour=0, minute=0, second=0, microsecond=0)
    while day.timestamp() <= ctx.end:
        for hhmm in spec.passes_utc:
            hh, mm = hhmm.split(":")
            tp = (day + timedelta(hours=int(hh), minutes=int(mm))).timestamp()
            if ctx.start <= tp <= ctx.end:
                passes.append(tp)
        day += timedelta(days=1)
    impact_times = np.array([e.impact_time for e in events])
    seq = 0
    for tp in sorted(passes):
        cloudy = rng.uniform() < spec.cloud_probability
        lo = int(np.searchsorted(impact_times, tp - 12 * 3600.0))
        hi = int(np.searchsorted(impact_times, tp, side="right"))
        found: list[tuple[str | None, float, float]] = []
        for event in events[lo:hi]:
            burn = ctx.fires.get(event.id)
            if burn is not None and event.impact_time <= tp <= event.impact_time + burn and not cloudy and rng.uniform() < spec.p_detect:
                found.append((event.id, event.impact_x, event.impact_y))
        for _ in range(int(rng.poisson(spec.false_per_pass))):
            found.append((None, *ctx.geometry.random_point(rng)))
        for event_id, x, y in found:
            seq += 1
            out.append(
                Draft(
                    id=f"{spec.id}-{seq:06d}",
                    time=tp,
                    time_sd=spec.time_uncertainty_s,
                    kind="thermal",
                    source_id=spec.id,
                    source_type="satellite",
                    org=spec.org,
                    reliability=spec.reliability.value,
                    credibility=int(spec.credibility.value),
                    arrival=tp + spec.latency_s,
                    event=event_id,
                    phase="impact" if event_id else None,
                    tag="signal" if event_id else "clutter",
                    point=(x + rng.normal(0.0, spec.sigma_m), y + rng.normal(0.0, spec.sigma_m)),
                    cep_m=_CEP * spec.sigma_m,
                )
            )
    return out
