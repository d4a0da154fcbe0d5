"""Ledger benchmark: append throughput next to raw SHA-256 of the same leaves, proof cost, bundle cost, memory.

Run ``python bench/ledger.py [--leaves N]`` (default 1,000,000). Prints one line per figure. Every side of every
comparison runs in the same process on the same leaves, batch by batch, so machine noise hits them alike.
The baseline is the fastest plain-Python way to hash the leaves: ``[sha256(d).digest() for d in batch]``; beside
it, the RFC 6962 hashing alone (C and hashlib) and the storing floor (plain executemany of the same leaves and
hashes, same pragmas, commit per batch). The file run has the server's durability: WAL, ``synchronous=FULL``.
"""

from __future__ import annotations

import argparse
import random
import resource
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from hashlib import sha256
from pathlib import Path
from typing import TypeVar

try:
    import truceline  # noqa: F401
except ImportError:  # running from a checkout without installing
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from truceline.ledger import batch_hash
from truceline.ledger.bundle import export_bundle
from truceline.ledger.bundle_verify import verify_bundle
from truceline.ledger.canonical import leaf_bytes, parse_leaf
from truceline.ledger.checkpoint import Checkpoint, generate_key
from truceline.ledger.log import MerkleLog, ensure_schema
from truceline.ledger.merkle import HASH_SIZE, verify_consistency, verify_inclusion

T = TypeVar("T")
R = TypeVar("R")


def _template() -> bytes:
    """A realistic leaf: the canonical envelope of the design's minimal native observation, id left open."""
    body = {
        "id": "ua-ac17-@@@@@@@@@",
        "time": "2023-04-02T03:15:00Z",
        "kind": "explosion",
        "location": {"lat": 48.105, "lon": 37.712, "cep_m": 150},
        "source": {"id": "ua-acoustic-17", "type": "acoustic", "org": "UA"},
        "reliability": "B",
        "credibility": 2,
        "releasable_to": ["COALITION"],
    }
    return leaf_bytes("observation", body).replace(b"@@@@@@@@@", b"%09d")


def _batches(n: int, size: int) -> list[tuple[int, int]]:
    return [(start, min(start + size, n)) for start in range(0, n, size)]


def _tree_c(leaves: list[bytes]) -> bytes:
    """Leaf hashes and every interior hash of one batch's tree, each level one C call (the extension)."""
    level = batch_hash.leaf_run(b"".join(leaves), batch_hash.ends_of(leaves))
    while len(level) > HASH_SIZE:
        parents = batch_hash.node_run(level)
        level = parents + level[-HASH_SIZE:] if len(level) // HASH_SIZE & 1 else parents
    return level


def _tree_hashlib(leaves: list[bytes]) -> bytes:
    """The same hashes with hashlib, one call per hash (the fastest plain-Python spelling of each level)."""
    level = [sha256(b"\x00" + d).digest() for d in leaves]
    while len(level) > 1:
        parents = [sha256(b"\x01" + left + right).digest() for left, right in zip(level[0::2], level[1::2], strict=False)]
        level = [*parents, level[-1]] if len(level) & 1 else parents
    return level[0]


def _floor_schema(conn: sqlite3.Connection) -> None:
    conn.execute("CREATE TABLE plain (i INTEGER PRIMARY KEY, leaf BLOB NOT NULL, hash BLOB NOT NULL)")
    conn.execute("CREATE TABLE packed (first INTEGER PRIMARY KEY, leaves BLOB NOT NULL, hashes BLOB NOT NULL)")
    conn.execute("CREATE TABLE tick (first INTEGER PRIMARY KEY)")
    conn.commit()


