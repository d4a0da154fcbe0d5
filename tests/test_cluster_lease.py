"""Leases in PostgreSQL: one holder at a time, a term that grows at every takeover, expiry by the database clock."""

from __future__ import annotations

import time

import psycopg
import pytest
from tests.services import terminate_connections

from truceline.cluster.lease import Fence, LeaseTable


def test_one_holder_and_a_growing_term(pg_dsn: str) -> None:
    a, b = LeaseTable(pg_dsn, ttl_s=10), LeaseTable(pg_dsn, ttl_s=10)
    fa = a.acquire("sequencer", "w-a")
    assert fa == Fence("sequencer", "w-a", 1)
    assert b.acquire("sequencer", "w-b") is None  # held and live
    assert a.acquire("sequencer", "w-a") == fa  # re-acquiring our own live lease keeps the term
    assert a.renew(fa)
    assert a.release(fa)
    fb = b.acquire("sequencer", "w-b")
    assert fb is not None and fb.term == 2  # a takeover raises the term
    assert not a.renew(fa)  # the old grant is fenced off
    assert not a.holds(fa) and b.holds(fb)
    assert a.holders("seq") == {"sequencer": ("w-b", 2)}
    assert a.holders("fusion:") == {}


def test_expiry_frees_a_lease_for_takeover(pg_dsn: str) -> None:
    a, b = LeaseTable(pg_dsn, ttl_s=0.5), LeaseTable(pg_dsn, ttl_s=0.5)
    fa = a.acquire("fusion:48_37", "w-a")
    assert fa is not None
    assert b.acquire("fusion:48_37", "w-b") is None
    time.sleep(0.8)  # past the TTL on the database's clock; nobody renewed
    fb = b.acquire("fusion:48_37", "w-b")
    assert fb is not None and fb.term == fa.term + 1
    assert not a.renew(fa)
    # a holder that comes back after expiry must not take the lease back while the new one is live
    assert a.acquire("fusion:48_37", "w-a") is None


def test_like_prefix_is_literal(pg_dsn: str) -> None:
    a = LeaseTable(pg_dsn)
    assert a.acquire("fusion:1_2", "w") is not None
    assert a.acquire("fusionX1", "w") is not None
    assert set(a.holders("fusion:")) == {"fusion:1_2"}
    assert set(a.holders("fusion_")) == set()  # '_' is not a wildcard


def test_recovers_after_terminated_connections(pg_dsn: str) -> None:
    a = LeaseTable(pg_dsn)
    fa = a.acquire("sequencer", "w-a")
    assert fa is not None
    terminate_connections(pg_dsn)
    with pytest.raises(psycopg.OperationalError):
        a.renew(fa)
    assert a.renew(fa)  # the next call reconnects; the lease was never lost


def test_bad_ttl_is_refused() -> None:
    with pytest.raises(ValueError, match="TTL"):
        LeaseTable("postgresql://unused", ttl_s=0)
