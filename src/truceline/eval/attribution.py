"""Scoring attribution against the ground truth of shots: named correctly, named wrongly, linked correctly.

Works on what a client sees — incidents with their observation ids, and ``/violations`` features — so the
figures measure the whole path (ingest, fusion, judging), not the judging alone. An incident belongs to the
shot most of its observations came from; a violation is *named* when its party is not ``undetermined``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

UNDETERMINED = "undetermined"


class ShotTruth(Protocol):
    """What the scorer needs of a shot (``truceline.sim.engagements.Shot`` fits)."""

    id: str
    party: str
    evidence: str
    launch_ids: list[str]
    impact_ids: list[str]


@dataclass
class EvidenceScore:
    """Figures for the shots of one evidence type."""

    shots: int = 0
    shots_named: int = 0  # shots with at least one violation naming a party
    named_correctly: int = 0  # shots whose violations name the party that fired, and none another
    undetermined: int = 0  # shots with violations, none naming a party
    violations_named: int = 0
    violations_wrong: int = 0  # named violations naming a party that did not fire
    impacts_named_by_link: int = 0  # impact violations named through a linked launch
    impacts_named_by_link_wrongly: int = 0
    linkable: int = 0  # shots whose launch and impact were both observed
    linked_correctly: int = 0  # ... whose impact's best link (≥ 0.5) is the shot's own launch incident
    linked_wrongly: int = 0  # ... whose impact's best link is another shot's launch
    linked_and_named: int = 0  # ... whose impact names the party that fired through a link (counted once per shot)
    named_without_launch_evidence: int = 0  # named violations resting on no launch or origin at all (must be 0)
    by_method: Counter[str] = field(default_factory=Counter)


def score(shots: Sequence[ShotTruth], incidents: Mapping[str, Sequence[str]],
          violations: Iterable[Mapping[str, Any]]) -> dict[str, EvidenceScore]:
    """Scores per evidence type, plus ``"all"``; ``incidents`` maps incident id → observation ids."""
    shot_of_obs: dict[str, ShotTruth] = {}
    launch_obs: set[str] = set()
    for shot in shots:
        for oid in shot.launch_ids:
            shot_of_obs[oid] = shot
            launch_obs.add(oid)
        for oid in shot.impact_ids:
            shot_of_obs[oid] = shot
    owner: dict[str, ShotTruth] = {}
    for iid, oids in incidents.items():
        votes = Counter(shot_of_obs[o].id for o in oids if o in shot_of_obs)
        if votes:
            best = votes.most_common(1)[0][0]
            owner[iid] = next(shot_of_obs[o] for o in oids if o in shot_of_obs and shot_of_obs[o].id == best)
    launch_incident = {iid for iid, oids in incidents.items() if any(o in launch_obs for o in oids)}
    per_shot: dict[str, list[Mapping[str, Any]]] = {}
    for v in violations:
        shot = owner.get(str(v["incident_id"]))
        if shot is not None:
            per_shot.setdefault(shot.id, []).append(v)
    out: dict[str, EvidenceScore] = {}
    total = EvidenceScore()
    for shot in shots:
        s = out.setdefault(shot.evidence, EvidenceScore())
        for t in (s, total):
            _add(t, shot, per_shot.get(shot.id, []), owner, launch_incident)
    out["all"] = total
    return out


def _add(s: EvidenceScore, shot: ShotTruth, found: list[Mapping[str, Any]], owner: Mapping[str, ShotTruth],
         launch_incident: set[str]) -> None:
    s.shots += 1
    named = [v for v in found if v["party"] != UNDETERMINED]
    right = [v for v in named if v["party"] == shot.party]
    s.violations_named += len(named)
    s.violations_wrong += len(named) - len(right)
    s.shots_named += bool(named)
    if right and len(right) == len(named):
        s.named_correctly += 1
    elif found and not named:
        s.undetermined += 1
    for v in found:
        s.by_method[str(v["attribution_method"])] += 1
        if v["party"] != UNDETERMINED and v["attribution_method"] not in ("origin-point", "origin-bearing", "firing-point", "launch-link", "location"):
            s.named_without_launch_evidence += 1
        if v["attribution_method"] == "launch-link" and v["party"] != UNDETERMINED:
            s.impacts_named_by_link += 1
            s.impacts_named_by_link_wrongly += v["party"] != shot.party
    if shot.launch_ids and shot.impact_ids:
        impacts = [v for v in found if str(v["incident_id"]) not in launch_incident]
        if impacts:
            s.linkable += 1
            # per shot, not per violation: an impact split into several incidents must not count twice
            s.linked_and_named += any(v["attribution_method"] == "launch-link" and v["party"] == shot.party for v in impacts)
            best = [e for v in impacts for e in v.get("engagements") or () if e["probability"] >= 0.5]
            if best:
                fired = owner.get(str(best[0]["launch_incident_id"]))
                if fired is not None and fired.id == shot.id:
                    s.linked_correctly += 1
                else:
                    s.linked_wrongly += 1
