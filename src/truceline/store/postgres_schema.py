"""The PostgreSQL store's schema: numbered migrations, applied once, in order, under one advisory lock.

Several replicas may start at once on an empty database: each runs :func:`migrate`, which takes
``pg_advisory_xact_lock`` first, so exactly one applies the migrations and the others then find them
recorded in ``schema_migrations`` and apply nothing. DDL is transactional in PostgreSQL, so a migration
that fails leaves nothing behind.

Differences from the SQLite schema, each for a reason:
- ``observations`` is range-partitioned by event time (``t_us``, one partition per month, created on demand
  by :func:`ensure_partitions`, plus a default partition): old months can be detached or moved to cheaper
  storage, and time filters touch only their months. PostgreSQL cannot enforce a unique key on a partitioned
  table without the partition key, so the identity (organisation, id) lives in ``observation_ids``.
- ``geom`` columns (PostGIS ``geometry(Point, 4326)``, generated from lat/lon) with GiST indexes serve
  bounding-box searches, where SQLite uses the grid cells of :mod:`~truceline.store.grid`.
- ``ledger_index`` is NULL until the single sequencer appends the row's leaf (``ledger_queue``), so that
  several API replicas never race for the Merkle log; reviews, revocations and agreement versions too.
  Fusion reads observations in ledger order through ``ledger_positions`` (ledger index → seq, appended by
  the sequencer), so the observation rows need no index on ``ledger_index`` and its update stays HOT.
- ``cluster_leases`` is created here as well as by :mod:`truceline.cluster.lease`, so that the sequencer's
  fence can lock its row whichever starts first.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from truceline.store.postgres_conn import PgConnection
from truceline.store.sqlite_schema import StoreError
from truceline.store.timecodes import _us

_log = logging.getLogger(__name__)

#: ``pg_advisory_xact_lock`` keys: schema changes, partition creation, the ledger's single writer.
MIGRATION_LOCK = 0x7472_7563_0001
PARTITION_LOCK = 0x7472_7563_0002
LEDGER_LOCK = 0x7472_7563_0003
#: Free space left in each observation page so that the sequencer's ``SET ledger_index`` is a HOT update (a new
#: row version on the same page, no index touched: ``ledger_index`` is deliberately not indexed there).
FILLFACTOR = 70

_V1 = """
CREATE EXTENSION IF NOT EXISTS postgis;
CREATE SEQUENCE observations_seq AS BIGINT;
CREATE TABLE observations (
    seq          BIGINT  NOT NULL,
    id           TEXT    NOT NULL,
    t_us         BIGINT  NOT NULL,
    time_unc_s   DOUBLE PRECISION NOT NULL,
    kind         TEXT    NOT NULL,
    loc_type     TEXT    NOT NULL,
    lat          DOUBLE PRECISION,
    lon          DOUBLE PRECISION,
    sigma_m      DOUBLE PRECISION,
    cell         BIGINT,
    source_id    TEXT    NOT NULL,
    source_type  TEXT    NOT NULL,
    org          TEXT    NOT NULL,
    reliability  TEXT    NOT NULL,
    credibility  INTEGER NOT NULL,
    doc_sha256   BYTEA   NOT NULL,
    received_us  BIGINT  NOT NULL,
    ledger_index BIGINT,
    doc          TEXT    NOT NULL,
    ledger_salt  BYTEA,
    posted_by    TEXT,
    geom geometry(Point, 4326) GENERATED ALWAYS AS (
        CASE WHEN lat IS NULL OR lon IS NULL THEN NULL ELSE ST_SetSRID(ST_MakePoint(lon, lat), 4326) END) STORED,
    PRIMARY KEY (t_us, seq)
) PARTITION BY RANGE (t_us);
CREATE TABLE observations_default PARTITION OF observations DEFAULT WITH (fillfactor = 70);  -- FILLFACTOR
CREATE INDEX observations_seq_idx ON observations (seq);
CREATE TABLE ledger_positions (
    ledger_index BIGINT PRIMARY KEY,
    seq          BIGINT NOT NULL
);
CREATE INDEX observations_id ON observations (id);
CREATE INDEX observations_geom ON observations USING gist (geom);
CREATE TABLE observation_ids (
    org        TEXT   NOT NULL,
    id         TEXT   NOT NULL,
    seq        BIGINT NOT NULL UNIQUE,
    doc_sha256 BYTEA  NOT NULL,
    PRIMARY KEY (org, id)
);
CREATE INDEX observation_ids_id ON observation_ids (id);
CREATE TABLE observation_labels (
    label TEXT   NOT NULL,
    seq   BIGINT NOT NULL,
    PRIMARY KEY (label, seq)
);
CREATE INDEX observation_labels_seq ON observation_labels (seq);
CREATE TABLE organisations (
    code       TEXT PRIMARY KEY,
    name       TEXT NOT NULL DEFAULT '',
    created_us BIGINT NOT NULL
);
CREATE TABLE group_members (
    group_code TEXT NOT NULL,
    org_code   TEXT NOT NULL REFERENCES organisations (code) ON DELETE CASCADE,
    PRIMARY KEY (group_code, org_code)
);
CREATE INDEX group_members_org ON group_members (org_code);
CREATE TABLE api_keys (
    key_id      TEXT PRIMARY KEY,
    secret_hash BYTEA NOT NULL UNIQUE,
    org         TEXT NOT NULL,
    role        TEXT NOT NULL,
    label       TEXT NOT NULL DEFAULT '',
    created_us  BIGINT NOT NULL,
    revoked_us  BIGINT
);
CREATE TABLE key_revocations (
    seq          BIGSERIAL PRIMARY KEY,
    key_id       TEXT    NOT NULL REFERENCES api_keys (key_id),
    reason       TEXT    NOT NULL CHECK (reason IN ('retired', 'compromised')),
    since_us     BIGINT,
    at_us        BIGINT  NOT NULL,
    by_key       TEXT    NOT NULL,
    ledger_index BIGINT,
    ledger_salt  BYTEA   NOT NULL
);
CREATE INDEX key_revocations_key ON key_revocations (key_id, seq);
CREATE TABLE ledger_leaves (
    first BIGINT PRIMARY KEY,
    ends  BYTEA NOT NULL,
    data  BYTEA NOT NULL
);
CREATE TABLE ledger_nodes (
    level  INTEGER NOT NULL,
    first  BIGINT  NOT NULL,
    hashes BYTEA   NOT NULL,
    PRIMARY KEY (level, first)
);
CREATE TABLE ledger_checkpoints (
    id         BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    size       BIGINT NOT NULL,
    root       BYTEA  NOT NULL,
    note       TEXT   NOT NULL UNIQUE,
    created_at TEXT   NOT NULL
);
CREATE INDEX ledger_checkpoints_size ON ledger_checkpoints (size);
CREATE TABLE ledger_queue (
    qseq BIGSERIAL PRIMARY KEY,
    kind TEXT   NOT NULL CHECK (kind IN ('observation', 'review', 'revocation', 'agreement')),
    ref  BIGINT NOT NULL,
    leaf BYTEA  NOT NULL
);
CREATE TABLE ledger_public_key (
    one      BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK (one),
    verifier TEXT NOT NULL
);
CREATE TABLE incidents (
    id         TEXT PRIMARY KEY,
    t_us       BIGINT  NOT NULL,
    kind       TEXT    NOT NULL,
    status     TEXT    NOT NULL,
    lat        DOUBLE PRECISION NOT NULL,
    lon        DOUBLE PRECISION NOT NULL,
    cell       BIGINT  NOT NULL,
    finalised  INTEGER NOT NULL DEFAULT 0,
    updated_us BIGINT  NOT NULL,
    doc        TEXT    NOT NULL,
    sector     TEXT,
    geom geometry(Point, 4326) GENERATED ALWAYS AS (ST_SetSRID(ST_MakePoint(lon, lat), 4326)) STORED
);
CREATE INDEX incidents_time ON incidents (t_us, id);
CREATE INDEX incidents_geom ON incidents USING gist (geom);
CREATE INDEX incidents_open_sector ON incidents (sector) WHERE finalised = 0;
CREATE TABLE incident_members (
    incident_id TEXT   NOT NULL REFERENCES incidents (id) ON DELETE CASCADE,
    obs_seq     BIGINT NOT NULL,
    PRIMARY KEY (incident_id, obs_seq)
);
CREATE INDEX incident_members_obs ON incident_members (obs_seq);
CREATE TABLE fusion_state (
    key   TEXT PRIMARY KEY,
    value BIGINT NOT NULL
);
CREATE TABLE incident_aliases (
    old_id TEXT PRIMARY KEY,
    new_id TEXT NOT NULL
);
CREATE INDEX incident_aliases_new ON incident_aliases (new_id);
CREATE TABLE agreement_versions (
    seq          BIGSERIAL PRIMARY KEY,
    agreement_id TEXT    NOT NULL,
    version      INTEGER NOT NULL,
    digest       TEXT    NOT NULL,
    loaded_us    BIGINT  NOT NULL,
    loaded_by    TEXT    NOT NULL,
    ledger_index BIGINT,
    doc          TEXT    NOT NULL,
    UNIQUE (agreement_id, version)
);
CREATE TABLE incident_reviews (
    seq          BIGSERIAL PRIMARY KEY,
    incident_id  TEXT    NOT NULL,
    decision     TEXT    NOT NULL CHECK (decision IN ('verify', 'dismiss', 'reopen')),
    reason       TEXT    NOT NULL,
    key_id       TEXT    NOT NULL,
    org          TEXT    NOT NULL,
    at_us        BIGINT  NOT NULL,
    ledger_index BIGINT,
    ledger_salt  BYTEA   NOT NULL
);
CREATE INDEX incident_reviews_incident ON incident_reviews (incident_id, seq);
CREATE TABLE IF NOT EXISTS cluster_leases (
    name       TEXT PRIMARY KEY,
    holder     TEXT NOT NULL,
    term       BIGINT NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL
)
"""

_V2 = """
ALTER TABLE ledger_queue DROP CONSTRAINT ledger_queue_kind_check;
ALTER TABLE ledger_queue ADD CONSTRAINT ledger_queue_kind_check
    CHECK (kind IN ('observation', 'review', 'revocation', 'agreement', 'track_minute'));
