"""The live fusion loop of a server: stored observations → streaming fuser → persisted, announced incidents.

Fusion reads what the store has accepted, in storage order, and records how far it got (the fusion
cursor) in the same transaction as the incidents it produced, so a crash loses no progress and repeats
none. Open incidents live in the fuser's memory; on start they are dropped from the store and rebuilt by
replaying the observations of the fuser's time window (incident ids derive from their founding
observation, so the rebuilt ones keep their ids).

Only one fuser may work on a data dir at a time (:mod:`truceline.service.fuser_lock`).

What one fuser works on is its *scope*: the whole store (:class:`WholeStore`, the embedded server) or one
sector of the plane with its halo (:class:`truceline.cluster.fusion_worker.SectorScope`, cluster workers). The
loop, the recovery and the persistence below are the same for both, so a sector fuses exactly as one node would.
"""

from __future__ import annotations

import gc
import logging
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any, Protocol

import orjson

from truceline.bus.ports import Event, Evidence
from truceline.domain.documents import parse_documents
from truceline.domain.incident import Incident
from truceline.domain.observation import Observation
from truceline.domain.observation_fast import collector_paused
from truceline.fuse.batch import FUSION_BATCH
from truceline.fuse.fuser import Fuser
from truceline.fuse.snapshot import Snapshot
from truceline.fuse.updates import FuserConfig, IncidentUpdate, UpdateAction
from truceline.service.fusion_writer import IncidentWriter
from truceline.service.settings import GC_FIRST_THRESHOLD
from truceline.store.incident_rows import IncidentItem, incident_changes, snapshot_document
from truceline.store.ports import MemberEvidence
from truceline.store.sqlite import SqliteStore

log = logging.getLogger(__name__)


def snapshot_feature(snapshot: Snapshot) -> dict[str, Any]:
    """``incident_feature(snapshot.to_incident())``, without building the incident (the same JSON;
    tests/test_incident_rows.py compares the bytes): fusion announces one per changed incident to ``/stream``
    readers, and the incident and its ``model_dump`` were a third of announcing (docs/performance.md)."""
    properties = snapshot_document(snapshot)
    del properties["id"], properties["lat"], properties["lon"]
    properties["time"] = orjson.dumps(properties["time"], option=orjson.OPT_UTC_Z)[1:-1].decode()
    properties["attributes"] = dict(properties["attributes"])  # the feature's own, as the incident's is
    return {
        "type": "Feature",
        "id": snapshot.id,
        "geometry": {"type": "Point", "coordinates": [round(snapshot.lon, 7), round(snapshot.lat, 7)]},
        "properties": properties,
    }


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


class FusionScope(Protocol):
    """The observations one fuser takes in and where its progress and incidents go."""

    def cursor(self) -> int:
        """Position of the last observation taken in (0 before the first)."""
        ...

    def latest_time(self, cursor: int) -> datetime | None:
        """Latest event time among the scope's observations up to ``cursor``."""
        ...

    def since_time(self, since: datetime, cursor: int) -> list[Observation]:
        """The scope's observations with event time ≥ ``since`` up to ``cursor``, in fusion order (replay)."""
        ...

    def after(self, cursor: int, limit: int) -> tuple[int, list[Observation]]:
        """(new cursor, observations to fuse) of up to ``limit`` stored after ``cursor``; the cursor may pass
        observations that are not the scope's. Same cursor back when nothing new was stored."""
        ...

    def drop_open(self) -> None:
        """Delete the scope's incidents that fusion has not finalised (recovery rebuilds them)."""
        ...

    def keeps(self, incident_id: str) -> bool:
        """Whether an incident is this scope's to store (a sector keeps those founded in its core)."""
        ...

    def apply(self, upserts: Sequence[tuple[IncidentItem, bool]], removed: Sequence[str], cursor: int | None) -> None:
        """Store incidents (domain objects or the fuser's snapshots), removals and the cursor in one transaction,
        or hand them to a writer that does (then :meth:`settle` waits until it has)."""
        ...

    def settle(self) -> None:
        """Until everything applied is stored: reads of stored incidents and members come after it."""
        ...

    def reset(self) -> None:
        """Before recovery: a batch still being stored is finished or dropped whole, and :meth:`cursor` reads the
        committed cursor again."""
        ...


