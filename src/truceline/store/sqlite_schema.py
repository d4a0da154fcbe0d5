"""The SQLite store's schema: numbered migrations, each applied once, in order, in one transaction.

Kept apart from the code that reads and writes the tables so that the history of the schema reads as one
list, and so that a test can build a store exactly as an older release left it (``MIGRATIONS[:n]``).
"""

from __future__ import annotations

import hashlib
import re
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass

import orjson

from truceline.ledger.log import ensure_schema
from truceline.store.tracks import create_track_tables


class StoreError(RuntimeError):
    """The database cannot be used as asked (newer schema, corrupt file, bad cursor)."""


@dataclass(frozen=True)
class Migration:
    """One schema step; applied once, in order, inside a transaction, recorded in ``schema_migrations``."""

    version: int
    description: str
    apply: Callable[[sqlite3.Connection], None]


def execute_ddl(conn: sqlite3.Connection, script: str) -> None:
    """Run DDL statements one by one: ``executescript`` would commit the migration's transaction."""
    for statement in script.split(";"):
        if statement.strip():
            conn.execute(statement)


def _v1_observations(conn: sqlite3.Connection) -> None:
    execute_ddl(
        conn,
        """
        CREATE TABLE observations (
            seq          INTEGER PRIMARY KEY,
            id           TEXT    NOT NULL UNIQUE,
            t_us         INTEGER NOT NULL,
            time_unc_s   REAL    NOT NULL,
            kind         TEXT    NOT NULL,
            loc_type     TEXT    NOT NULL,
            lat          REAL,
            lon          REAL,
            sigma_m      REAL,
            cell         INTEGER,
            source_id    TEXT    NOT NULL,
            source_type  TEXT    NOT NULL,
            org          TEXT    NOT NULL,
            reliability  TEXT    NOT NULL,
            credibility  INTEGER NOT NULL,
            doc_sha256   BLOB    NOT NULL,
            received_us  INTEGER NOT NULL,
            ledger_index INTEGER,
            doc          TEXT    NOT NULL
        );
        CREATE INDEX observations_time ON observations (t_us, seq);
        CREATE INDEX observations_cell ON observations (cell) WHERE cell IS NOT NULL;
        CREATE TABLE observation_labels (
            label TEXT    NOT NULL,
            seq   INTEGER NOT NULL REFERENCES observations (seq) ON DELETE CASCADE,
            PRIMARY KEY (label, seq)
        ) WITHOUT ROWID;
        CREATE TABLE api_keys (
            key_id      TEXT PRIMARY KEY,
            secret_hash BLOB NOT NULL UNIQUE,
            org         TEXT NOT NULL,
            role        TEXT NOT NULL,
            label       TEXT NOT NULL DEFAULT '',
            created_us  INTEGER NOT NULL,
            revoked_us  INTEGER
        );
        """
    )


def _v2_organisations(conn: sqlite3.Connection) -> None:
    execute_ddl(
        conn,
        """
        CREATE TABLE organisations (
            code       TEXT PRIMARY KEY,
            name       TEXT NOT NULL DEFAULT '',
            created_us INTEGER NOT NULL
        );
        CREATE TABLE group_members (
            group_code TEXT NOT NULL,
            org_code   TEXT NOT NULL REFERENCES organisations (code) ON DELETE CASCADE,
            PRIMARY KEY (group_code, org_code)
        ) WITHOUT ROWID;
        CREATE INDEX group_members_org ON group_members (org_code);
        """,
    )


def _v3_ledger(conn: sqlite3.Connection) -> None:
    ensure_schema(conn)
    conn.execute("ALTER TABLE observations ADD COLUMN ledger_salt BLOB")