CREATE TABLE track_points (
    seq BIGSERIAL PRIMARY KEY, track_id TEXT NOT NULL, t_us BIGINT NOT NULL,
    lat DOUBLE PRECISION, lon DOUBLE PRECISION, alt_m DOUBLE PRECISION, alt_ref TEXT, speed_mps DOUBLE PRECISION,
    course_deg DOUBLE PRECISION, callsign TEXT, squawk TEXT, extra TEXT NOT NULL, raw TEXT NOT NULL, source TEXT NOT NULL,
    minute_id BIGINT NOT NULL, UNIQUE (track_id, t_us, raw));
CREATE INDEX track_points_time ON track_points (track_id, t_us);
CREATE INDEX track_points_t ON track_points (t_us);
CREATE TABLE tracks (
    track_id TEXT PRIMARY KEY, kind TEXT NOT NULL, ident TEXT NOT NULL,
    first_us BIGINT NOT NULL, last_us BIGINT NOT NULL, pos_us BIGINT, lat DOUBLE PRECISION, lon DOUBLE PRECISION,
    alt_m DOUBLE PRECISION, speed_mps DOUBLE PRECISION, course_deg DOUBLE PRECISION, callsign TEXT,
    messages BIGINT NOT NULL, positions BIGINT NOT NULL, info TEXT NOT NULL);
