"""Streaming fusion: observations in, incident updates out, in bounded memory.

Each measurement joins the incident that explains it best (lowest negative log-likelihood among those whose
space-time Mahalanobis gate it passes, with compatible kinds and no other report from the same exclusive
sensor), or founds a new one. When an incident is created or its estimate sharpens, its neighbourhood is
re-examined: members of nearby incidents that now fit it better move to it, its own members that no longer
fit leave (a UAV fix can split what acoustics merged), and incidents that have become one merge. Only a
sliding window of event time is kept; incidents older than the window are finalised and forgotten.
"""

from __future__ import annotations

import hashlib
import heapq
import math
from collections import deque
from collections.abc import Iterable
from dataclasses import replace
from datetime import UTC, datetime
from typing import Final

from truceline.domain.chi2 import chi2_ppf
from truceline.domain.identity import observation_ref
from truceline.domain.incident import Incident
from truceline.domain.observation import BearingLocation, Observation
from truceline.domain.observation_fast import collector_paused
from truceline.fuse.bearings import best_crossing
from truceline.fuse.clock import SourceClocks
from truceline.fuse.conflict_fire import CONFLICT_FIRE_ATTRIBUTE, is_background_fire
from truceline.fuse.grid import Grid, new_grid
from truceline.fuse.measurement import Measurement, canonical, earliest_after, measure
from truceline.fuse.pending import PendingBearings
from truceline.fuse.snapshot import Snapshot, summarise
from truceline.fuse.state import INF, IncidentState, bearing_cost, best_point, incident_cost, leave_one_out, point_cost
from truceline.fuse.updates import FuserConfig, FuserStats, IncidentUpdate, UpdateAction
from truceline.locate.enu import LocalFrame

_EVICT_EVERY: Final = 1024
_REFIT_EVERY: Final = 256  # measurements between re-estimates of the sensors' clock offsets
_REFIT_ROUNDS: Final = 3  # re-estimates after each re-association, while live times still move

# ``IncidentUpdate`` (frozen, slotted) built through its slots' setters: its generated ``__init__`` is interpreted and calls
# ``object.__setattr__`` per field, ~2 µs for each of ~0.9 updates per observation (tests/test_fuse_stream.py compares).
_new: Final = object.__new__
_SET_ACTION: Final = IncidentUpdate.__dict__["action"].__set__
_SET_INCIDENT_ID: Final = IncidentUpdate.__dict__["incident_id"].__set__
_SET_SNAPSHOT: Final = IncidentUpdate.__dict__["snapshot"].__set__
_SET_MERGED_INTO: Final = IncidentUpdate.__dict__["merged_into"].__set__
_SET_INCIDENT: Final = IncidentUpdate.__dict__["_incident"].__set__


def new_update(action: UpdateAction, incident_id: str, snapshot: Snapshot | None, merged_into: str | None = None) -> IncidentUpdate:
    """``IncidentUpdate(action, incident_id, snapshot, merged_into)``, the same object, built without its ``__init__``."""
    update: IncidentUpdate = _new(IncidentUpdate)
    _SET_ACTION(update, action)
    _SET_INCIDENT_ID(update, incident_id)
    _SET_SNAPSHOT(update, snapshot)
    _SET_MERGED_INTO(update, merged_into)
    _SET_INCIDENT(update, None)
    return update


