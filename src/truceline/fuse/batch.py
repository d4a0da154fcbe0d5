"""A finite stream fused at once: the final incidents of a list of observations in arrival order.

The streaming :class:`~truceline.fuse.fuser.Fuser` publishes updates; a batch caller (the CLI, an export,
a benchmark) wants only where they end. This replays them as a consumer would: upsert, delete on removal.
"""

from __future__ import annotations

from collections.abc import Iterable

from truceline.domain.incident import Incident
from truceline.domain.observation import Observation
from truceline.fuse.fuser import Fuser, FuserConfig, IncidentUpdate
from truceline.fuse.snapshot import Snapshot

#: Observations per ``Fuser.add`` call where a backlog is fused: the server's fusion (``service/fusion.py``), its
#: replay on start, the cluster's sector workers and :func:`fuse_all` (the CLI, partial views, ``bench fusion --only
#: quality``), so that the quality bench measures what the server does. Since a call no longer finalises incidents
#: its own later reports still need (``Fuser._add``), quality does not depend on the size (docs/fusion.md, "A call
#: does not finalise what its own later reports need"); larger calls cost no less (docs/performance.md, "Tenth
#: round") and hold the store's write lock longer.
FUSION_BATCH = 2000


def fuse_all(
    observations: Iterable[Observation], config: FuserConfig | None = None, batch_size: int = FUSION_BATCH
) -> list[Incident]:
    """Fuse a finite stream (in the given, arrival, order) and return the final incidents, oldest first."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be ≥ 1, got {batch_size}")
    fuser = Fuser(config)
    final: dict[str, Snapshot] = {}

    def collect(updates: list[IncidentUpdate]) -> None:
        for update in updates:
            if update.snapshot is None:
                final.pop(update.incident_id, None)
            else:
                final[update.incident_id] = update.snapshot

    batch: list[Observation] = []
    for obs in observations:
        batch.append(obs)
        if len(batch) >= batch_size:
            collect(fuser.add(batch))
            batch = []
    collect(fuser.add(batch))
    collect(fuser.flush())
    return [snap.to_incident() for snap in sorted(final.values(), key=lambda s: (s.time_s, s.id))]
