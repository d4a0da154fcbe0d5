"""The store port: what the API, CLI and fusion need from persistence, independent of the engine.

SQLite (embedded default) and PostgreSQL implement it; callers type against these protocols only.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from truceline.access.policy import Principal, Role
from truceline.domain.observation import Observation
from truceline.domain.validated import ValidatedObservation

#: (organisation, id, releasable_to) of an observation an incident rests on: what deciding who may read the
#: incident's news needs (the stores' ``member_evidence``).
MemberEvidence = tuple[str, str, tuple[str, ...]]


@dataclass(frozen=True)
class ApiKey:
    """A key as the server knows it: never the secret itself, only who holds it and what it may do."""

    key_id: str
    org: str
    role: Role
    created_at: datetime
    revoked_at: datetime | None = None
    label: str = ""

    def as_dict(self) -> dict[str, Any]:
        """JSON form for listings (there is no secret to leave out: the store never had it)."""
        return {
            "key_id": self.key_id,
            "org": self.org,
            "role": self.role.value,
            "label": self.label,
            "created_at": self.created_at.isoformat(),
            "revoked_at": self.revoked_at.isoformat() if self.revoked_at else None,
        }


@dataclass(frozen=True)
class AddResult:
    """Outcome of an atomic batch insert.

    ``accepted`` lists every id of the batch in order; ``stored`` the ids that were new; ``duplicates``
    ids already present with identical content; ``conflicts`` ids already present with *different*
    content (kept unchanged, reported so a sender reusing ids notices).
    """

    accepted: list[str]
    stored: list[str]
    duplicates: list[str]
    conflicts: list[str]


@dataclass(frozen=True)
class BBox:
    """Longitude/latitude box; ``min_lon > max_lon`` means it crosses the antimeridian."""

    min_lon: float
    min_lat: float
    max_lon: float
    max_lat: float

    def __post_init__(self) -> None:
        for name, value, limit in (
            ("min_lon", self.min_lon, 180.0),
            ("max_lon", self.max_lon, 180.0),
            ("min_lat", self.min_lat, 90.0),
            ("max_lat", self.max_lat, 90.0),
        ):
            if not -limit <= value <= limit:
                raise ValueError(f"bbox {name}={value} is outside [-{limit:g}, {limit:g}]")
        if self.min_lat > self.max_lat:
            raise ValueError(f"bbox min_lat={self.min_lat} is greater than max_lat={self.max_lat}")

    def lon_ranges(self) -> list[tuple[float, float]]:
        """One longitude interval, or two when the box crosses the antimeridian."""
        if self.min_lon <= self.max_lon:
            return [(self.min_lon, self.max_lon)]
        return [(self.min_lon, 180.0), (-180.0, self.max_lon)]


@dataclass(frozen=True)
class ObservationQuery:
    """Filters for listing observations; ``cursor`` continues a previous page."""

    since: datetime | None = None
    until: datetime | None = None
    bbox: BBox | None = None
    kinds: tuple[str, ...] = ()
    source_types: tuple[str, ...] = ()
    orgs: tuple[str, ...] = ()
    limit: int = 100
    cursor: str | None = None
    reader: Principal | None = None  # None: unrestricted (internal use); otherwise releasability applies


@dataclass(frozen=True)
class StoredObservation:
    """An accepted observation as stored: its canonical JSON document plus when and where it landed."""

    id: str
    document: dict[str, Any]
    received_at: datetime
    seq: int
    ledger_index: int | None = None
    ledger_salt: bytes | None = None
    excluded: str | None = None  # why it does not count (posted by a key revoked as compromised), else None


@dataclass(frozen=True)
class IncidentQuery:
    """Filters for incidents (time, place, status, ids), at most ``limit`` of them in time order."""

    since: datetime | None = None
    until: datetime | None = None
    bbox: BBox | None = None
    statuses: tuple[str, ...] = ()
    ids: tuple[str, ...] = ()
    limit: int = 1000


@dataclass
class Page:
    """One page of results and the cursor for the next (None at the end)."""

    items: list[StoredObservation] = field(default_factory=list)
    next_cursor: str | None = None


class ObservationStore(Protocol):
    """Observation persistence: idempotent, atomic batches; everything accepted survives a crash."""

    def add_observations(self, observations: Sequence[Observation], received_at: datetime | None = None) -> AddResult: ...

    def add_validated(self, items: Sequence[ValidatedObservation], received_at: datetime | None = None) -> AddResult:
        """:meth:`add_observations` for observations a columnar decoder validated (same rows, leaves and checks)."""

    def get_observation(
        self, observation_id: str, reader: Principal | None = None, org: str | None = None
    ) -> StoredObservation | None: ...

    def find_observations(
        self, observation_id: str, reader: Principal | None = None, org: str | None = None
    ) -> list[StoredObservation]: ...

    def list_observations(self, query: ObservationQuery) -> Page: ...

    def count_observations(self) -> int: ...

    def summarize_observations(self, reader: Principal | None = None) -> dict[str, Any]: ...


class KeyStore(Protocol):
    """API keys, stored hashed: the secret is shown once at creation and never again."""

    def create_api_key(self, org: str, role: Role, label: str = "") -> tuple[ApiKey, str]: ...

    def authenticate(self, secret: str) -> ApiKey | None: ...

    def list_api_keys(self) -> list[ApiKey]: ...

    def revoke_api_key(self, key_id: str) -> bool: ...


class OrganisationStore(Protocol):
    """Organisations and the groups (e.g. COALITION) they belong to; PUBLIC is implicit for all."""

    def set_organisation(self, code: str, groups: Sequence[str] = (), name: str = "") -> None: ...

    def organisation_groups(self, code: str) -> list[str]: ...

    def list_organisations(self) -> dict[str, list[str]]: ...


class Store(ObservationStore, KeyStore, OrganisationStore, Protocol):
    """Everything the running service persists."""

    def schema_version(self) -> int: ...

    def close(self) -> None: ...


class StoreUnavailable(RuntimeError):
    """The store's engine cannot be reached right now (server down, connection cut, pool exhausted).

    Not a :class:`~truceline.store.sqlite_schema.StoreError` (a request the store refuses): nothing was changed,
    and the same request may succeed later, so the API answers 503 with Retry-After.
    """