class WholeStore:
    """The embedded scope: every observation of one store, in storage order.

    With a ``writer`` (the fusion process has one, :mod:`truceline.service.fusion_writer`) a batch is stored
    while the next is fused: :meth:`cursor` is then the cursor last handed to the writer."""

    def __init__(self, store: SqliteStore, writer: IncidentWriter | None = None) -> None:
        self._store = store
        self._writer = writer
        self._sent: int | None = None  # the cursor of the last batch handed to the writer

    def cursor(self) -> int:
        """The store's fusion cursor, or the writer's next."""
        return self._store.fusion_cursor() if self._sent is None else self._sent

    def latest_time(self, cursor: int) -> datetime | None:
        """Latest event time stored up to ``cursor``."""
        return self._store.latest_observation_time(cursor)

    def since_time(self, since: datetime, cursor: int) -> list[Observation]:
        """The replay window, parsed."""
        return parse_documents([doc for _, doc in self._store.observations_since_time(since, cursor)])

    def after(self, cursor: int, limit: int) -> tuple[int, list[Observation]]:
        """The next batch in storage order."""
        rows = self._store.observations_after(cursor, limit)
        return (rows[-1][0], parse_documents([doc for _, doc in rows])) if rows else (cursor, [])

    def drop_open(self) -> None:
        """Every open incident."""
        self._store.drop_open_incidents()

    def keeps(self, incident_id: str) -> bool:
        """All of them."""
        return True

    def apply(self, upserts: Sequence[tuple[IncidentItem, bool]], removed: Sequence[str], cursor: int | None) -> None:
        """One store transaction, here or in the writer."""
        if self._writer is None:
            self._store.apply_incident_changes(upserts, removed, cursor)
            return
        self._writer.submit(incident_changes(upserts, removed, cursor))
        if cursor is not None:
            self._sent = cursor

    def settle(self) -> None:
        """Until the writer has started and stored the batch in flight."""
        if self._writer is not None:
            self._writer.wait()

    def reset(self) -> None:
        """The writer ended (its batch stored whole or not at all) and a new one started; one started that was
        given no batch yet is kept (the fusion process starts its writer early, before its first recovery)."""
        if self._writer is not None:
            if not self._writer.untouched:
                self._writer.close()
            self._sent = None
            self._writer.start()


class EventSink(Protocol):
    """Where fusion's events go: the server's bus, or the pipe from a fusion process to its server."""

    @property
    def has_subscribers(self) -> bool:
        """Whether anyone reads events now (they are computed only then)."""
        ...

    def publish(self, event: Event) -> None:
        """Deliver one event; never blocks on a slow reader."""
        ...

    def publish_many(self, events: Sequence[Event]) -> None:
        """Deliver events in order, handed over together (a batch's announcements); never blocks on a slow reader."""
        ...


