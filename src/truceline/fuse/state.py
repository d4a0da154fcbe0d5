"""An incident under construction: information-form sums of its members, and the gates that test them.

Positions fuse in information form (Λ = Σ Cᵢ⁻¹, η = Σ Cᵢ⁻¹ xᵢ), so the estimate is the
uncertainty-weighted mean and adding or removing a member is a sum. A bearing adds the exact constraint
"on this line" with a cross-range variance evaluated at the incident's range. Time fuses the same way in one
dimension. Gates are squared Mahalanobis distances of the *innovation*, whose covariance is the incident's
plus the measurement's own, in space and time together.
"""

from __future__ import annotations

import math
from typing import Final

from truceline.fuse.clock import Evidence, SourceClocks
from truceline.fuse.kinds import ANY
from truceline.fuse.measurement import Measurement

#: Condition number beyond which an information matrix holds no 2-D position (a lone bearing, parallel lines).
_MAX_CONDITION: Final = 1e8
#: Largest 1-σ an incident position may have (the observation schema's own limit).
MAX_SIGMA_M: Final = 1_000_000.0

INF: Final = math.inf
_ANY: Final = ANY  # a static of this module when compiled, not an attribute of another module looked up per call


class IncidentState:
    """Mutable fusion state of one incident; :class:`truceline.domain.incident.Incident` is its snapshot."""

    __slots__ = (
        "id", "seq", "members", "lxx", "lxy", "lyy", "ex", "ey", "tw", "tz",
        "x", "y", "pxx", "pxy", "pyy", "sigma_max", "t", "vt", "mask", "sources",
        "t_max", "member_vt", "alive", "version", "pushed_t", "clock_evidence", "summary",
    )  # fmt: skip

    def __init__(self, incident_id: str, seq: int) -> None:
        self.id = incident_id
        self.seq = seq
        self.members: dict[str, Measurement] = {}
        self.sources: dict[str, int] = {}
        self.alive = True
        self.version = 0
        self.pushed_t = -INF
        self.clock_evidence: Evidence | None = None  # SourceClocks.evidence of the members, kept until they change
        # The last fuse.snapshot.Snapshot made of it, kept until the members (so the estimate) change: most
        # incidents are finalised unchanged since their last update, and their figures need not be computed again.
        self.summary: object | None = None
        self._reset()
        self.x = self.y = self.t = 0.0
        self.pxx = self.pyy = self.sigma_max = self.vt = INF
        self.pxy = 0.0

    def _reset(self) -> None:
        self.lxx = self.lxy = self.lyy = self.ex = self.ey = 0.0
        self.tw = self.tz = 0.0
        self.mask = _ANY
        self.t_max = -INF
        self.member_vt = 0.0

    def _accumulate(self, m: Measurement) -> None:
        self.lxx += m.lxx
        self.lxy += m.lxy
        self.lyy += m.lyy
        self.ex += m.ex
        self.ey += m.ey
        w = 1.0 / m.vt
        self.tw += w
        self.tz += m.t * w
        self.mask &= m.mask
        if m.t > self.t_max:
            self.t_max = m.t
        if m.vt > self.member_vt:
            self.member_vt = m.vt

    def add(self, m: Measurement) -> bool:
        """Add a member whose contribution is already set; False if the incident has no position yet."""
        self.members[m.id] = m
        self.clock_evidence = self.summary = None
        m.incident = self
        if m.exclusive:
            self.sources[m.source] = self.sources.get(m.source, 0) + 1
        self._accumulate(m)
        return self.solve()

    def evidence(self, clocks: SourceClocks) -> Evidence:
        """What the members say about sensors' clocks (:meth:`truceline.fuse.clock.SourceClocks.evidence`), kept until they change."""
        kept = self.clock_evidence
        if kept is None:
            kept = self.clock_evidence = clocks.evidence(self.members.values())
        return kept

    def solve(self) -> bool:
        """Position and time from the sums; False (estimate unchanged) when the position is not determined."""
        self.t = self.tz / self.tw
        self.vt = 1.0 / self.tw
        lxx, lxy, lyy = self.lxx, self.lxy, self.lyy
        det = lxx * lyy - lxy * lxy
        trace = lxx + lyy
        if det <= 0.0 or trace * trace > _MAX_CONDITION * det:
            return False
        pxx, pxy, pyy = lyy / det, -lxy / det, lxx / det
        half = 0.5 * (pxx + pyy)
        lam = half + math.sqrt(max(0.25 * math.pow(pxx - pyy, 2.0) + pxy * pxy, 0.0))  # ``** 2`` (C pow, not x·x), unboxed
        if lam > MAX_SIGMA_M**2:
            return False
        self.pxx, self.pxy, self.pyy = pxx, pxy, pyy
        self.sigma_max = math.sqrt(lam)
        self.x = pxx * self.ex + pxy * self.ey
        self.y = pxy * self.ex + pyy * self.ey
        return True

    def remove(self, m: Measurement) -> bool:
        """Remove a member and recompute from the rest; False when what remains has no position."""
        del self.members[m.id]
        self.clock_evidence = self.summary = None
        m.incident = None
        if m.exclusive:
            left = self.sources[m.source] - 1
            if left:
                self.sources[m.source] = left
            else:
                del self.sources[m.source]
        return self.recompute()

    def recompute(self) -> bool:
        """Rebuild the sums from the members, re-linearising bearings at the point-only estimate if any."""
        self._reset()
        if not self.members:
            return False
        bearings = []
        for m in self.members.values():
            if m.bearing:
                bearings.append(m)
            else:
                self._accumulate(m)
        if bearings:
            if self.tw > 0.0:
                self.solve()  # the point-only estimate, when determined, is the better linearisation point
            at_x, at_y = self.x, self.y
            for m in bearings:
                m.set_bearing_contribution(at_x, at_y)
                self._accumulate(m)
        return self.solve()


