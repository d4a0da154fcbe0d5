"""The sequencer role: one holder at a time, takeover after expiry, a stale holder's batch is refused."""

from __future__ import annotations

import threading
from pathlib import Path

from tests.cluster_day import sparse_day

from truceline.cluster.lease import LeaseKeeper, LeaseTable
from truceline.cluster.sequencer import LEASE, Sequencer


def test_one_sequencer_at_a_time_and_takeover(pg_dsn: str, tmp_path: Path) -> None:
    from truceline.store.postgres import open_postgres

    store = open_postgres(pg_dsn, tmp_path / "data")
    observations = sparse_day().observations
    store.add_observations(observations[:100])
    keeper_a, keeper_b = LeaseKeeper(LeaseTable(pg_dsn, ttl_s=1.0)), LeaseKeeper(LeaseTable(pg_dsn, ttl_s=1.0))
    a = Sequencer(store, LeaseTable(pg_dsn, ttl_s=1.0), keeper_a, "seq-a", batch=30)
    b = Sequencer(store, LeaseTable(pg_dsn, ttl_s=1.0), keeper_b, "seq-b", batch=30)
    assert a.step() == 30 and a.holding
    assert b.step() == 0 and not b.holding  # the lease is a's
    stale = a.fence
    keeper_a.forget(LEASE)  # a stalls: no renewals
    threading.Event().wait(1.5)  # past the TTL on the database clock
    assert b.step() == 30 and b.fence is not None and stale is not None and b.fence.term == stale.term + 1
    assert a.step() == 0  # a wakes up: its term is refused, nothing appended, it lets go
    assert a.fence is None or a.fence.term > stale.term
    while b.step():
        pass
    assert store.ledger_size() == 100 and store.pending_leaves() == 0
    store.add_observations(observations[100:120])
    b.release()
    assert a.step() == 20  # a clean release hands over at once
    assert store.ledger_size() == 120
