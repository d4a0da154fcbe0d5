"""The demo's simulated week of ceasefire life on the real ISW line, as native observation records.

Three parts, all deterministic (fixed seeds), all marked ``attributes.simulated: true`` with source ids
starting ``sim-``:

* the ``demo-week`` preset run through the simulator (fire by both parties on a 40 km stretch of the real
  line, watched by acoustic arrays, direction finders, counter-battery radars, drones and monitors' patrol
  notes of several nations);
* scripted episodes the simulator has no model for: heavy weapons inside their withdrawal zones, a drone in
  the no-fly zone round the Zaporizhzhia nuclear power plant, and a demining detonation that Ukraine
  notified in advance (the agreement's ``notifications`` excuse it);
* free-text reports in Ukrainian, Russian, German and English, read by the real text path
  (:func:`truceline.text.reports.extract`), as ``POST /reports/text`` reads them.

Nothing here says what is a violation: that comes out of fusion and the agreement's rules when the demo
loads these records. Records come with the time they reach the mission, so a loader can feed them to fusion
in arrival order.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from truceline.sim.draft import stream
from truceline.sim.run import observation_records, simulate, truth_records
from truceline.sim.scenario import load_scenario
from truceline.text.reports import TextReport, extract

PRESET = "demo-week"
#: The week the simulation covers, and the day the demo suggests looking at (README's example date).
WEEK_START = date(2023, 5, 15)
WEEK_DAYS = 7
DEMO_DAY = date(2023, 5, 18)
SIMULATED = "simulated"
_SEED = 20230515
#: Invented data has nothing to hide, so it is public (the default report edition shows it) — except the
#: monitors' patrol notes, kept to the coalition so the public edition shows releasability at work.
_PUBLIC = ["PUBLIC"]
_COALITION = ["COALITION"]


def _releasable(source_type: str) -> list[str]:
    return list(_COALITION if source_type == "monitor" else _PUBLIC)


@dataclass(frozen=True)
class Timed:
    """A native observation record and when it reaches the mission (UTC)."""

    arrival: datetime
    record: dict[str, Any]


def _iso(t: datetime) -> str:
    return t.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _at(day: int, hh: int, mm: int) -> datetime:
    return datetime(WEEK_START.year, WEEK_START.month, WEEK_START.day, hh, mm, tzinfo=UTC) + timedelta(days=day)


def _label(record: dict[str, Any]) -> dict[str, Any]:
    record["attributes"] = {**record.get("attributes", {}), SIMULATED: True}
    return record


def simulated_fire() -> list[Timed]:
    """The ``demo-week`` preset's observations (both parties' fire, several nations' sensors)."""
    sim = simulate(load_scenario(PRESET))
    arrival = {
        row["observation"]: datetime.fromisoformat(row["arrival"].replace("Z", "+00:00"))
        for row in truth_records(sim)
        if row["type"] == "label"
    }
    out = []
    for record in observation_records(sim):
        record["releasable_to"] = _releasable(record["source"]["type"])
        out.append(Timed(arrival[record["id"]], _label(record)))
    return out


def _point(rng_name: str, lat: float, lon: float, sigma_m: float) -> tuple[float, float]:
    """(lat, lon) displaced by a seeded normal error of ``sigma_m`` metres, as a sensor would report it."""
    rng = stream(_SEED, rng_name)
    de, dn = rng.normal(0.0, sigma_m, 2)
    return lat + dn / 111_320.0, lon + de / (111_320.0 * math.cos(math.radians(lat)))


def _record(oid: str, when: datetime, kind: str, location: dict[str, Any], source: tuple[str, str, str],
            grade: tuple[str, int], time_sd_s: float, attributes: dict[str, Any] | None = None) -> dict[str, Any]:  # fmt: skip
    record: dict[str, Any] = {
        "id": oid, "time": _iso(when), "time_uncertainty_s": time_sd_s, "kind": kind, "location": location,
        "source": {"id": source[0], "type": source[1], "org": source[2]},
        "reliability": grade[0], "credibility": grade[1], "releasable_to": _releasable(source[1]),
    }
    if attributes:
        record["attributes"] = attributes
    return _label(record)


def _sighting(oid: str, when: datetime, at: tuple[float, float], sigma_m: float, source: tuple[str, str, str],
              grade: tuple[str, int], weapon_class: str, what: str, time_sd_s: float = 60.0) -> dict[str, Any]:  # fmt: skip
    lat, lon = _point(oid, *at, sigma_m)
    location = {"lat": round(lat, 6), "lon": round(lon, 6), "cep_m": round(1.1774 * sigma_m, 1)}
    attributes = {"weapon_class": weapon_class, "equipment": what}
    return _record(oid, when, "equipment-sighting", location, source, grade, time_sd_s, attributes)