def _v4_incidents(conn: sqlite3.Connection) -> None:
    execute_ddl(
        conn,
        """
        CREATE TABLE incidents (
            id         TEXT PRIMARY KEY,
            t_us       INTEGER NOT NULL,
            kind       TEXT    NOT NULL,
            status     TEXT    NOT NULL,
            lat        REAL    NOT NULL,
            lon        REAL    NOT NULL,
            cell       INTEGER NOT NULL,
            finalised  INTEGER NOT NULL DEFAULT 0,
            updated_us INTEGER NOT NULL,
            doc        TEXT    NOT NULL
        );
        CREATE INDEX incidents_time ON incidents (t_us, id);
        CREATE INDEX incidents_cell ON incidents (cell);
        CREATE TABLE incident_members (
            incident_id TEXT    NOT NULL REFERENCES incidents (id) ON DELETE CASCADE,
            obs_seq     INTEGER NOT NULL REFERENCES observations (seq),
            PRIMARY KEY (incident_id, obs_seq)
        ) WITHOUT ROWID;
        CREATE INDEX incident_members_obs ON incident_members (obs_seq);
        CREATE TABLE fusion_state (
            key   TEXT PRIMARY KEY,
            value INTEGER NOT NULL
        );
        """,
    )


def _v5_agreements(conn: sqlite3.Connection) -> None:
    execute_ddl(
        conn,
        """
        CREATE TABLE agreement_versions (
            seq          INTEGER PRIMARY KEY,
            agreement_id TEXT    NOT NULL,
            version      INTEGER NOT NULL,
            digest       TEXT    NOT NULL,
            loaded_us    INTEGER NOT NULL,
            loaded_by    TEXT    NOT NULL,
            ledger_index INTEGER NOT NULL,
            doc          TEXT    NOT NULL,
            UNIQUE (agreement_id, version)
        );
        """,
    )


def _v6_reviews(conn: sqlite3.Connection) -> None:
    execute_ddl(
        conn,
        """
        CREATE TABLE incident_reviews (
            seq          INTEGER PRIMARY KEY,
            incident_id  TEXT    NOT NULL,
            decision     TEXT    NOT NULL CHECK (decision IN ('verify', 'dismiss', 'reopen')),
            reason       TEXT    NOT NULL,
            key_id       TEXT    NOT NULL,
            org          TEXT    NOT NULL,
            at_us        INTEGER NOT NULL,
            ledger_index INTEGER NOT NULL,
            ledger_salt  BLOB    NOT NULL
        );
        CREATE INDEX incident_reviews_incident ON incident_reviews (incident_id, seq);
        """,
    )


def _v7_ids_per_organisation(conn: sqlite3.Connection) -> None:
    """An observation's identity becomes (organisation, id): rebuild the table without ``UNIQUE (id)``.

    SQLite cannot drop a constraint, so the table is copied (sequence numbers, ledger indexes and salts kept
    as they are: labels, incident members and the outbox refer to ``seq``) and renamed; the caller runs
    this with foreign-key enforcement off and checks the references before committing.
    """
    execute_ddl(
        conn,
        """
        CREATE TABLE observations_v7 (
            seq          INTEGER PRIMARY KEY,
            id           TEXT    NOT NULL,
            t_us         INTEGER NOT NULL,
            time_unc_s   REAL    NOT NULL,
            kind         TEXT    NOT NULL,
            loc_type     TEXT    NOT NULL,
            lat          REAL,
            lon          REAL,
            sigma_m      REAL,
            cell         INTEGER,
            source_id    TEXT    NOT NULL,
            source_type  TEXT    NOT NULL,
            org          TEXT    NOT NULL,
            reliability  TEXT    NOT NULL,
            credibility  INTEGER NOT NULL,
            doc_sha256   BLOB    NOT NULL,
            received_us  INTEGER NOT NULL,
            ledger_index INTEGER,
            doc          TEXT    NOT NULL,
            ledger_salt  BLOB,
            UNIQUE (org, id)
        );
        INSERT INTO observations_v7 (seq, id, t_us, time_unc_s, kind, loc_type, lat, lon, sigma_m, cell, source_id,
            source_type, org, reliability, credibility, doc_sha256, received_us, ledger_index, doc, ledger_salt)
        SELECT seq, id, t_us, time_unc_s, kind, loc_type, lat, lon, sigma_m, cell, source_id,
            source_type, org, reliability, credibility, doc_sha256, received_us, ledger_index, doc, ledger_salt
        FROM observations;
        DROP TABLE observations;
        ALTER TABLE observations_v7 RENAME TO observations;
        CREATE INDEX observations_time ON observations (t_us, seq);
        CREATE INDEX observations_cell ON observations (cell) WHERE cell IS NOT NULL;
        CREATE INDEX observations_id ON observations (id);
        CREATE TABLE incident_aliases (
            old_id TEXT PRIMARY KEY,
            new_id TEXT NOT NULL
        );
        CREATE INDEX incident_aliases_new ON incident_aliases (new_id)
        """,
    )
    _qualify_incidents(conn)


