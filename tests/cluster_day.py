"""The sparse simulated day for the cluster tests: observations, truth clusters, one node's clusters, and scores."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from functools import cache
from typing import Any

from truceline.domain.observation import Observation
from truceline.eval.data import parse_truth
from truceline.eval.metrics import PRF, pairwise, truth_clusters
from truceline.fuse import fuse_all
from truceline.ingest.validation import validate_batch, validation_context
from truceline.sim import load_scenario, observation_records, simulate, truth_records
from truceline.store.ports import IncidentQuery


@dataclass(frozen=True)
class Day:
    """What a cluster run is compared with."""

    observations: list[Observation]
    records: list[dict[str, Any]]
    truth: dict[str, str]  # observation id → true cluster
    single: dict[str, str]  # observation id → incident id of one node fusing everything in arrival order

    def scores(self, clusters: dict[str, str]) -> tuple[PRF, PRF]:
        """(pairwise vs truth, pairwise agreement with the single node)."""
        return pairwise(clusters, self.truth), pairwise(clusters, {o: self.single.get(o, f"alone/{o}") for o in self.truth})


def ledger_order_scores(store: Any, day: Day, clusters: dict[str, str]) -> PRF:
    """Agreement of ``clusters`` with one node fusing the same observations in the store's ledger order.

    Concurrent posters and re-posts after faults change the order observations are stored in, and the
    streaming fuser's associations depend on order at the margins; comparing with one node in the *same*
    order isolates what the cluster itself does (sectors, halos, takeovers)."""
    from truceline.domain.documents import parse_documents

    rows = store.observations_in_ledger_order(-1, None, 10_000_000)
    ordered = parse_documents([doc for _, doc in rows])
    single = {oid: incident.id for incident in fuse_all(ordered) for oid in incident.observation_ids}
    return pairwise(clusters, {o: single.get(o, f"alone/{o}") for o in day.truth})


@cache
def sparse_day() -> Day:
    """Built once per test session (simulation and single-node fusion take a few seconds)."""
    sim = simulate(load_scenario("sparse-day"))
    records = observation_records(sim)
    observations, errors = validate_batch(records, validation_context())
    assert not errors
    truth = truth_clusters(parse_truth(("truth", r) for r in truth_records(sim)).labels)
    single = {oid: incident.id for incident in fuse_all(observations) for oid in incident.observation_ids}
    return Day(observations, records, truth, single)


def stored_clusters(store: Any) -> dict[str, str]:
    """Observation id → incident id as stored; fails if an observation is in two incidents."""
    incidents = store.list_incidents(IncidentQuery(limit=1_000_000))
    members = Counter(oid for incident in incidents for oid in incident.observation_ids)
    twice = [oid for oid, n in members.items() if n > 1]
    assert not twice, f"observations in two incidents: {twice[:5]}"
    return {oid: incident.id for incident in incidents for oid in incident.observation_ids}
