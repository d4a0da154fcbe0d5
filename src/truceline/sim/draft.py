"""A simulated observation before it is written: geometry in the scenario's frame, plus its ground truth.

Sensor models produce drafts; the writer turns all of them into latitude/longitude and local-north
bearings and covariances in one vectorised pass, and keeps the truth label (which event and which end of
the shot, or clutter, a false report, a duplicate) out of the observation itself.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

Tag = Literal["signal", "clutter", "false-report", "duplicate"]


@dataclass
class Draft:
    """One observation in frame metres and epoch seconds, with its arrival time and truth label."""

    id: str
    time: float
    time_sd: float
    kind: str
    source_id: str
    source_type: str
    org: str
    reliability: str
    credibility: int
    arrival: float
    event: str | None
    phase: str | None
    tag: Tag
    point: tuple[float, float] | None = None
    cov: tuple[float, float, float] | None = None  # frame axes: xx, xy, yy (m²)
    cep_m: float | None = None
    bearing: tuple[float, float, float, float, float, float] | None = None  # sx, sy, rad from frame north, sd°, range m, sensor CEP m
    place: tuple[float, float, int, str] | None = None  # x, y, precision, name
    origin: tuple[float, float, float] | None = None  # x, y, CEP m
    attributes: dict[str, Any] = field(default_factory=dict)


def stream(seed: int, name: str) -> np.random.Generator:
    """An independent random stream per component, so adding a sensor does not change the others' draws."""
    return np.random.default_rng([seed, zlib.crc32(name.encode())])
