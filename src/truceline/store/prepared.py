"""An observation made ready for the store outside the write lock: its row, content hash and ledger leaf.

Preparation is the expensive part of storing (canonical JSON, hashing, commitment, the leaf's RFC 6962
hash); it holds only plain values in a tuple, so the API's parser pool can do it in another process, the
result crosses the process boundary as plain pickled tuples (no per-object Python hooks), and the writer
only assigns numbers and hashes the tree's interior nodes.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from itertools import repeat
from typing import Any, NamedTuple, overload

import orjson

from truceline.domain.observation import Observation
from truceline.domain.observation_fast import collector_paused
from truceline.domain.validated import ValidatedObservation
from truceline.ledger.commitment import SALT_BYTES, canonical_observation, commit_canonical, observation_leaf, observation_leaf_parts
from truceline.store.grid import grid_cell
from truceline.store.timecodes import _from_us, _iso, _us


class PreparedObservation(NamedTuple):
    """Everything about one observation that can be computed before taking the write lock (and in another
    process: it holds only plain values, and as a tuple it pickles and unpickles without Python code)."""

    id: str
    owner_org: str
    labels: tuple[str, ...]
    columns: tuple[object, ...]  # the row without seq and ledger index
    doc_sha256: bytes
    salt: bytes
    leaf: bytes
    leaf_hash: bytes  # RFC 6962 hash of ``leaf`` (sha256(0x00 || leaf)), so the writer does not hash it again

    def __reduce__(self) -> tuple[object, tuple[object, ...]]:
        """Unpickle with C-level ``tuple.__new__`` (a NamedTuple's own ``__new__`` is Python code: on the
        writer's side of the parser pool that was 4x the cost of reading the values themselves)."""
        return tuple.__new__, (PreparedObservation, tuple(self))

    @property
    def document(self) -> str:
        """The canonical JSON document."""
        return str(self.columns[-1])

    def row(self, seq: int, ledger_index: int) -> tuple[object, ...]:
        """The full ``observations`` row."""
        return (seq, *self.columns, ledger_index, self.salt)


_sha256 = hashlib.sha256


def prepare_observation(obs: Observation, received_us: int, received_iso: str, salt: bytes | None = None) -> PreparedObservation:
    """Row values, content hash and ledger leaf of one observation (shared with the ingest benchmark).

    The stored document is the observation's RFC 8785 canonical JSON, the very bytes its ledger
    commitment covers, so a reader can check the commitment against what the API serves. ``salt`` is the
    commitment's fresh randomness (drawn here when not given).
    """
    canonical = canonical_observation(obs)
    digest = _sha256(canonical).digest()
    if salt is None:
        salt = os.urandom(SALT_BYTES)
    leaf = observation_leaf(commit_canonical(salt, canonical), received_iso)
    point = obs.point
    source = obs.source
    columns = (
        obs.id,
        _us(obs.time),
        obs.time_sd_s,  # the query column holds what fusion uses: as stated, or as assumed
        obs.kind._value_,  # the enums' plain values (``.value`` is a slow descriptor, and this runs per row)
        obs.location.type,
        point[0] if point else None,
        point[1] if point else None,
        obs.sigma_m,
        grid_cell(point[0], point[1]) if point else None,
        source.id,
        source.type._value_,
        source.org,
        obs.reliability._value_,
        int(obs.credibility),
        digest,
        received_us,
        canonical.decode(),
    )
    leaf_hash = _sha256(b"\x00" + leaf).digest()
    return PreparedObservation(str(obs.id), source.org, tuple(obs.releasable_to), columns, digest, salt, leaf, leaf_hash)


def prepare_batch(observations: Sequence[Observation], received_at: datetime) -> list[PreparedObservation]:
    """:func:`prepare_observation` for a batch received at one moment.

    The salts come from one ``os.urandom`` call for the whole batch (one system call, not one per
    observation), cut into independent 16-byte pieces: the same randomness per commitment.
    """
    received_us = _us(received_at)
    received_iso = _iso(_from_us(received_us))
    pool = os.urandom(SALT_BYTES * len(observations))
    return [
        prepare_observation(obs, received_us, received_iso, pool[i * SALT_BYTES : (i + 1) * SALT_BYTES])
        for i, obs in enumerate(observations)
    ]


def prepare_validated_batch(items: Sequence[ValidatedObservation], received_at: datetime) -> list[PreparedObservation]:
    """:func:`prepare_batch` for observations validated as columns: the same row, hash, salt and leaf.

    The canonical document comes with the item (the decoder wrote it without a model object); everything
    else is computed as :func:`prepare_observation` does.
    """
    with collector_paused():  # tuples and bytes per row, no cycles: the collector's passes would only cost
        return _prepare_validated(items, received_at)


def _prepare_validated(items: Sequence[ValidatedObservation], received_at: datetime) -> list[PreparedObservation]:
    received_us = _us(received_at)
    received_iso = _iso(_from_us(received_us))
    pool = os.urandom(SALT_BYTES * len(items))
    out: list[PreparedObservation] = []
    times: dict[datetime, int] = {}  # a file's rows share few distinct times
    for i, item in enumerate(items):
        canonical = item.canonical
        digest = _sha256(canonical).digest()
        salt = pool[i * SALT_BYTES : (i + 1) * SALT_BYTES]
        leaf = observation_leaf(commit_canonical(salt, canonical), received_iso)
        lat, lon = item.lat, item.lon
        t_us = times.get(item.time)
        if t_us is None:
            t_us = times[item.time] = _us(item.time)
        columns = (
            item.id,
            t_us,
            item.time_sd_s,
            item.kind,
            item.loc_type,
            lat,
            lon,
            item.sigma_m,
            grid_cell(lat, lon),
            item.source_id,
            item.source_type,
            item.org,
            item.reliability,
            item.credibility,
            digest,
            received_us,
            canonical.decode(),
        )
        out.append(PreparedObservation(item.id, item.org, item.releasable_to, columns, digest, salt, leaf, _sha256(b"\x00" + leaf).digest()))
    return out


_COLUMN_COUNT = 17  # len(PreparedObservation.columns)


class PreparedColumns(Sequence[PreparedObservation]):
    """A batch of prepared observations held column by column: what a parser process hands the server.

    Why: as a list of row tuples a batch pickles with one Python ``__reduce__`` call per observation and
    unpickles into ~3 tuples per observation; as one list per field it pickles with C fast paths only, and
    the SQLite store builds its INSERT rows with ``zip`` (:meth:`insert_rows`), no Python code per row,
    inside the write lock. The parser also writes the batch's (organisation, id) keys as JSON for the
    store's existing-id lookup and says whether any key repeats. To every other consumer (the PostgreSQL
    store, insert hooks, announcements) it is still a sequence of :class:`PreparedObservation`, the same
    values in the same order.
    """

    __slots__ = ("ids", "owner_orgs", "columns", "doc_sha256s", "salts", "leaves", "leaf_hashes", "label_values", "label_rows", "keys_json", "unique", "_rows")

    def __init__(self, items: Sequence[PreparedObservation]) -> None:
        n = len(items)
        ids, orgs, labels, rows, digests, salts, leaves, hashes = (list(c) for c in zip(*items, strict=True)) if n else ([] for _ in range(8))
        columns = tuple(list(c) for c in zip(*rows, strict=True)) if n else tuple([] for _ in range(_COLUMN_COUNT))
        self._fill(ids, orgs, labels, columns, digests, salts, leaves, hashes)

    @classmethod
    def from_columns(
        cls,
        ids: list[str],
        owner_orgs: list[str],
        labels: list[tuple[str, ...]],
        columns: tuple[list[object], ...],
        doc_sha256s: list[bytes],
        salts: list[bytes],
        leaves: list[bytes],
        leaf_hashes: list[bytes],
    ) -> PreparedColumns:
        """A batch from its lists, each in :class:`PreparedObservation`'s field order (``columns``: one list per
        row column), as :meth:`__init__` would hold the same observations given one by one."""
        lists: tuple[list[Any], ...] = (owner_orgs, labels, doc_sha256s, salts, leaves, leaf_hashes, *columns)
        if len(columns) != _COLUMN_COUNT or any(len(c) != len(ids) for c in lists):
            raise ValueError(f"a prepared batch needs {_COLUMN_COUNT} row columns and every list of the same length")
        batch = cls.__new__(cls)
        batch._fill(ids, owner_orgs, labels, columns, doc_sha256s, salts, leaves, leaf_hashes)
        return batch

    def _fill(
        self,
        ids: list[str],
        orgs: list[str],
        labels: list[tuple[str, ...]],
        columns: tuple[list[object], ...],
        digests: list[bytes],
        salts: list[bytes],
        leaves: list[bytes],
        hashes: list[bytes],
    ) -> None:
        n = len(ids)
        self.ids: list[str] = ids
        self.owner_orgs: list[str] = orgs
        self.columns: tuple[list[object], ...] = columns
        self.doc_sha256s: list[bytes] = digests
        self.salts: list[bytes] = salts
        self.leaves: list[bytes] = leaves
        self.leaf_hashes: list[bytes] = hashes
        self.label_values: list[str] = [label for group in labels for label in group]
        self.label_rows: list[int] = [row for row, group in enumerate(labels) for _ in group]  # the row of each label
        keys = list(zip(orgs, ids, strict=True))
        self.keys_json: str = orjson.dumps(keys).decode()
        self.unique: bool = len(set(keys)) == n
        self._rows: list[PreparedObservation] | None = None

    def insert_rows(self, first_seq: int, first_leaf: int, posted_by: str | None) -> Iterator[tuple[object, ...]]:
        """The ``INSERT_POSTED_SQL`` rows when every observation is new: numbered from ``first_seq``, leaves from
        ``first_leaf`` (what the row-by-row path writes for a batch without duplicates)."""
        n = len(self.ids)
        return zip(range(first_seq, first_seq + n), *self.columns, range(first_leaf, first_leaf + n), self.salts, repeat(posted_by, n), strict=True)

    def label_pairs(self, first_seq: int) -> Iterator[tuple[str, int]]:
        """The ``INSERT_LABEL_SQL`` rows (label, seq) when every observation is new, numbered from ``first_seq``."""
        return zip(self.label_values, map(first_seq.__add__, self.label_rows), strict=True)

    def _labels(self) -> list[tuple[str, ...]]:
        grouped: list[list[str]] = [[] for _ in self.ids]
        for label, row in zip(self.label_values, self.label_rows, strict=True):
            grouped[row].append(label)
        return [tuple(group) for group in grouped]

    def __len__(self) -> int:
        return len(self.ids)

    def _materialised(self) -> list[PreparedObservation]:
        """The rows, made once on first use and kept: every pass yields the same objects, as a list's would
        (the PostgreSQL store tells items apart by identity)."""
        if self._rows is None:
            rows = zip(*self.columns, strict=True) if self.ids else iter(())
            fields = zip(self.ids, self.owner_orgs, self._labels(), rows, self.doc_sha256s, self.salts, self.leaves, self.leaf_hashes, strict=True)
            self._rows = list(map(PreparedObservation._make, fields))
        return self._rows

    def __iter__(self) -> Iterator[PreparedObservation]:
        return iter(self._materialised())

    @overload
    def __getitem__(self, index: int) -> PreparedObservation: ...

    @overload
    def __getitem__(self, index: slice) -> PreparedColumns: ...

    def __getitem__(self, index: int | slice) -> PreparedObservation | PreparedColumns:
        items = self._materialised()
        return PreparedColumns(items[index]) if isinstance(index, slice) else items[index]

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Sequence) and not isinstance(other, str | bytes):
            return list(self) == list(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]  # mutable lists inside, like a list

    def __repr__(self) -> str:
        return f"PreparedColumns({len(self)} observations)"

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        """Pickle the lists themselves (C fast paths), not one object per observation (nor the rows if made)."""
        return _restore_columns, tuple(getattr(self, name) for name in _PICKLED)