_FUSION_ID = re.compile(r"^(?P<prefix>.*?)(?P<digest>[0-9a-f]{16})(?P<suffix>-[0-9]+)?$")


def _qualify_incidents(conn: sqlite3.Connection) -> None:
    """Incidents name each observation's organisation beside its id from now on (``observation_orgs``); add
    it to the stored ones (ids were still unique here, so each plain id has exactly one organisation).

    Fusion derives an incident's id from its founding observation, now from ``ORG/id``: an open incident
    rebuilt after the upgrade gets a new id. Its review decisions keep the id their ledger leaves commit
    to; ``incident_aliases`` maps the old id to the new one so they stay attached.
    """
    org_of = dict(conn.execute("SELECT id, org FROM observations").fetchall())
    rows = conn.execute("SELECT id, doc, finalised FROM incidents").fetchall()
    for incident_id, doc, finalised in rows:
        document = orjson.loads(doc)
        plain = [str(i) for i in document.get("observation_ids", [])]
        if all(i in org_of for i in plain):
            document["observation_orgs"] = [org_of[i] for i in plain]
        conn.execute("UPDATE incidents SET doc = ? WHERE id = ?", (orjson.dumps(document).decode(), incident_id))
        shape = _FUSION_ID.match(incident_id)
        if finalised or shape is None:
            continue
        for oid in plain:  # the founder is the member whose plain id hashes to the incident id
            if oid in org_of and hashlib.blake2b(oid.encode(), digest_size=8).hexdigest() == shape["digest"]:
                digest = hashlib.blake2b(f"{org_of[oid]}/{oid}".encode(), digest_size=8).hexdigest()
                new_id = f"{shape['prefix']}{digest}{shape['suffix'] or ''}"
                conn.execute("INSERT OR IGNORE INTO incident_aliases VALUES (?, ?)", (incident_id, new_id))
                break


def _v8_revocations(conn: sqlite3.Connection) -> None:
    """Revocations with a reason (each a ledger leaf), and which key posted each observation."""
    execute_ddl(
        conn,
        """
        CREATE TABLE key_revocations (
            seq          INTEGER PRIMARY KEY,
            key_id       TEXT    NOT NULL REFERENCES api_keys (key_id),
            reason       TEXT    NOT NULL CHECK (reason IN ('retired', 'compromised')),
            since_us     INTEGER,
            at_us        INTEGER NOT NULL,
            by_key       TEXT    NOT NULL,
            ledger_index INTEGER NOT NULL,
            ledger_salt  BLOB    NOT NULL
        );
        CREATE INDEX key_revocations_key ON key_revocations (key_id, seq);
        ALTER TABLE observations ADD COLUMN posted_by TEXT
        """,
    )


MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "observations with grid and time indexes, releasability labels, API keys", _v1_observations),
    Migration(2, "organisations and group membership", _v2_organisations),
    Migration(3, "evidence ledger tables; per-observation commitment salt", _v3_ledger),
    Migration(4, "incidents, their supporting observations, fusion progress", _v4_incidents),
    Migration(5, "agreement versions, each one a ledger leaf", _v5_agreements),
    Migration(6, "analysts' review decisions, each one a ledger leaf", _v6_reviews),
    Migration(
        7,
        "observation identity is (organisation, id); incidents name observations ORG/id; aliases for renamed open incidents",
        _v7_ids_per_organisation,
    ),
    Migration(8, "key revocations as retired or compromised, each a ledger leaf; the key that posted each observation", _v8_revocations),
    Migration(9, "aircraft and vessel tracks, one ledger leaf per track-minute of raw messages", create_track_tables),
)

