"""Key revocations: the key stops working at once, and the revocation (retired or compromised, with the
time from which a compromised key's work stops counting) is a ledger leaf, in the same transaction.

Like a review, the leaf commits (salted) to the revocation record, so an auditor holding the record and its
salt can prove the log holds exactly this revocation at this index, and a compromise cannot be backdated or
withdrawn without the log showing it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from truceline.domain.revocation import Revocation, RevocationReason
from truceline.ledger.canonical import canonical_json, leaf_bytes
from truceline.ledger.commitment import commit_canonical, new_salt
from truceline.store.sqlite_base import SqliteBase
from truceline.store.sqlite_schema import StoreError
from truceline.store.timecodes import _from_us, _iso, _us

#: SQL condition (alias ``o``): the observation was not posted by a key compromised at the time it arrived.
#: Fusion takes in only these, and readers other than coalition staff see only these; a revocation reaches
#: incidents already built when fusion next rebuilds its open incidents (on start).
COUNTS_SQL = (
    "NOT EXISTS (SELECT 1 FROM key_revocations k WHERE k.key_id = o.posted_by AND k.reason = 'compromised'"
    " AND o.received_us >= k.since_us)"
)
#: What coalition staff are shown on an observation that does not count.
EXCLUDED_NOTE = "excluded: posted by a compromised key"


def revocation_since(reason: RevocationReason, since: datetime | None, now: datetime) -> datetime | None:
    """From when a revocation's key stops counting (None for a retired key); refuses (StoreError) a
    ``since`` for a retired key, without a UTC offset, or in the future."""
    if reason is RevocationReason.RETIRED and since is not None:
        raise StoreError("--since applies to a compromised key only: a retired key's past work stands")
    if since is not None and since.tzinfo is None:
        raise StoreError("since must carry a UTC offset, e.g. 2023-04-01T00:00:00Z")
    if since is not None and since > now:
        raise StoreError(f"since {_iso(since)} is in the future")
    return (since or now) if reason is RevocationReason.COMPROMISED else None


def may_revoke(conn: Any, key_id: str, reason: RevocationReason, revoked_us: int | None) -> bool:
    """A live key may be revoked; a retired one only declared compromised (found out later), and only once."""
    if revoked_us is None:
        return True
    reasons = {r for (r,) in conn.execute("SELECT reason FROM key_revocations WHERE key_id = ?", (key_id,))}
    return reason is RevocationReason.COMPROMISED and "compromised" not in reasons


def revocation_leaf(
    key_id: str, org: str, reason: RevocationReason, since: datetime | None, now: datetime, by: str
) -> tuple[bytes, bytes]:
    """(salt, ledger leaf) of a revocation: the leaf commits, salted, to the revocation record."""
    salt = new_salt()
    record = {
        "key_id": key_id,
        "org": org,
        "reason": reason.value,
        "since": None if since is None else _iso(since),
        "at": _iso(now),
        "by": by,
    }
    return salt, leaf_bytes("revocation", {"commitment": commit_canonical(salt, canonical_json(record)), "received_at": _iso(now)})


class RevocationTables(SqliteBase):
    """Revoking keys and reading back the revocations."""

    def revoke_api_key(
        self,
        key_id: str,
        reason: RevocationReason = RevocationReason.RETIRED,
        since: datetime | None = None,
        by: str = "",
    ) -> bool:
        """Revoke a key; False if there is no such live key.

        ``reason`` retired (the default, as before reasons existed) keeps its past work; compromised makes
        its work from ``since`` (default: now) stop counting. A key already retired may still be declared
        compromised (found out later); any other second revocation is False. ``since`` in the future is
        refused (StoreError): nobody knows yet that a key will be compromised.
        """
        now = datetime.now(UTC)
        effective_since = revocation_since(reason, since, now)
        with self.transaction() as conn:
            row = conn.execute("SELECT org, revoked_us FROM api_keys WHERE key_id = ?", (key_id,)).fetchone()
            if row is None:
                return False
            org, revoked_us = row
            if not may_revoke(conn, key_id, reason, revoked_us):
                return False
            salt, leaf = revocation_leaf(key_id, org, reason, effective_since, now, by)
            index = self._log.size(conn)
            self._log.append_many(conn, [leaf])
            conn.execute(
                "INSERT INTO key_revocations (key_id, reason, since_us, at_us, by_key, ledger_index, ledger_salt) VALUES (?,?,?,?,?,?,?)",
                (key_id, reason.value, None if effective_since is None else _us(effective_since), _us(now), by, index, salt),
            )
            if revoked_us is None:
                conn.execute("UPDATE api_keys SET revoked_us = ? WHERE key_id = ?", (_us(now), key_id))
        return True

    def key_revocations(self) -> list[Revocation]:
        """Every revocation, oldest first."""
        rows = self._reader().execute(
            "SELECT key_id, reason, at_us, since_us, by_key, ledger_index FROM key_revocations ORDER BY seq"
        ).fetchall()
        return [
            Revocation(k, RevocationReason(r), _from_us(at), None if since is None else _from_us(since), by, index)
            for k, r, at, since, by, index in rows
        ]