def scripted_episodes() -> list[Timed]:
    """What the simulator does not model: heavy weapons, a no-fly breach, a notified demining detonation.

    Places are real: a Msta-S battery near Tokmak (Russian-held, about 25 km from the line, inside the 50 km
    withdrawal zone of artillery ≥ 100 mm), a Grad launcher north of Orikhiv (Ukrainian-held, about 20 km
    from the line, inside the 70 km MLRS zone), a drone 5 km from the Zaporizhzhia nuclear power plant whose
    launch point the air-defence radar tracked back across the reservoir, and a detonation east of Orikhiv
    inside the place and hours of Ukraine's demining notification ``ua-demining-2023-05-17`` (agreement.yaml).
    """
    out: list[Timed] = []
    # Russian 2S19 Msta-S battery near Tokmak: a coalition drone and a monitors' patrol both see it.
    t = _at(3, 7, 40)
    out.append(Timed(t + timedelta(minutes=5), _sighting(
        "sim-us-uav-heavy-0001", t, (47.292, 35.742), 25.0, ("sim-us-uav-05", "uav", "US"), ("A", 2), "artillery-100mm",
        "2S19 Msta-S self-propelled howitzers, 152 mm, four vehicles")))
    out.append(Timed(t + timedelta(hours=2), _sighting(
        "sim-mon-heavy-0001", t + timedelta(minutes=10), (47.292, 35.742), 250.0, ("sim-mon-patrol-02", "monitor", "MON"), ("A", 2),
        "artillery-100mm", "patrol note, about 07:50: four tracked howitzers, barrels ~152 mm, in a tree line east of Tokmak", 900.0)))
    # Ukrainian BM-21 Grad north of Orikhiv: one drone only (single source).
    t = _at(3, 13, 10)
    out.append(Timed(t + timedelta(minutes=5), _sighting(
        "sim-gb-uav-heavy-0001", t, (47.745, 35.80), 30.0, ("sim-gb-uav-03", "uav", "GB"), ("A", 2), "mlrs",
        "BM-21 Grad multiple rocket launcher, one vehicle, launch tubes loaded")))
    # A drone flying 5 km from the nuclear power plant, launched from the north bank of the reservoir.
    t = _at(3, 21, 35)
    lat, lon = _point("sim-fr-adr-flight-0001", 47.548, 34.641, 150.0)
    out.append(Timed(t + timedelta(seconds=30), _record(
        "sim-fr-adr-flight-0001", t, "flight", {"lat": round(lat, 6), "lon": round(lon, 6), "cep_m": 180.0, "alt_m": 450.0},
        ("sim-fr-adr-01", "radar", "FR"), ("A", 2), 2.0,
        {"origin": {"lat": 47.66, "lon": 34.40, "cep_m": 1500.0}, "track": "small UAV, 38 m/s, heading 160°"})))
    lat, lon = _point("sim-iaea-flight-0001", 47.548, 34.641, 600.0)
    out.append(Timed(t + timedelta(minutes=40), _record(
        "sim-znpp-mon-flight-0001", t + timedelta(seconds=40), "flight", {"lat": round(lat, 6), "lon": round(lon, 6), "cep_m": 700.0},
        ("sim-znpp-mon-01", "monitor", "MON"), ("B", 2), 120.0, {"note": "monitors at the plant heard and saw a drone to the east"})))
    # The notified demining detonation east of Orikhiv (heard by an acoustic array, seen by a patrol).
    t = _at(2, 10, 20)
    lat, lon = _point("sim-ua-acn-demining-0001", 47.585, 35.86, 60.0)
    out.append(Timed(t + timedelta(seconds=20), _record(
        "sim-ua-acn-demining-0001", t, "explosion", {"lat": round(lat, 6), "lon": round(lon, 6), "cep_m": 80.0},
        ("sim-ua-acn-01", "acoustic", "UA"), ("B", 2), 0.5)))
    lat, lon = _point("sim-mon-demining-0001", 47.585, 35.86, 200.0)
    out.append(Timed(t + timedelta(hours=1), _record(
        "sim-mon-demining-0001", t + timedelta(minutes=2), "explosion", {"lat": round(lat, 6), "lon": round(lon, 6), "cep_m": 250.0},
        ("sim-mon-patrol-01", "monitor", "MON"), ("A", 2), 300.0, {"note": "controlled detonation by a Ukrainian demining team, as notified"})))
    return out


#: (language, published at, publisher, text): invented reports, each naming a real place near the line.
TEXT_REPORTS: tuple[tuple[str, datetime, str, str], ...] = (
    ("uk", _at(3, 9, 30), "sim-press-uk", "18 травня о 06:10 російські війська обстріляли Оріхів з артилерії."),
    ("ru", _at(3, 16, 5), "sim-press-ru", "Сегодня около 14:30 ВСУ обстреляли Васильевку из миномётов."),
    ("de", _at(3, 12, 0), "sim-press-de", "Am Donnerstagmorgen gab es Beschuss in Huljajpole."),
    ("en", _at(3, 21, 0), "sim-press-en", "Shelling hit Tokmak at about 19:40 on Thursday, local residents said."),
)


def text_reports() -> list[Timed]:
    """The invented press reports read by the real text path, each observation marked simulated."""
    out: list[Timed] = []
    for language, published, source_id, text in TEXT_REPORTS:
        report = TextReport(text=text, published_at=published, source_id=source_id, org="PRESS", source_type="osint",
                            language=language, releasable_to=tuple(_PUBLIC))  # fmt: skip
        out.extend(Timed(published, _label(record)) for record in extract(report).records())
    return out


def demo_week() -> list[Timed]:
    """Every simulated record of the demo week, in arrival order (ties: by id)."""
    items = simulated_fire() + scripted_episodes() + text_reports()
    return sorted(items, key=lambda item: (item.arrival, item.record["id"]))
