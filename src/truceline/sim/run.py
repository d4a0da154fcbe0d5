"""Run a scenario: truth events, every sensor's drafts, and the two files evaluation reads.

``observations.jsonl`` holds native observations (the same JSON the API accepts) in *arrival* order, so
replaying it line by line is a realistic stream with late and out-of-order reports. ``truth.jsonl`` holds a
header line, one line per event (both ends of the shot, in latitude/longitude) and one label line per
observation (which event and end it saw, or that it is clutter, a false report or a duplicate).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from truceline.locate.tdoa import sound_speed
from truceline.sim.draft import Draft, stream
from truceline.sim.reports import reports
from truceline.sim.scenario import AcousticNetwork, BearingSensor, Radar, Reports, Satellite, Scenario, Uav
from truceline.sim.sensors import Context, acoustic_network, bearing_sensor, radar, satellite, uav
from truceline.sim.world import LineGeometry, TruthEvent, generate_events

TRUTH_FILE = "truth.jsonl"
OBSERVATIONS_FILE = "observations.jsonl"


@dataclass(frozen=True)
class Simulation:
    """Ground truth and the drafts of every sensor, sorted by arrival."""

    scenario: Scenario
    geometry: LineGeometry
    events: list[TruthEvent]
    drafts: list[Draft]


def simulate(scenario: Scenario) -> Simulation:
    """Generate events and run every sensor model; deterministic for a given scenario (seed included)."""
    geometry = LineGeometry(scenario)
    events = generate_events(scenario, geometry, stream(scenario.seed, "events"))
    weapons = scenario.weapon_table()
    fire_rng = stream(scenario.seed, "fires")
    fires = {}
    for event in events:
        weapon = weapons[event.weapon]
        if fire_rng.uniform() < weapon.fire_probability:
            fires[event.id] = float(fire_rng.exponential(_fire_mean_s(scenario)))
    start = scenario.start.timestamp()
    ctx = Context(scenario, geometry, weapons, start, start + scenario.duration_h * 3600.0, sound_speed(scenario.temperature_c), fires)

    def latlon(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return geometry.frame.to_geodetic(x, y)

    drafts: list[Draft] = []
    for sensor in scenario.sensors:
        if isinstance(sensor, AcousticNetwork):
            drafts.extend(acoustic_network(sensor, ctx, events, latlon))
        elif isinstance(sensor, BearingSensor):
            drafts.extend(bearing_sensor(sensor, ctx, events))
        elif isinstance(sensor, Uav):
            drafts.extend(uav(sensor, ctx, events))
        elif isinstance(sensor, Radar):
            drafts.extend(radar(sensor, ctx, events))
        elif isinstance(sensor, Satellite):
            drafts.extend(satellite(sensor, ctx, events))
        elif isinstance(sensor, Reports):
            drafts.extend(reports(sensor, ctx, events))
    drafts.sort(key=lambda d: (d.arrival, d.id))
    return Simulation(scenario, geometry, events, drafts)


def _fire_mean_s(scenario: Scenario) -> float:
    means = [s.fire_mean_h for s in scenario.sensors if isinstance(s, Satellite)]
    return (means[0] if means else 1.5) * 3600.0


def _iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def _rotate(xx: float, xy: float, yy: float, angle: float) -> tuple[float, float, float]:
    c, s = math.cos(angle), math.sin(angle)
    return (c * c * xx - 2 * c * s * xy + s * s * yy, c * s * (xx - yy) + (c * c - s * s) * xy, s * s * xx + 2 * c * s * xy + c * c * yy)


def observation_records(sim: Simulation) -> list[dict[str, Any]]:
    """Native observation JSON objects, in arrival order (covariances and bearings in local north)."""
    xs: list[float] = []
    ys: list[float] = []
    for d in sim.drafts:
        geom = d.point or (d.bearing[:2] if d.bearing else None) or (d.place[:2] if d.place else None)
        assert geom is not None, d.id
        xs.append(geom[0])
        ys.append(geom[1])
        if d.origin:
            xs.append(d.origin[0])
            ys.append(d.origin[1])
    frame = sim.geometry.frame
    lat, lon = frame.to_geodetic(xs, ys)
    angle = frame.north_angle(lat, lon).tolist()
    lat_l, lon_l = lat.tolist(), lon.tolist()
    out: list[dict[str, Any]] = []
    k = 0
    for d in sim.drafts:
        i = k
        k += 1
        location: dict[str, Any]
        if d.bearing is not None:
            sx, sy, b, sd, rng, cep = d.bearing
            local = math.degrees(b + angle[i]) % 360.0
            location = {
                "sensor_lat": round(lat_l[i], 7),
                "sensor_lon": round(lon_l[i], 7),
                "sensor_cep_m": cep,
                "bearing_deg": round(local, 4) % 360.0,
                "bearing_sd_deg": sd,
                "max_range_m": rng,
            }
        elif d.place is not None:
            location = {"name": d.place[3], "precision": d.place[2], "lat": round(lat_l[i], 6), "lon": round(lon_l[i], 6)}
        elif d.cov is not None:
            xx, xy, yy = _rotate(*d.cov, -angle[i])
            location = {"lat": round(lat_l[i], 7), "lon": round(lon_l[i], 7), "cov_m2": [[round(xx, 3), round(xy, 3)], [round(xy, 3), round(yy, 3)]]}
        else:
            location = {"lat": round(lat_l[i], 7), "lon": round(lon_l[i], 7), "cep_m": round(d.cep_m or 1.0, 2)}
        attributes = dict(d.attributes)
        if d.origin is not None:
            j = k
            k += 1
            attributes["origin"] = {"lat": round(lat_l[j], 7), "lon": round(lon_l[j], 7), "cep_m": round(d.origin[2], 2)}
        record: dict[str, Any] = {
            "id": d.id,
            "time": _iso(d.time),
            "time_uncertainty_s": round(d.time_sd, 4),
            "kind": d.kind,
            "location": location,
            "source": {"id": d.source_id, "type": d.source_type, "org": d.org},
            "reliability": d.reliability,
            "credibility": d.credibility,
            "releasable_to": ["COALITION"],
        }
        if attributes:
            record["attributes"] = attributes
        out.append(record)
    return out


def truth_records(sim: Simulation) -> Iterator[dict[str, Any]]:
    """Header, events and labels, as written to ``truth.jsonl``."""
    sc = sim.scenario
    yield {
        "type": "scenario",
        "name": sc.name,
        "seed": sc.seed,
        "start": _iso(sc.start.timestamp()),
        "duration_h": sc.duration_h,
        "frame": {"lat": sc.frame.lat, "lon": sc.frame.lon},
        "parties": list(sc.parties),
    }
    frame = sim.geometry.frame
    if sim.events:
        ilat, ilon = frame.to_geodetic([e.impact_x for e in sim.events], [e.impact_y for e in sim.events])
        olat, olon = frame.to_geodetic([e.origin_x for e in sim.events], [e.origin_y for e in sim.events])
        for e, a, b, c, d in zip(sim.events, ilat.tolist(), ilon.tolist(), olat.tolist(), olon.tolist(), strict=True):
            yield {
                "type": "event",
                "id": e.id,
                "weapon": e.weapon,
                "party": e.party,
                "salvo": e.salvo,
                "impact": {"time": _iso(e.impact_time), "lat": round(a, 7), "lon": round(b, 7)},
                "launch": {"time": _iso(e.launch_time), "lat": round(c, 7), "lon": round(d, 7)},
            }
    for d in sim.drafts:
        yield {"type": "label", "observation": d.id, "event": d.event, "phase": d.phase, "tag": d.tag, "arrival": _iso(d.arrival)}


def write_outputs(sim: Simulation, out_dir: Path) -> tuple[Path, Path]:
    """Write ``truth.jsonl`` and ``observations.jsonl`` into ``out_dir`` (created if missing)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    truth_path = out_dir / TRUTH_FILE
    obs_path = out_dir / OBSERVATIONS_FILE
    with truth_path.open("wb") as fh:
        for record in truth_records(sim):
            fh.write(orjson.dumps(record) + b"\n")
    with obs_path.open("wb") as fh:
        for record in observation_records(sim):
            fh.write(orjson.dumps(record) + b"\n")
    return truth_path, obs_path