CREATE INDEX tracks_last ON tracks (kind, last_us);
CREATE TABLE track_minutes (
    id BIGINT PRIMARY KEY, track_id TEXT NOT NULL, minute_us BIGINT NOT NULL,
    ledger_index BIGINT, salt BYTEA NOT NULL, doc TEXT NOT NULL, received_us BIGINT NOT NULL);
CREATE INDEX track_minutes_track ON track_minutes (track_id, minute_us);
CREATE TABLE track_findings (
    id TEXT PRIMARY KEY, category TEXT NOT NULL, type TEXT NOT NULL, track_id TEXT NOT NULL,
    t_us BIGINT NOT NULL, lat DOUBLE PRECISION NOT NULL, lon DOUBLE PRECISION NOT NULL, party TEXT, rule_id TEXT,
    agreement_digest TEXT NOT NULL, doc TEXT NOT NULL);
CREATE INDEX track_findings_time ON track_findings (category, t_us)
"""

#: (version, description, DDL); append only, never edit an applied step.
MIGRATIONS: tuple[tuple[int, str, str], ...] = (
    (
        1,
        "observations partitioned by time with PostGIS points, identities, labels, keys, organisations, revocations,"
        " evidence ledger with its sequencing queue, incidents per sector, reviews, agreement versions, leases",
        _V1,
    ),
    (2, "aircraft and vessel tracks; track-minute leaves queued for the sequencer like the others", _V2),
)


def migrate(conn: PgConnection) -> int:
    """Apply the missing migrations inside the caller's transaction; return the schema version.

    Takes the migration advisory lock first: concurrent first starts wait for each other, and only the first
    one finds anything to do.
    """
    conn.execute("SELECT pg_advisory_xact_lock(?)", (MIGRATION_LOCK,))
    conn.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, description TEXT NOT NULL,"
        " applied_us BIGINT NOT NULL)"
    )
    current = int(conn.execute("SELECT coalesce(max(version), 0) FROM schema_migrations").fetchone()[0])
    known = MIGRATIONS[-1][0]
    if current > known:
        raise StoreError(f"the database has schema version {current}, newer than this truceline understands ({known}); upgrade truceline")
    now = _us(datetime.now(UTC))
    for version, description, ddl in MIGRATIONS:
        if version > current:
            for statement in ddl.split(";"):
                if statement.strip():
                    conn.execute(statement)
            conn.execute("INSERT INTO schema_migrations VALUES (?, ?, ?)", (version, description, now))
            _log.info("PostgreSQL store migrated to schema version %d", version)
    return known



def month_bounds(t_us: int) -> tuple[str, int, int]:
    """The monthly partition holding ``t_us``: its name and [start, end) in microseconds."""
    moment = datetime.fromtimestamp(t_us / 1e6, UTC)
    start = datetime(moment.year, moment.month, 1, tzinfo=UTC)
    end = datetime(moment.year + moment.month // 12, moment.month % 12 + 1, 1, tzinfo=UTC)
    return f"observations_y{start.year:04d}m{start.month:02d}", _us(start), _us(end)


def ensure_partition(conn: PgConnection, t_us: int) -> str | None:
    """Create the month partition for ``t_us`` if missing (in the caller's transaction, under a lock).

    Returns the partition's name, or None if the month's rows already sit in the default partition (then
    they stay there: moving them is an operator's job, ``ALTER TABLE ... DETACH``/``ATTACH``).
    """
    name, start, end = month_bounds(t_us)
    conn.execute("SELECT pg_advisory_xact_lock(?)", (PARTITION_LOCK,))
    if conn.execute("SELECT 1 FROM pg_class WHERE relname = ? AND relkind = 'r'", (name,)).fetchone():
        return name
    in_default = conn.execute(
        "SELECT 1 FROM observations_default WHERE t_us >= ? AND t_us < ? LIMIT 1", (start, end)
    ).fetchone()
    if in_default:
        return None
    conn.execute(f"CREATE TABLE {name} PARTITION OF observations FOR VALUES FROM ({start}) TO ({end}) WITH (fillfactor = {FILLFACTOR})")
    return name