def _append_run(
    conn: sqlite3.Connection,
    floor: sqlite3.Connection,
    n: int,
    batch: int,
    template: bytes,
    clock: Callable[[], float] = time.perf_counter,
) -> dict[str, float]:
    """Append n leaves in batches, committing each; return seconds per contender, all on the same batches:

    ``raw`` sha256 of each leaf (the goal's baseline); ``ours`` MerkleLog.append_many + commit; ``tree_c`` and
    ``tree_hashlib`` the RFC 6962 hashing alone (leaf and interior hashes of the batch, in memory, no storage);
    ``floor`` the plainest storing append: executemany of one row per leaf holding its bytes and its sha256
    (computed in ``raw``), into ``floor``'s connection with the same pragmas, commit per batch, no tree at all;
    ``packed`` the same bytes as one row per batch (one INSERT, one commit): what storing them durably costs
    at the least, whatever the layout; ``commit`` a commit of one tiny row per batch: the durability alone.
    ``clock`` is wall time where a disk is waited for, else the process's CPU time (nothing is waited for,
    and CPU time leaves out the moments the scheduler gives the core to other work).
    """
    log = MerkleLog()
    spent = dict.fromkeys(("raw", "ours", "tree_c", "tree_hashlib", "floor", "packed", "commit"), 0.0)
    for start, end in _batches(n, batch):
        leaves = [template % i for i in range(start, end)]
        t0 = clock()
        digests = [sha256(d).digest() for d in leaves]
        t1 = clock()
        log.append_many(conn, leaves)
        conn.commit()
        t2 = clock()
        _tree_c(leaves)
        t3 = clock()
        _tree_hashlib(leaves)
        t4 = clock()
        floor.executemany("INSERT INTO plain (i, leaf, hash) VALUES (?, ?, ?)", zip(range(start, end), leaves, digests, strict=True))
        floor.commit()
        t5 = clock()
        floor.execute("INSERT INTO packed (first, leaves, hashes) VALUES (?, ?, ?)", (start, b"".join(leaves), b"".join(digests)))
        floor.commit()
        t6 = clock()
        floor.execute("INSERT INTO tick (first) VALUES (?)", (start,))
        floor.commit()
        t7 = clock()
        for key, seconds in zip(spent, (t1 - t0, t2 - t1, t3 - t2, t4 - t3, t5 - t4, t6 - t5, t7 - t6), strict=True):
            spent[key] += seconds
    return spent


def _print_run(name: str, n: int, spent: dict[str, float], pragmas: str) -> None:
    """One run's lines: every figure as leaves/s and as a share of raw sha256 of the same leaves, same run."""
    raw = spent["raw"]

    def line(what: str, key: str, goal: str = "") -> None:
        print(f"{what}: {n / spent[key]:,.0f} leaves/s = {raw / spent[key]:.1%} of raw sha256{goal}")

    print(f"raw sha256 of the same leaves ({name} run): {n / raw:,.0f} leaves/s")
    line(f"RFC 6962 hashing alone, C extension ({batch_hash.BACKEND} backend in use)", "tree_c")
    line("RFC 6962 hashing alone, hashlib (one call per hash)", "tree_hashlib")
    line(f"storing floor, plain executemany of each leaf and its sha256 ({pragmas}, commit per batch)", "floor")
    line(f"storing floor, the same bytes as one row per batch ({pragmas}, commit per batch)", "packed")
    if name != "in-memory":  # without a disk a commit costs nothing worth a line
        line(f"storing floor, a commit of one tiny row per batch, no leaves ({pragmas})", "commit")
    line(f"MerkleLog append, {name} SQLite ({pragmas}, commit per batch)", "ours", " (goal >= 50%)")


def _mean_us(samples: list[float]) -> float:
    return statistics.fmean(samples) * 1e6


def _time_each(items: Sequence[T], fn: Callable[[T], R]) -> tuple[list[float], list[R]]:
    """Time ``fn`` on each item separately, so the mean is per call."""
    clock = time.perf_counter
    times: list[float] = []
    out: list[R] = []
    for item in items:
        t0 = clock()
        result = fn(item)
        times.append(clock() - t0)
        out.append(result)
    return times, out


def _file_db(path: Path) -> sqlite3.Connection:
    """A database file with the server's durability (store/sqlite_base.py): WAL, synchronous=FULL, so every
    commit is on disk before it returns, as a 201 is."""
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    return conn


