"""Per-source clock offsets, learned from the incidents a sensor shares with other sensors.

A sensor's clock error is the same in all of its reports, and nobody states it: three nations' reports of
one explosion arrive with clocks tens of seconds apart, so inside a salvo time cannot tell impacts apart. Yet
the error is visible: wherever a sensor's report sits in an incident with other sensors' reports, its time
minus theirs (leave-one-out) measures its offset. Over many incidents the mean residual per sensor is its
offset; fusion subtracts it from the sensor's later (and, after a re-association, its live) reports, which
tightens association in time without claiming a smaller uncertainty than the sender's or the default.

Only point reports of exclusive sensors (acoustic, seismic, radar, UAV: machines with a clock) are
estimated; a person's report has no constant clock error, and a bearing's time error depends on its range.
The estimate is an alternating least-squares fit (incident time ↔ sensor offsets) with a zero-mean normal
prior on each offset (shrinking what few reports say) and the offsets' weighted mean held at zero: relative
times cannot tell a shift common to all clocks, so the common clock is the sensors' consensus.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from typing import Final

from truceline.fuse.measurement import Measurement

#: Prior standard deviation of a sensor's clock offset (s): the shrinkage for sensors seen only a few times.
PRIOR_SD_S: Final = 60.0
#: Residuals a sensor needs before any offset is applied to it.
MIN_RESIDUALS: Final = 3
#: An offset is applied only if it is this many standard errors (from its residuals' own scatter) from zero:
#: mis-associated reports scatter widely and must not invent a clock error.
SIGNIFICANCE: Final = 1.0
#: Live times move (and the window is re-associated) only for shifts above this many seconds as well: twice
#: the clock agreement trusted between organisations (``MeasurementModel.min_time_sd_s``); an offset of a
#: second or so on a sensor stating 1–2 s is noise, and chasing it would re-associate the window every refit.
MIN_SHIFT_S: Final = 2.0
#: Re-associate when an applied offset would move by more than this fraction of the sensor's time σ.
SHIFT_FRACTION: Final = 0.25
_ITERATIONS: Final = 2


def _estimated(m: Measurement) -> bool:
    return m.exclusive and not m.bearing


def _significant(wr: float, w: float, wr2: float, n: int) -> bool:
    """Enough residuals, and a mean that stands out of their own scatter by :data:`SIGNIFICANCE` errors."""
    if n < MIN_RESIDUALS or w <= 0.0:
        return False
    mean = wr / w
    scatter = max(wr2 / w - mean * mean, 0.0)
    return mean * mean * n > SIGNIFICANCE * SIGNIFICANCE * scatter


class _Group:
    """One incident's members as the fit needs them, as parallel lists the fit reads natively: each member's
    sensor id (:class:`SourceClocks`' integer for it, -1 if not estimated), raw time and 1/variance."""

    __slots__ = ("ids", "ts", "ws")

    def __init__(self) -> None:
        self.ids: list[int] = []
        self.ts: list[float] = []
        self.ws: list[float] = []


class Evidence:
    """What one incident can say about clocks: its estimated members, and its group when it has ≥ 2 members.

    A class, not a tuple: an incident keeps it (``IncidentState.clock_evidence``) and each refit reads it again, and
    compiled, a tuple kept in an attribute was unpacked and a new one built on every read."""

    __slots__ = ("group", "mine")

    def __init__(self, mine: list[Measurement], group: _Group | None) -> None:
        self.mine = mine
        self.group = group


class _Sums:
    """Per sensor (by integer id): Σ w·r, Σ w, Σ w·r² and count of residuals, and the ids in the order they were
    first summed. Lists indexed by id, not a dict of tuples: the fit's passes read and add in place, natively,
    instead of hashing a sensor id and allocating a tuple per residual; :meth:`clear` touches only what was summed."""

    __slots__ = ("n", "order", "w", "wr", "wr2")

    def __init__(self) -> None:
        self.wr: list[float] = []
        self.w: list[float] = []
        self.wr2: list[float] = []
        self.n: list[int] = []
        self.order: list[int] = []

    def grow(self) -> None:
        self.wr.append(0.0)
        self.w.append(0.0)
        self.wr2.append(0.0)
        self.n.append(0)

    def clear(self) -> None:
        for i in self.order:
            self.wr[i] = 0.0
            self.w[i] = 0.0
            self.wr2[i] = 0.0
            self.n[i] = 0
        self.order = []

    def add(self, other: _Sums) -> None:
        """Add ``other``'s sums into these, sensor by sensor in ``other``'s order; a sensor new here goes last."""
        for i in other.order:
            if self.n[i] == 0:
                self.order.append(i)
            self.wr[i] = self.wr[i] + other.wr[i]  # IEEE addition commutes exactly: either side's sums first is the same
            self.w[i] = self.w[i] + other.w[i]
            self.wr2[i] = self.wr2[i] + other.wr2[i]
            self.n[i] = self.n[i] + other.n[i]


class SourceClocks:
    """Offsets (s, reported time minus true time) per sensor id, and the evidence of finalised incidents.

    Memory is a few numbers per sensor ever seen: a sensor's clock is the same for as long as it reports, so
    what finalised incidents said about it is kept as sums (indexed by an integer id given on first sight).
    """

    __slots__ = ("_history", "_ids", "_names", "_off", "_scratch", "offsets")

    def __init__(self) -> None:
        self.offsets: dict[str, float] = {}
        self._ids: dict[str, int] = {}
        self._names: list[str] = []
        self._off: list[float] = []  # self.offsets by id, 0.0 where none is applied
        self._history = _Sums()  # finalised incidents' residuals
        self._scratch = _Sums()  # one fit pass's (or one finalised incident's) residuals

    def corrected(self, m: Measurement) -> float:
        """The measurement's time on the common clock: raw time minus its sensor's applied offset."""
        return m.t0 - self.offsets.get(m.source, 0.0) if _estimated(m) else m.t0

    def record(self, members: Collection[Measurement]) -> None:
        """Keep what a finalised incident says about its sensors' clocks (its residuals at the current offsets)."""
        self.record_evidence(self.evidence(members))

    def record_evidence(self, incident: Evidence) -> None:
        """:meth:`record` from the incident's :func:`evidence`."""
        group = incident.group
        if group is None:
            return
        sums = self._scratch
        sums.clear()
        _residuals([group], self._off, sums)
        self._history.add(sums)

    def refit(self, incidents: Iterable[Collection[Measurement]]) -> bool:
        """Re-estimate the offsets from the live incidents and the history; True if a live time should move.

        A live measurement should move when its corrected time differs from the one it was associated with
        by more than :data:`SHIFT_FRACTION` of its own time σ and more than :data:`MIN_SHIFT_S`: smaller moves
        change no gate decision worth a re-association of the window. New measurements get the new offsets
        either way.
        """
        return self.refit_evidence([self.evidence(members) for members in incidents])

    def refit_evidence(self, incidents: Iterable[Evidence]) -> bool:
        """:meth:`refit` from each live incident's :func:`evidence`, which a caller may keep while the incident's
        members stay the same (the fuser does: most of the window is unchanged between two refits)."""
        kept = list(incidents)
        groups: list[_Group] = []
        for evidence in kept:
            group = evidence.group
            if group is not None:
                groups.append(group)
        off = self._off
        applied = [self._ids[s] for s in self.offsets]
        history = self._history
        sums = self._scratch
        prior = 1.0 / (PRIOR_SD_S * PRIOR_SD_S)
        for final in [False] * _ITERATIONS + [True]:
            sums.clear()
            _residuals(groups, off, sums)
            sums.add(history)  # the history's sensors not seen live come last, as they were recorded
            # The fit itself uses every sensor seen enough; only the last pass, whose residuals are taken
            # with everyone's offsets removed, judges which offsets stand out of their scatter.
            fitted: list[int] = []
            total = 0.0
            common = 0.0
            for i in sums.order:
                wr, w, n = sums.wr[i], sums.w[i], sums.n[i]
                if _significant(wr, w, sums.wr2[i], n) if final else n >= MIN_RESIDUALS:
                    fitted.append(i)
                    total += w
            for i in fitted:
                common += sums.wr[i] / (sums.w[i] + prior) * sums.w[i]
            common = common / total if total > 0 else 0.0
            for i in applied:
                off[i] = 0.0
            for i in fitted:
                off[i] = sums.wr[i] / (sums.w[i] + prior) - common
            applied = fitted
        offsets = {self._names[i]: off[i] for i in applied}
        previous = self.offsets
        self.offsets = offsets
        if offsets == previous:
            # Every live time was set with these very offsets (shift 0.0) or passed this check against them at the
            # last refit (or was reset by the re-association its failure caused): nothing can have moved. Saves a walk
            # of every live member where no sensor's clock is estimated (a call of reports spread over months).
            return False
        limit = SHIFT_FRACTION * SHIFT_FRACTION
        floor = MIN_SHIFT_S**2
        for evidence in kept:
            for m in evidence.mine:
                shift = m.t0 - offsets.get(m.source, 0.0) - m.t
                if shift * shift > floor and shift * shift > limit * m.vt:
                    return True
        return False

    def evidence(self, members: Collection[Measurement]) -> Evidence:
        """An incident's clock evidence; it depends only on which measurements are members (their raw times,
        variances and sensors never change), so it can be kept until the membership changes."""
        mine = [m for m in members if m.exclusive and not m.bearing]
        if not mine or len(members) < 2:
            return Evidence(mine, None)
        group = _Group()
        for m in members:
            group.ids.append(self._id(m.source) if m.exclusive and not m.bearing else -1)
            group.ts.append(m.t0)
            group.ws.append(1.0 / m.vt)
        return Evidence(mine, group)

    def _id(self, source: str) -> int:
        """The sensor's integer id, given on first sight."""
        i = self._ids.get(source, -1)
        if i < 0:
            i = self._ids[source] = len(self._names)
            self._names.append(source)
            self._off.append(0.0)
            self._history.grow()
            self._scratch.grow()
        return i


def _residuals(groups: list[_Group], offsets: list[float], out: _Sums) -> None:
    """Add to ``out`` per sensor Σ w·r, Σ w, Σ w·r² and count of leave-one-out residuals r = raw time − the
    others' mean (times on the common clock, ``offsets`` by sensor id)."""
    for group in groups:
        ids, ts, ws = group.ids, group.ts, group.ws
        size = len(ids)
        total_w = 0.0
        total_wt = 0.0
        for j in range(size):
            w = ws[j]
            i = ids[j]
            total_w += w
            total_wt += w * (ts[j] - offsets[i] if i >= 0 else ts[j])
        for j in range(size):
            i = ids[j]
            if i < 0:
                continue
            w = ws[j]
            rest = total_w - w
            if rest <= 1e-12 * total_w:
                continue
            t0 = ts[j]
            r = t0 - (total_wt - w * (t0 - offsets[i])) / rest
            wr = 1.0 / (1.0 / w + 1.0 / rest)
            if out.n[i] == 0:
                out.order.append(i)
            out.wr[i] = out.wr[i] + wr * r
            out.w[i] = out.w[i] + wr
            out.wr2[i] = out.wr2[i] + wr * r * r
            out.n[i] = out.n[i] + 1