class FusionWorker:
    """Runs fusion over newly stored observations, in a background thread or on demand."""

    RETRY_MAX_S = 60.0  # the longest wait between retries of a step that keeps failing

    def __init__(
        self, store: SqliteStore, bus: EventSink | None = None, config: FuserConfig | None = None, scope: FusionScope | None = None
    ) -> None:
        self._store = store
        self._scope: FusionScope = scope if scope is not None else WholeStore(store)
        self._bus = bus
        self._fuser = Fuser(config)
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._recovered = False
        # The last batch handed to the store whose news waits for it to be stored: (updates, members before).
        self._unannounced: tuple[list[IncidentUpdate], dict[str, list[MemberEvidence]]] | None = None
        self.errors = 0
        self.last_error: str | None = None
        self.retry_s = 1.0  # the first retry's wait after a failed step; doubled per failure in a row
        self.read = 0  # observations read from the store by the steps so far

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

    def readers_changed(self) -> None:
        """Nothing to do: each step asks the bus whether anyone reads (a fusion process must be told)."""

    def follow(self, poll_s: float) -> None:
        """Keep fusing in the calling thread (``truceline fuse --follow``) until :meth:`stop` or an interrupt,
        looking for new observations every ``poll_s`` seconds; a failed step is retried as the server's own
        fusion thread retries it (:attr:`read` counts what was read)."""
        self._loop(poll_s)

    def _loop(self, poll_s: float = 5.0) -> None:
        failures = 0  # in a row: each waits twice as long before the retry, up to RETRY_MAX_S
        self._wake.set()  # what was stored before the loop began is fused now, not after the first poll
        while not self._stop.is_set():
            self._wake.wait(timeout=poll_s)
            self._wake.clear()
            try:
                while not self._stop.is_set() and self.step():
                    failures = 0  # step() fuses one batch; keep going until the store has nothing new
            except Exception as exc:  # keep serving; the cursor was not advanced, the batch is fused again
                self.errors += 1
                self.last_error = f"{type(exc).__name__}: {exc}"
                failures += 1
                log.exception("fusion step failed (%d in a row); recovering from the committed cursor", failures)
                self._restart()
                self._stop.wait(min(self.RETRY_MAX_S, self.retry_s * 2.0 ** (failures - 1)))

    def _restart(self) -> None:
        """A fresh fuser, rebuilt from the store at the next step (:meth:`recover`): the failed one may hold part
        of a batch that was never committed, or state the failure left half changed (the cluster's sector workers
        do the same)."""
        with self._lock:
            self._fuser = Fuser(self._fuser.config)
            self._recovered = False
            self._unannounced = None  # its batch may be dropped; recovery announces the incidents it rebuilds

    # -- work --------------------------------------------------------------------------------------
    def recover(self) -> None:
        """Rebuild open incidents from the observations of the window before the cursor."""
        with self._lock:
            if self._recovered:
                return
            self._recovered = True
            scope = self._scope
            scope.reset()  # a batch a failed step left with the writer is stored or dropped before the cursor is read
            cursor = scope.cursor()
            latest = scope.latest_time(cursor)
            scope.drop_open()
            if latest is not None:
                since = latest - timedelta(seconds=self._fuser.config.window_s)
                observations = scope.since_time(since, cursor)
                for start in range(0, len(observations), FUSION_BATCH):
                    self._persist(self._fuser.add(observations[start : start + FUSION_BATCH]), None)
            scope.settle()  # rebuilt and stored, by a writer that has started, when recovery returns
            self._announce_stored()

    def step(self, limit: int = FUSION_BATCH) -> int:
        """Fuse up to ``limit`` stored observations not yet read; returns how many were read (0: nothing new)."""
        self.recover()
        with self._lock, collector_paused():
            return self._step(limit)  # its observations and rows are freed before the collector runs again

    def _step(self, limit: int) -> int:
        """:meth:`step`'s work with the collector paused: reading, fusing and persisting a batch allocates
        tens of thousands of small objects without cycles, most freed by the end of it; paused only around
        the read and the fuser (as before), the collector ran between them and walked every observation."""
        cursor = self._scope.cursor()
        moved_to, observations = self._scope.after(cursor, limit)
        if moved_to == cursor:
            self._announce_stored()  # idle: the last batch's news goes out once it is stored
            return 0
        if observations:
            self._persist(self._fuser.add(observations), moved_to)
        else:  # read past observations that are not this scope's: only the cursor moves
            self._scope.apply([], [], moved_to)
        self.read += len(observations)
        return max(1, len(observations))

    def run_until_idle(self, progress: Callable[[int], None] | None = None) -> int:
        """Fuse everything stored so far (the demo and tests use this); returns how many were fused."""
        total = 0
        while taken := self.step():
            total += taken
            if progress is not None:
                progress(total)
        self._scope.settle()
        return total

    def _persist(self, updates: list[IncidentUpdate], cursor: int | None) -> None:
        # The fuser's snapshots go to the store as they are: the store writes the incident's document from
        # them (store/incident_rows.py), so an Incident is built only for announcements.
        upserts: list[tuple[IncidentItem, bool]] = []
        removed: list[str] = []
        keeps = self._scope.keeps
        updates = [update for update in updates if keeps(update.incident_id)]
        for update in updates:
            if update.action is UpdateAction.REMOVED:
                removed.append(update.incident_id)
            elif update.snapshot is not None:
                upserts.append((update.snapshot, update.action is UpdateAction.FINALISED))
        announce = self._bus is not None and self._bus.has_subscribers
        # Who could see an incident before the change (a removed one, or which observations a reader of part
        # of an updated one could read) is known only from its members as stored now, which the change rewrites.
        # So when someone listens the batch before must be stored first; its news goes out now, as it is readable
        # now, and this batch's when the next is about to be stored (or fusion is idle): the writer stores each
        # batch while the next is fused, as it does when no one listens (announcing right after each commit
        # halved a fusing server's rate with one reader, docs/performance.md, "Thirteenth round").
        changed = removed + [item.id for item, _ in upserts]
        pending, self._unannounced = self._unannounced, None
        before: dict[str, list[MemberEvidence]] = {}
        if announce:
            self._scope.settle()
            stored = [u.incident_id for u in pending[0] if u.snapshot is not None] if pending is not None else []
            members = self._store.member_evidence(list(dict.fromkeys(changed + stored))) if changed or stored else {}
            if pending is not None:
                self._announce(pending[0], pending[1], members)
            before = {incident_id: members[incident_id] for incident_id in changed}
        self._scope.apply(upserts, removed, cursor)
        if announce:
            self._unannounced = (updates, before)

    def _announce_stored(self) -> None:
        """The news of the last batch handed to the store, once it is stored (fusion is idle or recovered)."""
        pending, self._unannounced = self._unannounced, None
        if pending is None:
            return
        self._scope.settle()
        if self._bus is None or not self._bus.has_subscribers:
            return
        updates, before = pending
        stored = [u.incident_id for u in updates if u.snapshot is not None]
        self._announce(updates, before, self._store.member_evidence(stored) if stored else {})

    def announce_review(self, incident_id: str, feature: dict[str, Any]) -> None:
        """:func:`announce_review` on this worker's store and bus."""
        announce_review(self._store, self._bus, incident_id, feature)

    def _announce(
        self, updates: list[IncidentUpdate], before: dict[str, list[MemberEvidence]], evidence: dict[str, list[MemberEvidence]]
    ) -> None:
        """Publish every change of a stored batch (``before`` and ``evidence``: the members of its incidents before
        it and after it): upserts first, then the incidents fusion removed (so ``into`` is known). The features
        come from the fuser's snapshots as they are (:func:`snapshot_feature`), not from an ``Incident``."""
        assert self._bus is not None
        successor = {u.incident_id: u.merged_into for u in updates if u.action is UpdateAction.REMOVED}
        events: list[Event] = []
        for update in updates:
            if update.snapshot is None:
                continue
            feature = snapshot_feature(update.snapshot)
            feature["properties"]["action"] = update.action.value
            after = evidence.get(update.incident_id, [])
            events.append(_incident_event(feature, before.get(update.incident_id, []), after))
        for incident_id in successor:
            events.append(_removal_event(incident_id, _survivor(incident_id, successor), before, evidence))
        self._bus.publish_many(events)