_PICKLED = PreparedColumns.__slots__[:-1]  # all but the rows made on demand


def _restore_columns(*state: Any) -> PreparedColumns:
    batch = PreparedColumns.__new__(PreparedColumns)
    for name, value in zip(_PICKLED, state, strict=True):
        object.__setattr__(batch, name, value)
    batch._rows = None
    return batch


def prepare_validated_columns(items: Sequence[ValidatedObservation], received_at: datetime) -> PreparedColumns:
    """:func:`prepare_validated_batch` straight into columns: the same values, without a row tuple per
    observation that :class:`PreparedColumns` would only take apart again (the parser's HTTP hot path)."""
    with collector_paused():
        return _validated_columns(items, received_at)


def _validated_columns(items: Sequence[ValidatedObservation], received_at: datetime) -> PreparedColumns:
    n = len(items)
    received_us = _us(received_at)
    received_iso = _iso(_from_us(received_us))
    pool = os.urandom(SALT_BYTES * n)
    salts = [pool[i : i + SALT_BYTES] for i in range(0, SALT_BYTES * n, SALT_BYTES)]
    canonicals = [item.canonical for item in items]
    digests = [_sha256(canonical).digest() for canonical in canonicals]
    head, tail = observation_leaf_parts(received_iso)  # each leaf is observation_leaf(commit_canonical(salt, canonical), ...)
    leaves = [head + _sha256(salt + canonical).hexdigest().encode() + tail for salt, canonical in zip(salts, canonicals, strict=True)]
    times: dict[datetime, int] = {}  # a batch's rows share few distinct times
    t_us: list[int] = []
    for item in items:
        at = times.get(item.time)
        if at is None:
            at = times[item.time] = _us(item.time)
        t_us.append(at)
    ids = [item.id for item in items]
    orgs = [item.org for item in items]
    lats = [item.lat for item in items]
    lons = [item.lon for item in items]
    columns: tuple[list[Any], ...] = (
        ids,
        t_us,
        [item.time_sd_s for item in items],
        [item.kind for item in items],
        [item.loc_type for item in items],
        lats,
        lons,
        [item.sigma_m for item in items],
        list(map(grid_cell, lats, lons)),
        [item.source_id for item in items],
        [item.source_type for item in items],
        orgs,
        [item.reliability for item in items],
        [item.credibility for item in items],
        digests,
        [received_us] * n,
        [canonical.decode() for canonical in canonicals],
    )
    labels = [item.releasable_to for item in items]
    return PreparedColumns.from_columns(
        ids, orgs, labels, columns, digests, salts, leaves, [_sha256(b"\x00" + leaf).digest() for leaf in leaves]
    )


INSERT_OBSERVATION_SQL = (
    "INSERT INTO observations (seq, id, t_us, time_unc_s, kind, loc_type, lat, lon, sigma_m, cell, source_id,"
    " source_type, org, reliability, credibility, doc_sha256, received_us, doc, ledger_index, ledger_salt)"
    " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)"
)
INSERT_POSTED_SQL = (
    "INSERT INTO observations (seq, id, t_us, time_unc_s, kind, loc_type, lat, lon, sigma_m, cell, source_id,"
    " source_type, org, reliability, credibility, doc_sha256, received_us, doc, ledger_index, ledger_salt, posted_by)"
    " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)"
)
""":data:`INSERT_OBSERVATION_SQL` with the submitting key (``posted_by``) as a 21st value."""
INSERT_LABEL_SQL = "INSERT INTO observation_labels VALUES (?,?)"
#: Called inside the storing transaction with the newly stored observations and their sequence numbers.
InsertHook = Callable[[sqlite3.Connection, list[tuple[int, PreparedObservation]]], None]
