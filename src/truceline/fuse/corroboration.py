"""Corroboration: how far *independent* sources confirm an incident, weighted by their Admiralty grades.

Two observations are independent when they differ in owning organisation or in sensor type; a source (or an
organisation's network of one sensor type) repeating itself adds nothing. Within a group the best-graded
observation speaks for it. The score is the noisy-OR of all groups *except the strongest*: 0 for a single
group however well graded (nothing confirms it), rising towards 1 as independent, well-graded sources agree.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping


def group_weights(members: Iterable[tuple[str, float]]) -> dict[str, float]:
    """Best evidence weight per independence group (``"ORG/type"``) among ``(group, weight)`` pairs."""
    best: dict[str, float] = {}
    for group, weight in members:
        if weight > best.get(group, -1.0):
            best[group] = weight
    return best


def corroboration_score(groups: Mapping[str, float]) -> float:
    """Noisy-OR of the evidence weights of every independent group but the strongest, in [0, 1]."""
    if len(groups) < 2:
        return 0.0
    weights = sorted(groups.values(), reverse=True)
    missing = 1.0
    for weight in weights[1:]:
        missing *= 1.0 - min(max(weight, 0.0), 1.0)
    return 1.0 - missing
