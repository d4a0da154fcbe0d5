"""The streaming fuser's interface: its configuration, the incident updates it publishes and its counters.

Kept apart from the association engine (:mod:`truceline.fuse.fuser`) so that consumers (the fusion runner,
the store, benchmarks) and the engine's tuning read as one short contract.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from enum import StrEnum

from truceline.domain.incident import Incident
from truceline.fuse.measurement import MeasurementModel
from truceline.fuse.snapshot import Snapshot
from truceline.locate.enu import LocalFrame


class UpdateAction(StrEnum):
    """What happened to an incident; consumers upsert on all but ``removed``."""

    CREATED = "created"
    UPDATED = "updated"
    REMOVED = "removed"  # merged into another incident or emptied by re-assignment
    FINALISED = "finalised"  # left the sliding window: fusion will not change it again


@dataclass(frozen=True, slots=True)
class IncidentUpdate:
    """One change to publish: what happened to which incident, and its state afterwards.

    ``snapshot`` holds the figures; :attr:`incident` builds the domain object from them on first access.
    """

    action: UpdateAction
    incident_id: str
    snapshot: Snapshot | None  # None only when removed
    merged_into: str | None = None
    _incident: Incident | None = field(default=None, repr=False, compare=False)

    @property
    def incident(self) -> Incident | None:
        """The incident after this change (None when removed); built once, then cached."""
        if self.snapshot is None:
            return None
        if self._incident is None:
            object.__setattr__(self, "_incident", self.snapshot.to_incident())
        return self._incident


@dataclass(frozen=True)
class FuserConfig:
    """Tuning of association; one configuration serves sparse and dense scenes alike.

    ``gate_probability`` is the probability that a measurement of an incident passes its gate (χ² in space
    and time); ``merge_probability`` the same for two incidents to be merged. ``reassign_margin`` is the
    hysteresis, in units of 2·log-likelihood, that a better incident must win by before a member moves.
    ``window_s`` bounds memory and how late (in event time) an observation may arrive and still be
    associated. ``birth_density`` is the expected number of new events per km² per hour: a measurement joins
    an incident only if that explains it better than a new, unseen event would, which keeps coarse reports
    from joining whatever happens to lie within their wide gates. ``origin`` fixes the local frame
    (default: the first observation).
    """

    gate_probability: float = 0.999
    merge_probability: float = 0.99
    window_s: float = 6 * 3600.0
    corroboration_threshold: float = 0.25
    birth_density: float = 0.0001
    reassign_margin: float = 2.0
    recheck_budget: int = 16
    origin: tuple[float, float] | None = None
    measurement: MeasurementModel = field(default_factory=MeasurementModel)
    id_prefix: str = "inc-"

    def __post_init__(self) -> None:
        for name in ("gate_probability", "merge_probability"):
            value = getattr(self, name)
            if not 0.5 <= value < 1.0:
                raise ValueError(f"FuserConfig.{name} must be in [0.5, 1), got {value!r}")
        if not (math.isfinite(self.window_s) and self.window_s > 0):
            raise ValueError(f"FuserConfig.window_s must be positive, got {self.window_s!r}")
        if not (math.isfinite(self.birth_density) and self.birth_density > 0):
            raise ValueError(f"FuserConfig.birth_density must be positive, got {self.birth_density!r}")
        if not 0.0 <= self.corroboration_threshold <= 1.0:
            raise ValueError(f"FuserConfig.corroboration_threshold must be in [0, 1], got {self.corroboration_threshold!r}")
        if not (math.isfinite(self.reassign_margin) and self.reassign_margin >= 0):
            raise ValueError(f"FuserConfig.reassign_margin must be ≥ 0, got {self.reassign_margin!r}")
        if self.recheck_budget < 1:
            raise ValueError(f"FuserConfig.recheck_budget must be ≥ 1, got {self.recheck_budget!r}")
        if self.origin is not None:
            LocalFrame(*self.origin)  # validates the coordinates


@dataclass
class FuserStats:
    """Counters since the fuser was created; ``live_*`` are current sizes (the bounded memory)."""

    observations: int = 0
    duplicates: int = 0
    unlocated: int = 0
    malformed_origins: int = 0
    background_fires: int = 0  # satellite detections the conflict-fire analytic did not flag: not evidence
    late: int = 0
    moves: int = 0
    merges: int = 0
    incidents_created: int = 0
    incidents_finalised: int = 0
    bearings_dropped: int = 0
    reassociations: int = 0  # live window associated again after sensors' clock offsets moved
    live_incidents: int = 0
    live_measurements: int = 0
    pending_bearings: int = 0
