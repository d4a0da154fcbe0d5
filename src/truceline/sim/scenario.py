"""Scenario files: what happens (fires) and who watches (sensors), in YAML, validated with precise errors.

Geometry is given in *line coordinates*, kilometres: ``u`` along the contact line (0 at the scenario's
frame origin, which is the line's midpoint) and ``v`` across it, negative on the first party's side and
positive on the second's. A sensor with ``repeat_km`` is replicated every ``repeat_km`` along the whole line,
so a long front is described by one entry per sensor kind.
"""

from __future__ import annotations

from datetime import datetime
from importlib import resources
from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from truceline.domain.grading import Credibility, Reliability
from truceline.domain.observation import UtcTime

PRESETS = ("sparse-day", "salvo-sector", "contact-line-week", "demo-week")

Positive = Annotated[float, Field(gt=0, allow_inf_nan=False)]
NonNegative = Annotated[float, Field(ge=0, allow_inf_nan=False)]
Probability = Annotated[float, Field(ge=0, le=1, allow_inf_nan=False)]
Label = Annotated[str, Field(pattern=r"^[A-Z][A-Z0-9_-]{1,31}$")]
SensorId = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._:@/+-]{0,100}$")]
Phase = Literal["impact", "launch"]


class ScenarioError(ValueError):
    """A scenario file that cannot be used; the message names the file, the field and the rule."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Frame(_Model):
    """Where the line is: its midpoint and the compass direction it runs in."""

    lat: Annotated[float, Field(ge=-80, le=80)]
    lon: Annotated[float, Field(ge=-180, le=180)]
    line_azimuth_deg: Annotated[float, Field(ge=0, lt=360)] = 90.0


class Weapon(_Model):
    """Ballistics and signatures of one weapon class."""

    range_km: tuple[Positive, Positive]
    speed_mps: Positive
    impact_loudness: NonNegative = 1.0
    launch_loudness: NonNegative = 1.0  # 0: the launch makes no sound a sensor can use (e.g. a drone)
    launch_visible: bool = True
    radar_visible: bool = True
    fire_probability: Probability = 0.3  # an impact starts a fire a satellite can see

    @model_validator(mode="after")
    def _ordered(self) -> Weapon:
        if self.range_km[0] >= self.range_km[1]:
            raise ValueError(f"range_km must be [min, max] with min < max, got {list(self.range_km)}")
        return self


DEFAULT_WEAPONS: dict[str, Weapon] = {
    "artillery": Weapon(range_km=(6, 25), speed_mps=450, impact_loudness=1.0, launch_loudness=1.0, fire_probability=0.3),
    "mortar": Weapon(range_km=(1, 6), speed_mps=200, impact_loudness=0.6, launch_loudness=0.5, fire_probability=0.1),
    "rocket": Weapon(range_km=(8, 35), speed_mps=700, impact_loudness=1.3, launch_loudness=1.5, fire_probability=0.4),
    "drone": Weapon(
        range_km=(5, 40), speed_mps=40, impact_loudness=0.5, launch_loudness=0.0, launch_visible=False, radar_visible=False, fire_probability=0.3
    ),
}


class Fire(_Model):
    """A Poisson stream of single strikes or salvos by one party with one weapon."""

    pattern: Literal["single", "salvo"] = "single"
    party: Label
    weapon: str
    rate_per_h: Positive
    depth_km: tuple[NonNegative, Positive] = (0.5, 8.0)
    along_km: tuple[float, float] | None = None
    impacts: tuple[Annotated[int, Field(ge=1)], Annotated[int, Field(ge=1)]] = (3, 10)
    spread_m: Positive = 600.0
    duration_s: Positive = 180.0
    gun_spread_m: NonNegative = 50.0


class _Sensor(_Model):
    id: SensorId
    org: Label
    reliability: Reliability = Reliability.B
    credibility: Credibility = Credibility.PROBABLY_TRUE
    latency_s: NonNegative = 5.0


class _Placed(_Sensor):
    at_km: tuple[float, float]
    repeat_km: Positive | None = None


class AcousticNetwork(_Placed):
    """Microphones on a ring; a processor locates each sound heard by ``min_sensors`` or more by TDOA."""

    type: Literal["acoustic-network"]
    sensors: Annotated[int, Field(ge=3, le=32)] = 6
    aperture_km: Positive = 6.0
    timing_sd_s: Positive = 0.01
    range50_km: Positive = 12.0
    min_sensors: Annotated[int, Field(ge=3)] = 4
    temperature_error_c: float = 0.0
    classify_probability: Probability = 0.7
    max_sigma_m: Positive = 3000.0
    false_per_h: NonNegative = 0.1
    phases: tuple[Phase, ...] = ("impact", "launch")


class BearingSensor(_Placed):
    """An acoustic direction finder: a bearing to each sound within range, time from the mid-range delay."""

    type: Literal["bearing"]
    sd_deg: Positive = 1.5
    max_range_km: Positive = 20.0
    p_detect: Probability = 0.8
    phases: tuple[Phase, ...] = ("launch",)


class Uav(_Placed):
    """A drone orbiting over ``at_km``: sees what happens in its footprint while on station."""

    type: Literal["uav"]
    footprint_km: Positive = 2.5
    on_min: Positive = 40.0
    off_min: NonNegative = 20.0
    p_detect: Probability = 0.9
    sigma_m: Positive = 15.0
    time_sd_s: Positive = 2.0
    phases: tuple[Phase, ...] = ("impact", "launch")


class Radar(_Placed):
    """Counter-battery radar: for each shell whose launch and impact are in range and sector, both points."""

    type: Literal["radar"]
    max_range_km: Positive = 30.0
    sector_deg: Annotated[float, Field(gt=0, le=360)] = 120.0
    p_detect: Probability = 0.85
    impact_sigma_m: Positive = 40.0
    impact_sigma_per_km: NonNegative = 3.0
    origin_sigma_m: Positive = 30.0
    origin_sigma_per_km: NonNegative = 2.0
    time_sd_s: Positive = 1.0


class Satellite(_Sensor):
    """Thermal anomalies at fixed daily overpasses: fires burning at the pass, unless clouded over."""

    type: Literal["satellite"]
    passes_utc: tuple[str, ...] = ("00:30", "11:10")
    cloud_probability: Probability = 0.3
    fire_mean_h: Positive = 1.5
    p_detect: Probability = 0.8
    sigma_m: Positive = 250.0
    time_uncertainty_s: Positive = 5400.0
    false_per_pass: NonNegative = 0.5
    latency_s: NonNegative = 3 * 3600.0

    @field_validator("passes_utc")
    @classmethod
    def _times(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for item in value:
            try:
                hh, mm = item.split(":")
                if not (0 <= int(hh) < 24 and 0 <= int(mm) < 60):
                    raise ValueError
            except ValueError:
                raise ValueError(f"pass time must be HH:MM (UTC), got {item!r}") from None
        return value


class Reports(_Sensor):
    """Human reports (monitors, open sources): coarse places, approximate times, late, duplicated, some false."""

    type: Literal["reports"]
    source_type: Literal["monitor", "osint", "official"] = "monitor"
    channels: Annotated[int, Field(ge=1, le=1000)] = 3
    p_report: Probability = 0.15
    precision: dict[Annotated[int, Field(ge=1, le=4)], Probability] = Field(default_factory=lambda: {1: 0.7, 2: 0.3})
    place_error: Positive = 0.5  # actual offset σ as a fraction of the precision's nominal σ
    time_sd_s: Positive = 600.0
    delay_median_min: Positive = 45.0
    delay_sigma: NonNegative = 1.0
    delay_max_h: Positive = 5.0
    p_duplicate: Probability = 0.1
    false_per_day: NonNegative = 0.5
    kinds: tuple[Literal["explosion", "impact", "damage", "casualty-report"], ...] = ("explosion",)

    @field_validator("precision")
    @classmethod
    def _sums(cls, value: dict[int, float]) -> dict[int, float]:
        total = sum(value.values())
        if not value or abs(total - 1.0) > 1e-6:
            raise ValueError(f"precision weights must sum to 1, got {total}")
        return value


Sensor = Annotated[AcousticNetwork | BearingSensor | Uav | Radar | Satellite | Reports, Field(discriminator="type")]


class Scenario(_Model):
    """A complete simulation: seed, time span, geometry, fires and sensors."""

    name: Annotated[str, Field(min_length=1, max_length=80)]
    seed: Annotated[int, Field(ge=0)]
    start: UtcTime
    duration_h: Positive
    frame: Frame
    parties: tuple[Label, Label]
    line_length_km: Positive
    depth_km: Positive = 15.0
    temperature_c: Annotated[float, Field(ge=-60, le=60)] = 12.0
    weapons: dict[str, Weapon] = Field(default_factory=dict)
    fires: tuple[Fire, ...]
    sensors: tuple[Sensor, ...]

    @model_validator(mode="after")
    def _consistent(self) -> Scenario:
        known = self.weapon_table()
        for i, fire in enumerate(self.fires):
            if fire.party not in self.parties:
                raise ValueError(f"fires[{i}].party {fire.party!r} is not one of the parties {list(self.parties)}")
            if fire.weapon not in known:
                raise ValueError(f"fires[{i}].weapon {fire.weapon!r} is unknown; known: {sorted(known)}")
        ids = [s.id for s in self.sensors]
        if len(set(ids)) != len(ids):
            raise ValueError("sensor ids must be unique")
        return self

    def weapon_table(self) -> dict[str, Weapon]:
        """Built-in weapons overridden or extended by the scenario's own."""
        return {**DEFAULT_WEAPONS, **self.weapons}


