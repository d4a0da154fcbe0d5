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

from collections.abc import Iterable, Sequence

from truceline.fuse.measurement import Measurement

#: Prior standard deviation of a sensor's clock offset (s): the shrinkage for sensors seen only a few times.
PRIOR_SD_S = 60.0
#: Residuals a sensor needs before any offset is applied to it.
MIN_RESIDUALS = 3
#: An offset is applied only if it is this many standard errors (from its residuals' own scatter) from zero:
#: mis-associated reports scatter widely and must not invent a clock error.
SIGNIFICANCE = 1.0
#: Live times move (and the window is re-associated) only for shifts above this many seconds as well: twice
#: the clock agreement trusted between organisations (``MeasurementModel.min_time_sd_s``); an offset of a
#: second or so on a sensor stating 1–2 s is noise, and chasing it would re-associate the window every refit.
MIN_SHIFT_S = 2.0
#: Re-associate when an applied offset would move by more than this fraction of the sensor's time σ.
SHIFT_FRACTION = 0.25
_ITERATIONS = 4


def _estimated(m: Measurement) -> bool:
    return m.exclusive and not m.bearing


def _significant(wr: float, w: float, wr2: float, n: int) -> bool:
    """Enough residuals, and a mean that stands out of their own scatter by :data:`SIGNIFICANCE` errors."""
    if n < MIN_RESIDUALS or w <= 0.0:
        return False
    mean = wr / w
    scatter = max(wr2 / w - mean * mean, 0.0)
    return mean * mean * n > SIGNIFICANCE * SIGNIFICANCE * scatter


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

    def record(self, members: Iterable[Measurement]) -> None:
        """Keep what a finalised incident says about its sensors' clocks (its residuals at the current offsets)."""
        for source, sums in self._residuals([list(members)], self.offsets).items():
            old = self._history.get(source, (0.0, 0.0, 0.0, 0))
            self._history[source] = (old[0] + sums[0], old[1] + sums[1], old[2] + sums[2], old[3] + sums[3])

    def refit(self, incidents: Iterable[Iterable[Measurement]]) -> bool:
        """Re-estimate the offsets from the live incidents and the history; True if a live time should move.

        A live measurement should move when its corrected time differs from the one it was associated with
        by more than :data:`SHIFT_FRACTION` of its own time σ and more than :data:`MIN_SHIFT_S`: smaller moves
        change no gate decision worth a re-association of the window. New measurements get the new offsets
        either way.
        """
        live = [list(i) for i in incidents]
        groups = [g for g in live if len(g) > 1]
        offsets = dict(self.offsets)
        prior = 1.0 / (PRIOR_SD_S * PRIOR_SD_S)
        for final in [False] * _ITERATIONS + [True]:
            sums = self._residuals(groups, offsets)
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
        return any(_estimated(m) and (self.corrected(m) - m.t) ** 2 > max(limit * m.vt, MIN_SHIFT_S**2) for g in live for m in g)

    @staticmethod
    def _residuals(groups: Iterable[Sequence[Measurement]], offsets: dict[str, float]) -> dict[str, tuple[float, float, float, int]]:
        """Per sensor: Σ w·r, Σ w, Σ w·r² and count of leave-one-out residuals r = raw time − the others' mean."""
        out: dict[str, tuple[float, float, float, int]] = {}
        for members in groups:
            times = [m.t0 - offsets.get(m.source, 0.0) if _estimated(m) else m.t0 for m in members]
            weights = [1.0 / m.vt for m in members]
            total_w = sum(weights)
            total_wt = sum(w * t for w, t in zip(weights, times, strict=True))
            for m, w, t in zip(members, weights, times, strict=True):
                if not _estimated(m):
                    continue
                rest = total_w - w
                if rest <= 1e-12 * total_w:
                    continue
                r = m.t0 - (total_wt - w * t) / rest
                wr = 1.0 / (m.vt + 1.0 / rest)
                a, b, c, n = out.get(m.source, (0.0, 0.0, 0.0, 0))
                out[m.source] = (a + wr * r, b + wr, c + wr * r * r, n + 1)
        return out
