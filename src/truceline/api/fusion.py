"""The live fusion loop of a server: stored observations → streaming fuser → persisted, announced incidents.

Fusion reads what the store has accepted, in storage order, and records how far it got (the fusion
cursor) in the same transaction as the incidents it produced, so a crash loses no progress and repeats
none. Open incidents live in the fuser's memory; on start they are dropped from the store and rebuilt by
replaying the observations of the fuser's time window (incident ids derive from their founding
observation, so the rebuilt ones keep their ids).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any

from pydantic import TypeAdapter

from truceline.bus.ports import Bus, Event
from truceline.domain.incident import Incident
from truceline.domain.observation import Observation
from truceline.fuse.fuser import Fuser, FuserConfig, IncidentUpdate, UpdateAction
from truceline.store.sqlite import SqliteStore

log = logging.getLogger(__name__)
_OBSERVATIONS = TypeAdapter(list[Observation])
_BATCH = 2000
_FAR_FUTURE = {"now": datetime(9999, 1, 1, tzinfo=timezone.utc)}  # stored observations were checked on arrival


def incident_feature(incident: Incident) -> dict[str, Any]:
    """GeoJSON Feature of one incident: the figures and the ids of the observations behind them."""
    properties = incident.model_dump(mode="json", exclude={"id", "lat", "lon"})
    properties["independent_sources"] = incident.independent_sources
    return {
        "type": "Feature",
        "id": incident.id,
        # 7 decimals (about 1 cm): the frame round trip leaves digits that mean nothing.
        "geometry": {"type": "Point", "coordinates": [round(incident.lon, 7), round(incident.lat, 7)]},
        "properties": properties,
    }


def parse_documents(documents: list[str]) -> list[Observation]:
    """Observations back from stored canonical documents (validated when they arrived)."""
    return _OBSERVATIONS.validate_json("[" + ",".join(documents) + "]", context=_FAR_FUTURE)


class FusionWorker:
    """Runs fusion over newly stored observations, in a background thread or on demand."""

    def __init__(self, store: SqliteStore, bus: Bus | None = None, config: FuserConfig | None = None) -> None:
        self._store = store
        self._bus = bus
        self._fuser = Fuser(config)
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._recovered = False
        self.errors = 0

    # -- life cycle --------------------------------------------------------------------------------
    def start(self) -> None:
        """Recover, then keep fusing in a daemon thread until :meth:`stop`."""
        self.recover()
        self._thread = threading.Thread(target=self._loop, name="truceline-fusion", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Finish the current batch and end the thread."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=30)

    def notify(self) -> None:
        """New observations were stored: fuse them soon."""
        self._wake.set()

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(timeout=5.0)
            self._wake.clear()
            try:
                while not self._stop.is_set() and self.step():
                    continue  # step() fuses one batch; keep going until the store has nothing new
            except Exception:  # keep serving; the cursor was not advanced, the batch is retried
                self.errors += 1
                log.exception("fusion step failed")

    # -- work --------------------------------------------------------------------------------------
    def recover(self) -> None:
        """Rebuild open incidents from the observations of the window before the cursor."""
        with self._lock:
            if self._recovered:
                return
            self._recovered = True
            cursor = self._store.fusion_cursor()
            latest = self._store.latest_observation_time(cursor)
            self._store.drop_open_incidents()
            if latest is None:
                return
            since = latest - timedelta(seconds=self._fuser.config.window_s)
            rows = self._store.observations_since_time(since, cursor)
            for start in range(0, len(rows), _BATCH):
                chunk = rows[start : start + _BATCH]
                self._persist(self._fuser.add(parse_documents([doc for _, doc in chunk])), None)

    def step(self, limit: int = _BATCH) -> int:
        """Fuse up to ``limit`` observations not yet fused; returns how many were taken in."""
        self.recover()
        with self._lock:
            rows = self._store.observations_after(self._store.fusion_cursor(), limit)
            if not rows:
                return 0
            updates = self._fuser.add(parse_documents([doc for _, doc in rows]))
            self._persist(updates, rows[-1][0])
            return len(rows)

    def run_until_idle(self, progress: Callable[[int], None] | None = None) -> int:
        """Fuse everything stored so far (the demo and tests use this); returns how many were fused."""
        total = 0
        while taken := self.step():
            total += taken
            if progress is not None:
                progress(total)
        return total

    def _persist(self, updates: list[IncidentUpdate], cursor: int | None) -> None:
        upserts: list[tuple[Incident, bool]] = []
        removed: list[str] = []
        for update in updates:
            if update.action is UpdateAction.REMOVED:
                removed.append(update.incident_id)
            elif update.incident is not None:
                upserts.append((update.incident, update.action is UpdateAction.FINALISED))
        self._store.apply_incident_changes(upserts, removed, cursor)
        if self._bus is not None and self._bus.has_subscribers:
            self._announce(updates)

    def announce_review(self, incident_id: str, feature: dict[str, Any]) -> None:
        """Tell live readers that a review changed an incident (readers who may see all its evidence)."""
        if self._bus is None or not self._bus.has_subscribers:
            return
        docs = self._store.member_documents([incident_id]).get(incident_id, [])
        evidence = tuple((d["source"]["org"], tuple(d.get("releasable_to", ()))) for d in docs)
        feature["properties"]["action"] = "reviewed"
        self._bus.publish(Event("incident", feature, owner_org="", releasable_to=(), evidence=evidence))

    def _announce(self, updates: list[IncidentUpdate]) -> None:
        incidents = [u.incident for u in updates if u.incident is not None]
        evidence = self._store.member_documents([i.id for i in incidents])
        for update in updates:
            if update.incident is None:
                continue  # a removed incident's readers learn of it through the incident it merged into
            members = tuple(
                (doc["source"]["org"], tuple(doc.get("releasable_to", ()))) for doc in evidence.get(update.incident_id, [])
            )
            feature = incident_feature(update.incident)
            feature["properties"]["action"] = update.action.value
            self._bus.publish(Event("incident", feature, owner_org="", releasable_to=(), evidence=members))  # type: ignore[union-attr]