@contextmanager
def settled_collector() -> Iterator[None]:
    """For a process that only fuses, once its long-lived state is built (modules, the rebuilt incidents): take
    that state out of the cyclic collector's view and make young collections rarer, as the server does once
    started. Each fused batch leaves tens of thousands of objects alive; at Python's threshold of 700 the
    collections after each batch walked them again (fusing 20,000 stored observations: 57–64 µs each with
    this, 67–69 without, docs/performance.md, "Eighth round"). The old threshold comes back on leaving (a
    command run in-process, as tests do, leaves the interpreter as it found it); frozen objects stay frozen,
    as the server's do."""
    thresholds = gc.get_threshold()
    gc.collect()
    gc.freeze()
    gc.set_threshold(GC_FIRST_THRESHOLD, *thresholds[1:])
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)


def announce_review(store: SqliteStore, bus: EventSink | None, incident_id: str, feature: dict[str, Any]) -> None:
    """Tell live readers that a review changed an incident: ``incident`` (the outcome) to readers who may
    see all its evidence, ``incident.changed`` to those who may see part of it (a review changes every
    reader's view, partial views included)."""
    if bus is None or not bus.has_subscribers:
        return
    evidence = _evidence(store.member_evidence([incident_id]).get(incident_id, []))
    feature["properties"]["action"] = "reviewed"
    changed = Event("incident.changed", {"id": incident_id}, owner_org="", evidence=evidence, any_evidence=True)
    bus.publish(Event("incident", feature, owner_org="", releasable_to=(), evidence=evidence, partial=changed))


