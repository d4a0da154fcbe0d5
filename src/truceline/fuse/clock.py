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


#: One incident's members as the fit needs them: (sensor id or None if not estimated, raw time, 1/variance).
_Group = list[tuple[str | None, float, float]]
#: What one incident can say about clocks: its estimated members, and its group when it has ≥ 2 members.
Evidence = tuple[list[Measurement], _Group | None]


def evidence(members: Collection[Measurement]) -> Evidence:
    """An incident's clock evidence; it depends only on which measurements are members (their raw times,
    variances and sensors never change), so it can be kept until the membership changes."""
    mine = [m for m in members if m.exclusive and not m.bearing]
    if not mine or len(members) < 2:
        return mine, None
    return mine, [(m.source if m.exclusive and not m.bearing else None, m.t0, 1.0 / m.vt) for m in members]


class SourceClocks:
    """Offsets (s, reported time minus true time) per sensor id, and the evidence of finalised incidents.

    Memory is four numbers per sensor ever seen: a sensor's clock is the same for as long as it reports, so
    what finalised incidents said about it is kept as sums.
    """

    __slots__ = ("_history", "offsets")

    def __init__(self) -> None:
        self.offsets: dict[str, float] = {}
        self._history: dict[str, tuple[float, float, float, int]] = {}  # Σ w·r, Σ w, Σ w·r², count

    def corrected(self, m: Measurement) -> float:
        """The measurement's time on the common clock: raw time minus its sensor's applied offset."""
        return m.t0 - self.offsets.get(m.source, 0.0) if _estimated(m) else m.t0

    def record(self, members: Collection[Measurement]) -> None:
        """Keep what a finalised incident says about its sensors' clocks (its residuals at the current offsets)."""
        self.record_evidence(evidence(members))

    def record_evidence(self, incident: Evidence) -> None:
        """:meth:`record` from the incident's :func:`evidence`."""
        group = incident[1]
        if group is None:
            return
        for source, sums in _residuals([group], self.offsets).items():
            old = self._history.get(source, (0.0, 0.0, 0.0, 0))
            self._history[source] = (old[0] + sums[0], old[1] + sums[1], old[2] + sums[2], old[3] + sums[3])

    def refit(self, incidents: Iterable[Collection[Measurement]]) -> bool:
        """Re-estimate the offsets from the live incidents and the history; True if a live time should move.

        A live measurement should move when its corrected time differs from the one it was associated with
        by more than :data:`SHIFT_FRACTION` of its own time σ and more than :data:`MIN_SHIFT_S`: smaller moves
        change no gate decision worth a re-association of the window. New measurements get the new offsets
        either way.
        """
        return self.refit_evidence([evidence(members) for members in incidents])

    def refit_evidence(self, incidents: Iterable[Evidence]) -> bool:
        """:meth:`refit` from each live incident's :func:`evidence`, which a caller may keep while the incident's
        members stay the same (the fuser does: most of the window is unchanged between two refits)."""
        groups: list[_Group] = []
        estimated: list[Measurement] = []
        for mine, group in incidents:
            estimated.extend(mine)
            if group is not None:
                groups.append(group)
        offsets = dict(self.offsets)
        prior = 1.0 / (PRIOR_SD_S * PRIOR_SD_S)
        for final in [False] * _ITERATIONS + [True]:
            sums = _residuals(groups, offsets)
            for source, old in self._history.items():
                new = sums.get(source, (0.0, 0.0, 0.0, 0))
                sums[source] = (old[0] + new[0], old[1] + new[1], old[2] + new[2], old[3] + new[3])
            # The fit itself uses every sensor seen enough; only the last pass, whose residuals are taken
            # with everyone's offsets removed, judges which offsets stand out of their scatter.
            keep = _significant if final else lambda wr, w, wr2, n: n >= MIN_RESIDUALS
            fitted = {s: (wr / (w + prior), w) for s, (wr, w, wr2, n) in sums.items() if keep(wr, w, wr2, n)}
            total = sum(w for _, w in fitted.values())
            common = sum(o * w for o, w in fitted.values()) / total if total > 0 else 0.0
            offsets = {s: o - common for s, (o, _) in fitted.items()}
        self.offsets = offsets
        limit = SHIFT_FRACTION * SHIFT_FRACTION
        floor = MIN_SHIFT_S**2
        for m in estimated:
            shift = m.t0 - offsets.get(m.source, 0.0) - m.t
            if shift * shift > floor and shift * shift > limit * m.vt:
                return True
        return False




def _residuals(groups: Iterable[_Group], offsets: dict[str, float]) -> dict[str, tuple[float, float, float, int]]:
    """Per sensor: Σ w·r, Σ w, Σ w·r² and count of leave-one-out residuals r = raw time − the others' mean."""
    out: dict[str, tuple[float, float, float, int]] = {}
    for group in groups:
        total_w = 0.0
        total_wt = 0.0
        for source, t0, w in group:
            total_w += w
            total_wt += w * (t0 - offsets.get(source, 0.0) if source is not None else t0)
        for source, t0, w in group:
            if source is None:
                continue
            rest = total_w - w
            if rest <= 1e-12 * total_w:
                continue
            r = t0 - (total_wt - w * (t0 - offsets.get(source, 0.0))) / rest
            wr = 1.0 / (1.0 / w + 1.0 / rest)
            a, b, c, n = out.get(source, (0.0, 0.0, 0.0, 0))
            out[source] = (a + wr * r, b + wr, c + wr * r * r, n + 1)
    return out