def _rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leaves", type=int, default=1_000_000, help="leaves to append (default 1,000,000)")
    parser.add_argument("--batch", type=int, default=1000, help="leaves per append_many call (default 1000)")
    parser.add_argument("--samples", type=int, default=1000, help="proofs to generate and verify (default 1000)")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    n, rng, template = args.leaves, random.Random(args.seed), _template()
    if n < 2:
        parser.error("--leaves must be at least 2")
    print(f"leaves: {n} canonical observation envelopes of {len(template % 0)} bytes, batches of {args.batch}")

    with tempfile.TemporaryDirectory() as tmp:
        conn, floor = (_file_db(Path(tmp) / name) for name in ("ledger.db", "floor.db"))
        ensure_schema(conn)
        conn.commit()
        _floor_schema(floor)
        _print_run("temp-file", n, _append_run(conn, floor, n, args.batch, template), "WAL, synchronous=FULL")
        floor.close()
        pages = conn.execute("PRAGMA page_count").fetchone()[0] * conn.execute("PRAGMA page_size").fetchone()[0]
        print(f"database size: {pages / n:.0f} bytes per leaf (leaf {len(template % 0)} bytes)")
        print(f"peak resident memory after the temp-file run: {_rss_mib():.0f} MiB")

        log = MerkleLog()
        pairs = [(rng.randrange(s), s) for s in (rng.randint(1, n) for _ in range(args.samples))]
        pairs[0] = (rng.randrange(n), n)
        roots = {s: log.root(conn, s) for _, s in pairs}
        times, proofs = _time_each(pairs, lambda p: log.inclusion_proof(conn, p[0], p[1]))
        print(f"inclusion proof generation (up to {n} leaves): {_mean_us(times):.0f} µs mean over {len(pairs)}, "
              f"{statistics.fmean(map(len, proofs)):.1f} hashes each")
        hashes = {i: log.leaf_hash(conn, i) for i, _ in pairs}
        times, _ = _time_each(
            [(i, s, p) for (i, s), p in zip(pairs, proofs, strict=True)],
            lambda t: verify_inclusion(hashes[t[0]], t[0], t[1], t[2], roots[t[1]]),
        )
        print(f"inclusion proof verification: {_mean_us(times):.1f} µs mean")
        spans = [tuple(sorted((rng.randint(1, n), rng.randint(1, n)))) for _ in range(args.samples)]
        roots.update({s: log.root(conn, s) for span in spans for s in span if s not in roots})
        times, proofs = _time_each(spans, lambda sp: log.consistency_proof(conn, sp[0], sp[1]))
        print(f"consistency proof generation: {_mean_us(times):.0f} µs mean, "
              f"{statistics.fmean(map(len, proofs)):.1f} hashes each")
        times, _ = _time_each(
            [(a, b, p) for (a, b), p in zip(spans, proofs, strict=True)],
            lambda t: verify_consistency(t[0], t[1], t[2], roots[t[0]], roots[t[1]]),
        )
        print(f"consistency proof verification: {_mean_us(times):.1f} µs mean")
        sizes = [rng.randint(1, n) for _ in range(args.samples)]
        times, _ = _time_each(sizes, lambda s: log.root(conn, s))
        print(f"root at a past size: {_mean_us(times):.0f} µs mean")

        key = generate_key("truceline.example/bench")
        checkpoints = [key.sign(Checkpoint(key.name, s, log.root(conn, s))) for s in sorted({n // 4, n // 2, n})]
        bundle = Path(tmp) / "bundle.tar"
        t0 = time.perf_counter()
        export_bundle(conn, bundle, key.verifier_key(), checkpoints)
        t1 = time.perf_counter()
        print(f"bundle export: {n / (t1 - t0):,.0f} leaves/s ({bundle.stat().st_size / 2**20:.0f} MiB)")
        report = verify_bundle(bundle, check_leaf_format=False)
        t2 = time.perf_counter()
        if not report.ok:
            print(f"bundle verification FAILED: {report.first_problem}")
            return 1
        print(f"bundle verify, tree and signatures: {n / (t2 - t1):,.0f} leaves/s")
        sample = list(log.leaves(conn, 0, min(n, 20_000)))
        times, _ = _time_each(sample, parse_leaf)
        print(f"leaf format check (canonical envelope, verify's default): {_mean_us(times):.1f} µs per leaf")
        conn.close()

    mem, floor = sqlite3.connect(":memory:"), sqlite3.connect(":memory:")
    ensure_schema(mem)
    _floor_schema(floor)
    _print_run("in-memory", n, _append_run(mem, floor, n, args.batch, template, time.process_time), "no disk, CPU time")
    floor.close()
    print(f"peak resident memory after the in-memory run (includes its database and the two floors' databases): {_rss_mib():.0f} MiB")
    mem.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
