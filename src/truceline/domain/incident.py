"""Incident: one physical event fused from one or more observations, with its review status."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from truceline.domain.observation import Latitude, Longitude, ObservationKind

#: Separates an incident's id from the number of a reader's partial view of it (``inc-…`` + ``.2``):
#: a reader who may read only some of the evidence can see one incident as several.
PARTIAL_VIEW_SEPARATOR = "."


def base_incident_id(view_id: str) -> str:
    """The incident a (possibly partial) view belongs to: reviews and violations attach to the incident."""
    return view_id.split(PARTIAL_VIEW_SEPARATOR, 1)[0]


class IncidentStatus(StrEnum):
    """Life cycle: fusion proposes (detected, corroborated), analysts decide (verified, dismissed)."""

    DETECTED = "detected"
    CORROBORATED = "corroborated"
    VERIFIED = "verified"
    DISMISSED = "dismissed"


class Origin(BaseModel):
    """Estimated firing or launch point, with its east/north covariance; basis of attribution."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    lat: Latitude
    lon: Longitude
    cov_m2: tuple[tuple[float, float], tuple[float, float]]


class Incident(BaseModel):
    """The fused estimate of one event; its figures are always derived from ``observation_ids``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str
    time: datetime
    time_uncertainty_s: Annotated[float, Field(ge=0.0)] = 0.0
    kind: ObservationKind
    lat: Latitude
    lon: Longitude
    sigma_m: Annotated[float, Field(gt=0.0)] = Field(description="1-σ horizontal uncertainty, metres")
    origin: Origin | None = None
    observation_ids: tuple[str, ...]
    observation_orgs: tuple[str, ...] = Field(
        default=(),
        description="the organisation of each of observation_ids, in the same order: ids are per organisation, so"
        " (observation_orgs[i], observation_ids[i]) names one observation; empty on incidents written before",
    )
    independent_sources: Annotated[int, Field(ge=0)] = 1
    corroboration: Annotated[float, Field(ge=0.0, le=1.0)] = 0.0
    status: IncidentStatus = IncidentStatus.DETECTED
    attributes: dict[str, str] = Field(default_factory=dict)
    cov_m2: tuple[tuple[float, float], tuple[float, float]] | None = Field(
        default=None, description="2×2 east/north covariance of the position, m²; sigma_m is its circular summary"
    )
    source_groups: tuple[str, ...] = Field(
        default=(), description="independent source groups ('ORG/type') behind independent_sources"
    )
    version: Annotated[int, Field(ge=0)] = Field(default=0, description="increases with every change fusion makes")

    def observation_refs(self) -> list[tuple[str | None, str]]:
        """(organisation, id) of each supporting observation; organisation None on incidents written before
        ids were per organisation (their ids were unique across organisations)."""
        if len(self.observation_orgs) == len(self.observation_ids):
            return [(org or None, oid) for org, oid in zip(self.observation_orgs, self.observation_ids, strict=True)]
        return [(None, oid) for oid in self.observation_ids]