def _evidence(members: list[MemberEvidence]) -> Evidence:
    """(owner, releasable_to) of the supporting observations, each pair once: what a reader must be able to
    read. Whether a reader may read all (or any) of them depends only on the distinct pairs, and an incident's
    members share a few (one per organisation and label set), so its events carry and check those few."""
    return tuple(dict.fromkeys((org, labels) for org, _, labels in members))


def _incident_event(feature: dict[str, Any], before: list[MemberEvidence], after: list[MemberEvidence]) -> Event:
    """``incident`` (the feature) for a reader who may read every observation the incident rests on now;
    else ``incident.changed`` ``{id}`` if the reader may read an observation that joined it or left it.

    A partial view (``GET /incidents/{id}``) is fused from the reader's readable observations alone, so it
    changed exactly when one of those joined or left. A reader of none before learns of the incident when
    one it may read joins (its id is then in that reader's ``GET /incidents``); a reader whose readable
    ones all left learns that its view is gone (the fetch answers 404). Observations it may not read
    joining or leaving tell it nothing: its view does not change, and the moment would hint at them.
    """
    had, has = {(org, oid) for org, oid, _ in before}, {(org, oid) for org, oid, _ in after}  # ids are per organisation
    moved = [m for m in after if (m[0], m[1]) not in had] + [m for m in before if (m[0], m[1]) not in has]
    changed = None
    if moved:
        changed = Event("incident.changed", {"id": feature["id"]}, owner_org="", evidence=_evidence(moved), any_evidence=True)
    return Event("incident", feature, owner_org="", releasable_to=(), evidence=_evidence(after), partial=changed)


def _survivor(incident_id: str, successor: dict[str, str | None]) -> str | None:
    """Where a removed incident's observations ended up after this batch: follows merges of merges."""
    into = successor[incident_id]
    seen = {incident_id}
    while into is not None and into in successor and into not in seen:
        seen.add(into)
        into = successor[into]
    return into


def _removal_event(
    incident_id: str, into: str | None, gone: dict[str, list[MemberEvidence]], evidence: dict[str, list[MemberEvidence]]
) -> Event:
    """``incident.merged`` (into another incident) or ``incident.removed`` (dissolved) for one incident.

    A reader receives it if it may read any observation the incident rested on, as then ``GET /incidents``
    showed it that incident (or a partial view under the same id); ``into`` is null for a reader who may
    read none of the surviving incident's observations, so no id leaks to a reader who never saw it.
    """
    before = _evidence(gone.get(incident_id, []))
    if into is None:
        return Event("incident.removed", {"id": incident_id}, owner_org="", evidence=before, any_evidence=True)
    guarded = (("into", _evidence(evidence.get(into, []))),)
    return Event("incident.merged", {"id": incident_id, "into": into}, owner_org="", evidence=before, any_evidence=True, guarded=guarded)
