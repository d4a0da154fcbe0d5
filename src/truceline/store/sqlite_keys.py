"""Who may use the store: organisations, their groups, and API keys (only a hash of each secret is kept).

Revoking a key is :mod:`~truceline.store.sqlite_revocations`' job.
"""

from __future__ import annotations

import hashlib
import secrets
import sqlite3
from collections.abc import Sequence
from datetime import UTC, datetime

from truceline.access.policy import Role
from truceline.store.ports import ApiKey
from truceline.store.sqlite_base import SqliteBase
from truceline.store.timecodes import _from_us, _us


class KeyTables(SqliteBase):
    """Organisations, group membership and API keys."""

    def set_organisation(self, code: str, groups: Sequence[str] = (), name: str = "") -> None:
        """Register an organisation (if new) and set its groups to exactly ``groups``."""
        with self.transaction() as conn:
            self._register(conn, code, name)
            conn.execute("DELETE FROM group_members WHERE org_code = ?", (code,))
            conn.executemany("INSERT INTO group_members VALUES (?, ?)", [(g, code) for g in sorted(set(groups))])

    @staticmethod
    def _register(conn: sqlite3.Connection, code: str, name: str = "") -> None:
        conn.execute(
            "INSERT INTO organisations (code, name, created_us) VALUES (?, ?, ?) ON CONFLICT (code) DO UPDATE SET"
            " name = CASE WHEN excluded.name != '' THEN excluded.name ELSE organisations.name END",
            (code, name, _us(datetime.now(UTC))),
        )

    def organisation_groups(self, code: str) -> list[str]:
        """Groups an organisation belongs to (PUBLIC is implicit and not listed)."""
        rows = self._reader().execute("SELECT group_code FROM group_members WHERE org_code = ? ORDER BY 1", (code,))
        return [row[0] for row in rows]

    def list_organisations(self) -> dict[str, list[str]]:
        """Every organisation with its groups."""
        out: dict[str, list[str]] = {}
        for code, group in self._reader().execute(
            "SELECT o.code, g.group_code FROM organisations o LEFT JOIN group_members g ON g.org_code = o.code ORDER BY 1, 2"
        ):
            out.setdefault(code, [])
            if group is not None:
                out[code].append(group)
        return out

    def create_api_key(self, org: str, role: Role, label: str = "") -> tuple[ApiKey, str]:
        """Create a key (registering its organisation); the secret is never stored, only its SHA-256."""
        secret = "tl_" + secrets.token_urlsafe(32)
        key = ApiKey(key_id=secrets.token_hex(8), org=org, role=role, created_at=datetime.now(UTC), label=label)
        with self.transaction() as conn:
            self._register(conn, org)
            conn.execute(
                "INSERT INTO api_keys (key_id, secret_hash, org, role, label, created_us) VALUES (?,?,?,?,?,?)",
                (key.key_id, _secret_hash(secret), org, role.value, label, _us(key.created_at)),
            )
        return key, secret

    def authenticate(self, secret: str) -> ApiKey | None:
        """The live key with this secret, or None (unknown or revoked)."""
        row = self._reader().execute(
            "SELECT key_id, org, role, created_us, revoked_us, label FROM api_keys WHERE secret_hash = ?",
            (_secret_hash(secret),),
        ).fetchone()
        if row is None or row[4] is not None:
            return None
        return _api_key(row)

    def list_api_keys(self) -> list[ApiKey]:
        """Every key, revoked ones included, oldest first."""
        rows = self._reader().execute(
            "SELECT key_id, org, role, created_us, revoked_us, label FROM api_keys ORDER BY created_us"
        ).fetchall()
        return [_api_key(row) for row in rows]


def _secret_hash(secret: str) -> bytes:
    # Keys are 256-bit random tokens, so a plain SHA-256 is enough; a slow password hash would only slow requests.
    return hashlib.sha256(secret.encode()).digest()


def _api_key(row: tuple[str, str, str, int, int | None, str]) -> ApiKey:
    return ApiKey(
        key_id=row[0],
        org=row[1],
        role=Role(row[2]),
        created_at=_from_us(row[3]),
        revoked_at=None if row[4] is None else _from_us(row[4]),
        label=row[5],
    )