def parse_scenario(text: str, origin: str = "<scenario>") -> Scenario:
    """Validate YAML text; raises :class:`ScenarioError` naming the field and rule that failed."""
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ScenarioError(f"{origin}: not valid YAML: {exc}") from None
    if not isinstance(doc, dict):
        raise ScenarioError(f"{origin}: a scenario is a YAML mapping, got {type(doc).__name__}")
    if isinstance(doc.get("start"), datetime):
        doc["start"] = doc["start"].isoformat()
    try:
        return Scenario.model_validate(doc)
    except ValidationError as exc:
        lines = [f"{origin}: {exc.error_count()} error(s)"]
        for err in exc.errors(include_url=False):
            where = ".".join(str(p) for p in err["loc"]) or "(scenario)"
            lines.append(f"  {where}: {err['msg']}")
        raise ScenarioError("\n".join(lines)) from None


def load_scenario(name_or_path: str | Path) -> Scenario:
    """A preset by name (``sparse-day``, ``salvo-sector``, ``contact-line-week``) or a YAML file by path."""
    if str(name_or_path) in PRESETS:
        text = resources.files("truceline.sim").joinpath("presets", f"{name_or_path}.yaml").read_text(encoding="utf-8")
        return parse_scenario(text, f"preset {name_or_path}")
    path = Path(name_or_path)
    if not path.is_file():
        raise ScenarioError(f"{path}: no such scenario file (presets: {', '.join(PRESETS)})")
    return parse_scenario(path.read_text(encoding="utf-8"), str(path))