def point_cost(inc: IncidentState, m: Measurement) -> tuple[float, float]:
    """(Squared Mahalanobis distance in space and time, negative log-likelihood) of a point measurement."""
    sxx = inc.pxx + m.cxx
    sxy = inc.pxy + m.cxy
    syy = inc.pyy + m.cyy
    det = sxx * syy - sxy * sxy
    dx = m.x - inc.x
    dy = m.y - inc.y
    st = inc.vt + m.vt
    dt = m.t - inc.t
    d2 = (syy * dx * dx - 2.0 * sxy * dx * dy + sxx * dy * dy) / det + dt * dt / st
    return d2, d2 + math.log(det * st)


def bearing_cost(inc: IncidentState, m: Measurement, sigmas: float) -> tuple[float, float]:
    """(d², NLL) of a bearing against an incident; ``(inf, inf)`` behind the sensor or beyond its range."""
    dx = inc.x - m.x
    dy = inc.y - m.y
    along = dx * m.bux + dy * m.buy
    if along <= 0.0:
        return INF, INF
    rng = math.hypot(dx, dy)
    if rng > m.brange + sigmas * inc.sigma_max:
        return INF, INF
    nx, ny = m.buy, -m.bux
    perp = dx * nx + dy * ny
    var = nx * nx * inc.pxx + 2.0 * nx * ny * inc.pxy + ny * ny * inc.pyy + rng * rng * m.bvar + m.bsvar
    st = inc.vt + m.vt
    dt = m.t - inc.t
    d2 = perp * perp / var + dt * dt / st
    return d2, d2 + math.log(var * st)


def leave_one_out(inc: IncidentState, m: Measurement) -> IncidentState | None:
    """The incident as it would be without ``m`` (a detached copy of the sums), or None if it has no position."""
    if len(inc.members) < 2:
        return None
    other = IncidentState("", 0)  # not ``__new__``: a class compiled by mypyc (fuse/native.py) has none to call
    other.lxx = inc.lxx - m.lxx
    other.lxy = inc.lxy - m.lxy
    other.lyy = inc.lyy - m.lyy
    other.ex = inc.ex - m.ex
    other.ey = inc.ey - m.ey
    other.tw = inc.tw - 1.0 / m.vt
    other.tz = inc.tz - m.t / m.vt
    if other.tw <= 1e-12 * inc.tw:
        return None
    other.sigma_max = INF
    if not other.solve():
        return None
    return other


def incident_cost(a: IncidentState, b: IncidentState) -> tuple[float, float]:
    """(Squared Mahalanobis distance, NLL) between two incidents' estimates, in space and time."""
    sxx = a.pxx + b.pxx
    sxy = a.pxy + b.pxy
    syy = a.pyy + b.pyy
    det = sxx * syy - sxy * sxy
    dx = a.x - b.x
    dy = a.y - b.y
    dt = a.t - b.t
    st = a.vt + b.vt
    d2 = (syy * dx * dx - 2.0 * sxy * dx * dy + sxx * dy * dy) / det + dt * dt / st
    return d2, d2 + math.log(det * st)


def best_point(
    candidates: list[IncidentState], m: Measurement, exclude: IncidentState | None, gate3: float, birth: float
) -> tuple[IncidentState | None, float]:
    """The candidate with the lowest NLL whose gate the point ``m`` passes and that beats a new event (``birth``).

    :func:`point_cost` inlined (the same operations in the same order), with the logarithm only inside the
    gate: this loop is the fuser's hottest. ``candidates`` is a list (not any iterable) so that, compiled,
    the loop reads it natively.
    """
    best: IncidentState | None = None
    best_nll = INF
    mt, mvt, mx, my, mask = m.t, m.vt, m.x, m.y, m.mask
    cxx, cxy, cyy = m.cxx, m.cxy, m.cyy
    exclusive, source = m.exclusive, m.source
    for inc in candidates:
        if inc is exclude or not (inc.mask & mask):
            continue
        dt = mt - inc.t
        st = inc.vt + mvt
        if dt * dt > gate3 * st:
            continue
        if exclusive and source in inc.sources:
            continue
        sxx = inc.pxx + cxx
        sxy = inc.pxy + cxy
        syy = inc.pyy + cyy
        det = sxx * syy - sxy * sxy
        dx = mx - inc.x
        dy = my - inc.y
        d2 = (syy * dx * dx - 2.0 * sxy * dx * dy + sxx * dy * dy) / det + dt * dt / st
        if d2 <= gate3:
            nll = d2 + math.log(det * st)
            if nll < best_nll and nll < birth:
                best, best_nll = inc, nll
    return best, best_nll