class Fuser:
    """Incremental association of observations into incidents; pure in-memory, no I/O.

    ``add`` accepts observations in any order within the window and returns the incidents it created,
    changed, removed or finalised; ``flush`` finalises everything (end of a stream); ``incidents`` lists the
    live ones. Adding an observation id that is still in the window again changes nothing.
    """

    def __init__(self, config: FuserConfig | None = None) -> None:
        self.config = config or FuserConfig()
        c = self.config
        self._gate3 = chi2_ppf(c.gate_probability, 3)  # point: east, north, time
        self._gate2 = chi2_ppf(c.gate_probability, 2)  # bearing: cross-range, time
        self._gate1 = chi2_ppf(c.gate_probability, 1)  # time alone (pairing bearings)
        self._merge_gate = chi2_ppf(c.merge_probability, 3)
        # NLL (without the 3·ln 2π of a 3-D normal) above which a new event explains a measurement better.
        self._birth = -2.0 * math.log(c.birth_density / 1e6 / 3600.0) - 3.0 * math.log(2.0 * math.pi)
        self._g = math.sqrt(self._gate3)
        self._frame: LocalFrame | None = LocalFrame(*c.origin) if c.origin else None
        self._epoch: float | None = None
        self._watermark = -INF
        self._seq = 0
        self._live: dict[str, IncidentState] = {}
        self._index: Grid[IncidentState] = new_grid()  # incidents, by their own gate extent
        self._reach: Grid[Measurement] = new_grid()  # incident members, by their own gate extent
        self._by_obs: dict[str, Measurement] = {}
        self._heap: list[tuple[float, int, IncidentState]] = []
        self._pending = PendingBearings()
        self._queue: deque[IncidentState] = deque()
        self._queued: set[str] = set()
        self._touched: dict[str, tuple[IncidentState, str | None]] = {}
        self._finalised: list[IncidentState] = []
        self._published: set[str] = set()
        self._stats = FuserStats()
        self._clocks = SourceClocks()
        self._since_refit = 0

    # ------------------------------------------------------------------ public API

    def add(self, observations: Iterable[Observation]) -> list[IncidentUpdate]:
        """Associate a batch of observations; return one update per incident it affected.

        The cyclic collector is paused meanwhile: association allocates a few long-lived containers per observation, so
        the collector ran full collections over the whole heap every few hundred observations (a quarter of the time,
        docs/performance.md), yet the fuser leaves no reference cycle behind (a finalised incident's members are
        unlinked from it in :meth:`_emit`), so there is nothing for it to find; reference counting frees what it drops."""
        with collector_paused():
            return self._add(observations)

    def _add(self, observations: Iterable[Observation]) -> list[IncidentUpdate]:
        batch: list[Observation] = []
        seen: set[str] = set()
        for obs in observations:
            oid = observation_ref(obs.source.org, str(obs.id))  # ids are per organisation
            if oid in self._by_obs or oid in seen:
                self._stats.duplicates += 1
                continue
            if CONFLICT_FIRE_ATTRIBUTE in (obs.attributes or ()) and is_background_fire(obs.attributes):  # called only on a verdict
                self._stats.background_fires += 1
                continue
            seen.add(oid)
            batch.append(obs)
        self._stats.observations += len(batch)
        if batch and self._ensure_frame(batch):
            assert self._frame is not None and self._epoch is not None
            measurements, unlocated, bad = measure(batch, self._frame, self._epoch, self.config.measurement)
            measurements.sort(key=canonical)
            self._stats.unlocated += len(unlocated)
            self._stats.malformed_origins += bad
            window, budget = self.config.window_s, self.config.recheck_budget
            waiting = earliest_after(measurements) if len(measurements) >= _EVICT_EVERY else []  # unplaced reports hold back eviction
            for i, m in enumerate(measurements):
                m.t = self._clocks.corrected(m)
                if m.t > self._watermark:
                    self._watermark = m.t
                elif m.t < self._watermark - window:
                    self._stats.late += 1
                self._by_obs[m.id] = m
                if m.bearing:
                    self._associate_bearing(m)
                else:
                    self._associate_point(m)
                self._drain(budget)
                self._since_refit += 1
                if self._since_refit >= _REFIT_EVERY:
                    self._refit()
                if i % _EVICT_EVERY == _EVICT_EVERY - 1:
                    self._evict(min(self._watermark, waiting[i]) - window)
            self._drain(4 * len(self._queue) + 64)
            self._evict(self._watermark - window)
        elif batch:
            self._stats.unlocated += len(batch)
        return self._emit()

    def flush(self) -> list[IncidentUpdate]:
        """Finalise every live incident and drop unpaired bearings (end of stream)."""
        with collector_paused():
            return self._flush()

    def _flush(self) -> list[IncidentUpdate]:
        self._drain(4 * len(self._queue) + 64)
        if self._since_refit:
            self._refit()
        self._evict(INF)
        return self._emit()

    def incidents(self) -> list[Incident]:
        """Current estimates of all live incidents (oldest first)."""
        states = sorted(self._live.values(), key=lambda s: s.seq)
        return [snap.to_incident() for snap in self._snapshots(states)]

    def get(self, incident_id: str) -> Incident | None:
        """Current estimate of one live incident, or None if unknown or finalised."""
        state = self._live.get(incident_id)
        return self._snapshots([state])[0].to_incident() if state is not None else None

    @property
    def stats(self) -> FuserStats:
        """A copy of the counters."""
        return replace(
            self._stats,
            live_incidents=len(self._live),
            live_measurements=len(self._by_obs),
            pending_bearings=len(self._pending),
        )

    @property
    def watermark(self) -> datetime | None:
        """Latest event time seen; the window ends ``window_s`` before it."""
        if self._epoch is None or self._watermark == -INF:
            return None
        return datetime.fromtimestamp(self._epoch + self._watermark, UTC)

    # ------------------------------------------------------------------ setup

    def _ensure_frame(self, batch: list[Observation]) -> bool:
        if self._epoch is None:
            first = min(o.time.timestamp() for o in batch)
            self._epoch = math.floor(first / 86400.0) * 86400.0
        if self._frame is not None:
            return True
        for obs in sorted(batch, key=lambda o: (o.time, o.source.org, str(o.id))):  # whatever the arrival order
            loc = obs.location
            if isinstance(loc, BearingLocation):
                self._frame = LocalFrame(loc.sensor_lat, loc.sensor_lon)
                return True
            if loc.lat is not None and loc.lon is not None:
                self._frame = LocalFrame(loc.lat, loc.lon)
                return True
        return False

    # ------------------------------------------------------------------ association

    def _cost(self, inc: IncidentState, m: Measurement) -> tuple[float, float, float]:
        """(d², NLL, gate) of a measurement against an incident's estimate."""
        if m.bearing:
            d2, nll = bearing_cost(inc, m, self._g)
            return d2, nll, self._gate2
        d2, nll = point_cost(inc, m)
        return d2, nll, self._gate3

    def _extent(self, m: Measurement) -> tuple[float, float, float, float, float]:
        """A cylinder (x, y, radius, t, half-width) holding every incident estimate ``m``'s gate could pass,
        up to the incident's own extent (for a bearing: the disc around its ray)."""
        g = self._g
        if m.bearing:
            half = 0.5 * m.brange
            return m.x + m.bux * half, m.y + m.buy * half, half, m.t, g * math.sqrt(m.vt)
        return m.x, m.y, g * m.radius, m.t, g * math.sqrt(m.vt)

    def _index_member(self, m: Measurement, inc: IncidentState) -> None:
        """Let rechecks find ``m``: a point by its own gate, a bearing by its cross-range gate at ``inc``."""
        g = self._g
        if m.bearing:
            rng = math.hypot(inc.x - m.x, inc.y - m.y)
            radius = g * (math.sqrt(rng * rng * m.bvar + m.bsvar) + inc.sigma_max)
            self._reach.put(m, inc.x, inc.y, radius, m.t, g * math.sqrt(m.vt))
        else:
            x, y, radius, t, half = self._extent(m)  # not ``*``: compiled, a starred call goes through Python's calling convention
            self._reach.put(m, x, y, radius, t, half)

    def _candidates(self, m: Measurement) -> list[IncidentState]:
        x, y, radius, t, half = self._extent(m)
        return self._index.query(x, y, radius, t, half)

    def _best(self, m: Measurement, exclude: IncidentState | None = None) -> tuple[IncidentState | None, float]:
        """The incident with the lowest NLL whose gate ``m`` passes, and that NLL."""
        best: IncidentState | None = None
        best_nll = INF
        gate3 = self._gate3
        if m.bearing:
            for inc in self._candidates(m):
                if inc is exclude or not (inc.mask & m.mask):
                    continue
                dt = m.t - inc.t
                if dt * dt > gate3 * (inc.vt + m.vt):
                    continue
                if m.exclusive and m.source in inc.sources:
                    continue
                d2, nll = bearing_cost(inc, m, self._g)
                if d2 <= self._gate2 and nll < best_nll:
                    best, best_nll = inc, nll
            return best, best_nll
        return best_point(self._candidates(m), m, exclude, gate3, self._birth)

    def _associate_point(self, m: Measurement) -> None:
        m.set_point_contribution()
        best, _ = self._best(m)
        if best is None:
            self._create([m])
        else:
            self._join(best, m)

    def _associate_bearing(self, m: Measurement) -> None:
        best, _ = self._best(m)
        if best is not None:
            m.set_bearing_contribution(best.x, best.y)
            self._join(best, m)
            return
        partner = self._pair(m)
        if partner is None:
            self._add_pending(m)
            return
        other, (ix, iy) = partner
        self._pending.remove(other)
        m.set_bearing_contribution(ix, iy)
        other.set_bearing_contribution(ix, iy)
        self._create([other, m])

    def _join(self, inc: IncidentState, m: Measurement) -> None:
        det0 = inc.lxx * inc.lyy - inc.lxy * inc.lxy
        tw0, x0, y0, s0 = inc.tw, inc.x, inc.y, inc.sigma_max
        inc.add(m)
        self._index_member(m, inc)
        self._placed(inc)
        det1 = inc.lxx * inc.lyy - inc.lxy * inc.lxy
        moved2 = math.pow(inc.x - x0, 2.0) + math.pow(inc.y - y0, 2.0)  # ``** 2`` as C pow (not x·x), unboxed when compiled
        if det1 >= 16.0 * det0 or inc.tw >= 4.0 * tw0 or moved2 > s0 * s0:
            self._schedule(inc)

    def _create(self, members: list[Measurement]) -> IncidentState | None:
        """A new incident from measurements whose contributions are set; None if they fix no position."""
        founder = members[0]
        digest = hashlib.blake2b(founder.id.encode(), digest_size=8).hexdigest()
        suffix = f"-{founder.founded}" if founder.founded else ""
        founder.founded += 1
        self._seq += 1
        inc = IncidentState(f"{self.config.id_prefix}{digest}{suffix}", self._seq)
        positioned = False
        for m in members:
            positioned = inc.add(m)
        if not positioned:  # only a bearing pair can fail (numerically parallel): keep them waiting
            for m in members:
                self._add_pending(m)
            return None
        for m in members:
            self._index_member(m, inc)
        self._live[inc.id] = inc
        self._stats.incidents_created += 1
        self._placed(inc)
        self._attach_pending(inc)
        self._schedule(inc)
        return inc

    def _placed(self, inc: IncidentState) -> None:
        """Re-index an incident after its estimate changed and remember it for the next emit."""
        self._index.put(inc, inc.x, inc.y, self._g * inc.sigma_max, inc.t, self._g * math.sqrt(inc.vt))
        if inc.t_max > inc.pushed_t:
            inc.pushed_t = inc.t_max
            heapq.heappush(self._heap, (inc.t_max, inc.seq, inc))
        self._touched[inc.id] = (inc, None)

    def _kill(self, inc: IncidentState, merged_into: str | None) -> None:
        inc.alive = False
        del self._live[inc.id]
        self._index.remove(inc)
        self._touched[inc.id] = (inc, merged_into)

    # ------------------------------------------------------------------ re-assignment

    def _schedule(self, inc: IncidentState) -> None:
        if inc.id not in self._queued:
            self._queued.add(inc.id)
            self._queue.append(inc)

    def _drain(self, budget: int) -> None:
        queue = self._queue
        while queue and budget > 0:
            inc = queue.popleft()
            self._queued.discard(inc.id)
            if inc.alive:
                self._recheck(inc)
                budget -= 1

    def _recheck(self, inc: IncidentState) -> None:
        """Pull better-fitting members from neighbours, push out members that no longer fit, merge twins."""
        g = self._g
        gate3, gate2, birth = self._gate3, self._gate2, self._birth
        margin = self.config.reassign_margin
        near = self._reach.query(inc.x, inc.y, g * inc.sigma_max, inc.t, g * math.sqrt(inc.vt))
        for m in near:
            j = m.incident
            if j is None or j is inc or not inc.alive:
                continue
            if not (m.mask & inc.mask) or (m.exclusive and m.source in inc.sources):
                continue
            dt = m.t - inc.t
            if dt * dt > gate3 * (inc.vt + m.vt):
                continue
            if m.bearing:
                d2, nll = bearing_cost(inc, m, g)
                gate = gate2
                if d2 > gate:
                    continue
            else:
                d2, nll = point_cost(inc, m)
                gate = gate3
                if d2 > gate or nll >= birth:
                    continue
            own = leave_one_out(j, m)
            if own is not None:
                d2o, nllo, _ = self._cost(own, m)
                if d2o <= gate and nll + margin >= nllo:
                    continue
            self._move(m, j, inc)
        if not inc.alive:
            return
        # Members that the sharpened estimate no longer explains must leave. (A member that merely fits
        # another incident better is pulled by that incident's own recheck when it forms or sharpens.)
        for m in list(inc.members.values()):
            if not inc.alive or len(inc.members) < 2:
                break
            own = leave_one_out(inc, m)
            if own is None:
                continue
            d2o, _, gate = self._cost(own, m)
            if d2o > gate:
                target, _ = self._best(m, exclude=inc)
                if target is not None:
                    self._move(m, inc, target)
                else:
                    self._split_off(m, inc)
        if not inc.alive:
            return
        merge_gate = self._merge_gate
        neighbours: dict[IncidentState, None] = {}  # in order of first appearance, each once
        for m in near:
            held = m.incident
            if held is not None:
                neighbours[held] = None
        for j in neighbours:
            if j is inc or not (inc.alive and j.alive):
                continue
            dt = j.t - inc.t
            if dt * dt > merge_gate * (j.vt + inc.vt):
                continue
            if self._mergeable(inc, j):
                big, small = (inc, j) if len(inc.members) >= len(j.members) else (j, inc)
                self._merge(small, big)

    def _mergeable(self, a: IncidentState, b: IncidentState) -> bool:
        if not (a.mask & b.mask):
            return False
        if a.sources and b.sources and not a.sources.keys().isdisjoint(b.sources.keys()):
            return False
        d2, nll = incident_cost(a, b)
        return d2 <= self._merge_gate and nll < self._birth

    def _take(self, m: Measurement, source: IncidentState) -> None:
        """Detach ``m`` from ``source`` and repair ``source`` (re-index, dissolve or kill)."""
        positioned = source.remove(m)
        if not source.members:
            self._kill(source, None)
        elif not positioned:
            self._dissolve(source)
        else:
            self._placed(source)
            self._schedule(source)

    def _move(self, m: Measurement, source: IncidentState, target: IncidentState) -> None:
        self._stats.moves += 1
        empty_after = len(source.members) == 1
        self._take(m, source)
        if empty_after:
            self._touched[source.id] = (source, target.id)
        if m.bearing:
            m.set_bearing_contribution(target.x, target.y)
        self._join(target, m)

    def _split_off(self, m: Measurement, source: IncidentState) -> None:
        self._stats.moves += 1
        self._take(m, source)
        if m.bearing:
            self._associate_bearing(m)
        else:
            self._create([m])

    def _merge(self, small: IncidentState, big: IncidentState) -> None:
        self._stats.merges += 1
        members = list(small.members.values())
        small.members.clear()
        small.sources.clear()
        self._kill(small, big.id)
        for m in members:
            if m.bearing:
                m.set_bearing_contribution(big.x, big.y)
            big.add(m)
            self._index_member(m, big)
        self._placed(big)
        self._schedule(big)

    def _dissolve(self, inc: IncidentState) -> None:
        """An incident left with bearings that no longer fix a position: return them to association."""
        members = list(inc.members.values())
        inc.members.clear()
        inc.sources.clear()
        self._kill(inc, None)
        for m in members:
            m.incident = None
            self._associate_bearing(m)

    def _refit(self) -> None:
        """Re-estimate sensors' clock offsets (fuse/clock.py); while live times move, re-associate with them."""
        self._since_refit = 0
        for _ in range(_REFIT_ROUNDS):
            if not self._clocks.refit_evidence(inc.evidence(self._clocks) for inc in self._live.values()):
                return
            self._reassociate()

    def _reassociate(self) -> None:
        """Replay the live members in canonical order with their corrected times, as if the offsets had been known on
        arrival. An incident founded by the same observation keeps its id; one gone points to the holder of its first member."""
        self._stats.reassociations += 1
        members = sorted((m for m in self._by_obs.values() if m.incident is not None), key=canonical)
        holder = {inc.id: (inc, next(iter(inc.members.values()))) for inc in self._live.values()}
        for inc in list(self._live.values()):
            inc.members.clear()
            inc.sources.clear()
            self._kill(inc, None)
        self._index, self._reach = new_grid(), new_grid()
        self._queue.clear()
        self._queued.clear()
        for m in members:
            m.incident, m.founded, m.t = None, 0, self._clocks.corrected(m)
        for m in members:
            if m.bearing:
                self._associate_bearing(m)
            else:
                self._associate_point(m)
            self._drain(self.config.recheck_budget)
        self._drain(4 * len(self._queue) + 64)
        for iid, (inc, first) in holder.items():
            if iid not in self._live and first.incident is not None and first.incident.alive:
                self._touched[iid] = (inc, first.incident.id)

    # ------------------------------------------------------------------ bearings awaiting a partner

    def _add_pending(self, m: Measurement) -> None:
        m.incident = None
        self._reach.remove(m)
        self._seq += 1
        self._pending.add(m, self._seq)

    def _pair(self, m: Measurement) -> tuple[Measurement, tuple[float, float]] | None:
        """The pending bearing from another sensor that crosses ``m`` in front of both, closest in time."""
        return best_crossing(m, self._pending.near(m.t, m.vt, self._g), self._gate1)

    def _attach_pending(self, inc: IncidentState) -> None:
        if not self._pending:
            return
        for p in self._pending.near(inc.t, inc.vt, self._g):
            if not inc.alive or not (p.mask & inc.mask) or (p.exclusive and p.source in inc.sources):
                continue
            d2, _ = bearing_cost(inc, p, self._g)
            if d2 <= self._gate2:
                self._pending.remove(p)
                p.set_bearing_contribution(inc.x, inc.y)
                inc.add(p)
                self._index_member(p, inc)
                self._placed(inc)

    # ------------------------------------------------------------------ window

    def _evict(self, cutoff: float) -> None:
        heap = self._heap
        while heap and heap[0][0] < cutoff:
            t_max, _, inc = heapq.heappop(heap)
            if not inc.alive or inc.t_max > t_max:
                continue
            inc.alive = False
            del self._live[inc.id]
            self._index.remove(inc)
            self._queued.discard(inc.id)
            for oid, m in inc.members.items():
                del self._by_obs[oid]
                self._reach.remove(m)
            self._finalised.append(inc)
            self._clocks.record_evidence(inc.evidence(self._clocks))
            self._touched.pop(inc.id, None)
            self._stats.incidents_finalised += 1
        for waiting in self._pending.expire(cutoff):
            del self._by_obs[waiting.id]
            self._reach.remove(waiting)
            self._stats.bearings_dropped += 1

    # ------------------------------------------------------------------ output

    def _emit(self) -> list[IncidentUpdate]:
        live = [s for s, _ in self._touched.values() if s.alive]
        for state in live:
            state.version += 1
        for state in self._finalised:
            state.version += 1
        snaps = dict(zip((s.id for s in live), self._snapshots(live), strict=True))
        updates: list[IncidentUpdate] = []
        published = self._published
        for iid, (state, merged_into) in self._touched.items():
            if state.alive:
                action = UpdateAction.UPDATED if iid in published else UpdateAction.CREATED
                published.add(iid)
                updates.append(new_update(action, iid, snaps[iid]))
            elif iid in published:
                published.discard(iid)
                updates.append(new_update(UpdateAction.REMOVED, iid, None, merged_into))
        for state, snap in zip(self._finalised, self._snapshots(self._finalised), strict=True):
            published.discard(state.id)
            updates.append(new_update(UpdateAction.FINALISED, state.id, snap))
            for m in state.members.values():
                m.incident = None  # the only cycle the fuser makes (member ↔ incident): refcounting frees both
        self._touched = {}
        self._finalised = []
        return updates

    def _snapshots(self, states: list[IncidentState]) -> list[Snapshot]:
        if not states:
            return []
        assert self._frame is not None and self._epoch is not None
        return summarise(states, self._frame, self._epoch, self.config.corroboration_threshold)
