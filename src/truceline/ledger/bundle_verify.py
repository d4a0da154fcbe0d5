"""Offline verification of an evidence bundle (see :mod:`truceline.ledger.bundle` for the format), with nothing else.

Only the signed checkpoints are trusted. The verifier recomputes the RFC 6962 tree from the leaf *bytes*,
checks every signature and that each checkpoint's root is the tree at its size (which alone proves that each
checkpoint extends the one before), and also checks an explicit RFC 9162 consistency proof between consecutive
checkpoints, rebuilt from the leaves while streaming them (O(log n) memory).

The index and hash recorded with each leaf are *not* trusted; they exist to locate damage. A flipped byte,
a swapped or a dropped record shows up as a mismatch at the exact leaf, while a forger who also rewrites the
recorded hashes and indexes is still caught by the first checkpoint covering the change. Bytes outside the
members (tar headers, padding) must be exactly what the exporter writes, so no single changed byte anywhere
in the file goes unnoticed.
"""

from __future__ import annotations

import base64
import hashlib
import tarfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from . import merkle
from .bundle import _CHECKPOINTS, _DIR, _KEY, _LEAVES, _MANIFEST, _RECORD, _checkpoint_member, _manifest, _tarinfo
from .canonical import CanonicalError, parse_canonical, parse_leaf
from .checkpoint import CheckpointError, Verifier, parse_checkpoint, verify_checkpoint

__all__ = [
    "BundleReport",
    "CheckpointResult",
    "Problem",
    "verify_bundle",
]

_BATCH = 4096
_MAX_SMALL_MEMBER = 64 * 1024 * 1024
_MAX_LEAF_PROBLEMS = 1000

Place = Literal["bundle", "key", "leaf", "checkpoint", "manifest"]


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a bundle: where (a leaf index, a checkpoint's tree size, or a part of the file)."""

    place: Place
    index: int | None
    reason: str
    member: str | None = None

    def __str__(self) -> str:
        if self.place == "leaf":
            where = f"leaf {self.index}"
        elif self.place == "checkpoint":
            where = f"checkpoint at size {self.index}" if self.index is not None else f"checkpoint {self.member}"
        else:
            where = self.place
        return f"{where}: {self.reason}"

    def to_dict(self) -> dict[str, Any]:
        return {"place": self.place, "index": self.index, "reason": self.reason, "member": self.member}


@dataclass
class CheckpointResult:
    """What was established about one checkpoint file (``None``: could not be checked)."""

    member: str
    size: int | None = None
    root: bytes | None = None
    signature_ok: bool = False
    root_ok: bool | None = None
    consistency_ok: bool | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "member": self.member,
            "size": self.size,
            "root": base64.b64encode(self.root).decode("ascii") if self.root is not None else None,
            "signature_ok": self.signature_ok,
            "root_ok": self.root_ok,
            "consistency_ok": self.consistency_ok,
        }


@dataclass
class BundleReport:
    """Outcome of ``verify_bundle``. ``problems`` is ordered so that the first one is the one to fix first:
    unreadable file or key, then leaves and checkpoints in log order, then manifest and layout."""

    path: str
    origin: str | None = None
    verifier_key: str | None = None
    key_trusted: bool = False
    leaf_count: int = 0
    checkpoints: list[CheckpointResult] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    omitted_problems: int = 0

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def first_problem(self) -> Problem | None:
        return self.problems[0] if self.problems else None

    @property
    def verified_size(self) -> int:
        """Largest tree size whose signed root matched the leaves (0 when none did)."""
        return max((c.size or 0 for c in self.checkpoints if c.signature_ok and c.root_ok), default=0)

    def to_dict(self) -> dict[str, Any]:
        first = self.first_problem
        return {
            "ok": self.ok,
            "path": self.path,
            "origin": self.origin,
            "verifier_key": self.verifier_key,
            "key_trusted": self.key_trusted,
            "leaf_count": self.leaf_count,
            "verified_size": self.verified_size,
            "checkpoints": [c.to_dict() for c in self.checkpoints],
            "first_problem": first.to_dict() if first else None,
            "problems": [p.to_dict() for p in self.problems],
            "omitted_problems": self.omitted_problems,
        }


class _Verification:
    """State of one ``verify_bundle`` run; methods run in the order of the docstring of ``verify_bundle``."""

    def __init__(self, path: Path, trusted_key: str | None, check_leaf_format: bool) -> None:
        self.path = path
        self.report = BundleReport(str(path))
        self.trusted_key = trusted_key
        self.check_leaf_format = check_leaf_format
        self._problems: list[tuple[int, int, int, Problem]] = []
        self._leaf_problems = 0
        self.members: dict[str, tarfile.TarInfo] = {}
        self.order: list[tarfile.TarInfo] = []
        self.verifier: Verifier | None = None
        self.key_text: str | None = None
        self.leaves_sha: str | None = None
        self.leaves_bytes = 0
        self.checkpoint_sha: dict[str, str] = {}

    # -- problems ---------------------------------------------------------------------------------------------
    def problem(self, problem: Problem, *, layout: bool = False) -> None:
        if layout or problem.place == "manifest":
            group, pos = 2, 0
        elif problem.place in ("bundle", "key"):
            group, pos = 0, 0
        elif problem.place == "leaf":
            group, pos = 1, 2 * (problem.index or 0) + 1
            self._leaf_problems += 1
            if self._leaf_problems > _MAX_LEAF_PROBLEMS:
                self.report.omitted_problems += 1
                return
        else:
            group, pos = 1, 2 * problem.index if problem.index is not None else -1
        self._problems.append((group, pos, len(self._problems), problem))

    def finish(self) -> BundleReport:
        self.report.problems = [p for *_, p in sorted(self._problems, key=lambda t: t[:3])]
        return self.report

    # -- reading ----------------------------------------------------------------------------------------------
    def read_member(self, tar: tarfile.TarFile, name: str) -> bytes | None:
        info = self.members.get(name)
        if info is None:
            return None
        if info.size > _MAX_SMALL_MEMBER:
            self.problem(Problem("bundle", None, f"{name} is {info.size} bytes, implausibly large", name))
            return None
        fh = tar.extractfile(info)
        assert fh is not None  # regular files only, checked in open_members
        return fh.read()

    def open_members(self, tar: tarfile.TarFile) -> bool:
        try:
            while (info := tar.next()) is not None:
                self.order.append(info)
        except tarfile.TarError as exc:
            self.problem(Problem("bundle", None, f"tar structure is damaged after {len(self.order)} members: {exc}"))
        for info in self.order:
            if not info.isreg():
                self.problem(Problem("bundle", None, f"{info.name} is not a regular file", info.name))
            elif info.name in self.members:
                self.problem(Problem("bundle", None, f"{info.name} appears twice", info.name))
            else:
                self.members[info.name] = info
        end = self.order[-1].offset_data + self.order[-1].size if self.order else 0
        end = -(-end // tarfile.BLOCKSIZE) * tarfile.BLOCKSIZE
        with open(self.path, "rb") as fh:
            fh.seek(end)
            damaged = bool(fh.read(tarfile.BLOCKSIZE).strip(b"\0"))
        why = f"the tar header at byte {end} is damaged" if damaged else f"the archive ends at byte {end}"
        ok = True
        for required in (_MANIFEST, _KEY, _LEAVES):
            if required not in self.members:
                self.problem(Problem("bundle", None, f"{required} is missing: {why}", required))
                ok = False
        return ok

    def load_key(self, tar: tarfile.TarFile) -> None:
        raw = self.read_member(tar, _KEY)
        bundle_key: Verifier | None = None
        if raw is not None:
            try:
                text = raw.decode("ascii")
                if not text.endswith("\n") or text.count("\n") != 1:
                    raise CheckpointError("verifier.key must hold one line ending in a newline")
                self.key_text = text[:-1]
                bundle_key = Verifier.from_string(self.key_text)
            except (UnicodeDecodeError, CheckpointError) as exc:
                self.problem(Problem("key", None, f"bundle's verifier key is unusable: {exc}", _KEY))
        if self.trusted_key is not None:
            trusted = Verifier.from_string(self.trusted_key)
            if bundle_key is not None and bundle_key != trusted:
                self.problem(Problem("key", None, f"bundle's key {bundle_key} is not the trusted key {trusted}", _KEY))
            self.verifier, self.report.key_trusted = trusted, True
        else:
            self.verifier = bundle_key
        self.report.verifier_key = str(self.verifier) if self.verifier else None

    def load_checkpoints(self, tar: tarfile.TarFile, manifest_sizes: dict[str, int]) -> None:
        names = sorted(n for n in self.members if n.startswith(_CHECKPOINTS))
        if not names:
            self.problem(Problem("bundle", None, "bundle holds no checkpoint, so nothing in it is authenticated"))
        previous = -1
        for name in names:
            result = CheckpointResult(name)
            self.report.checkpoints.append(result)
            raw = self.read_member(tar, name)
            if raw is None:
                continue
            self.checkpoint_sha[name] = hashlib.sha256(raw).hexdigest()
            listed = manifest_sizes.get(name[len(_DIR) :])
            try:
                text = raw.decode("utf-8")
                parsed = parse_checkpoint(text)
            except (UnicodeDecodeError, CheckpointError) as exc:
                reason = f"{name} is not a checkpoint note: {exc}"
                self.problem(Problem("checkpoint", listed, reason, name))
                continue
            result.size, result.root = parsed.size, parsed.root
            if parsed.size < previous:
                self.problem(Problem("checkpoint", parsed.size, f"comes after a checkpoint at size {previous}", name))
            previous = max(previous, parsed.size)
            if self.verifier is None:
                continue
            try:
                verify_checkpoint(text, self.verifier)
            except CheckpointError as exc:
                extra = f" (the manifest lists this file at size {listed})" if listed not in (None, parsed.size) else ""
                self.problem(Problem("checkpoint", parsed.size, f"{exc}{extra}", name))
                continue
            if self.report.origin is None:
                self.report.origin = parsed.origin
            elif parsed.origin != self.report.origin:
                reason = f"origin {parsed.origin!r} differs from the bundle's {self.report.origin!r}"
                self.problem(Problem("checkpoint", parsed.size, reason, name))
                continue
            result.signature_ok = True
        if names and self.verifier is not None and not any(c.signature_ok for c in self.report.checkpoints):
            self.problem(Problem("bundle", None, "no checkpoint carries a valid signature by the verifier key"))

    # -- leaves -----------------------------------------------------------------------------------------------
    def check_leaves(self, tar: tarfile.TarFile) -> None:
        info = self.members[_LEAVES]
        fh = tar.extractfile(info)
        assert fh is not None
        good = sorted((c for c in self.report.checkpoints if c.signature_ok), key=lambda c: c.size or 0)
        walk = _TreeWalk(good, self)
        digest, remaining, index = hashlib.sha256(), info.size, 0
        batch: list[tuple[int, bytes, bytes]] = []
        broken = False
        while remaining:
            if remaining < _RECORD.size:
                self.problem(Problem("leaf", index, f"record header cut short: {remaining} bytes left", _LEAVES))
                digest.update(fh.read(remaining))
                broken = True
                break
            header = fh.read(_RECORD.size)
            digest.update(header)
            remaining -= _RECORD.size
            claimed, length, recorded = _RECORD.unpack(header)
            if length > remaining:
                reason = f"record length {length} runs past the end of leaves.bin ({remaining} bytes left)"
                self.problem(Problem("leaf", index, reason, _LEAVES))
                digest.update(fh.read(remaining))
                broken = True
                break
            data = fh.read(length)
            digest.update(data)
            remaining -= length
            if claimed != index:
                self.problem(Problem("leaf", index, f"record claims index {claimed}: a leaf is missing, extra "
                                     "or out of order here", _LEAVES))
            batch.append((index, data, recorded))
            index += 1
            if len(batch) >= _BATCH:
                self._leaf_batch(batch, walk)
                batch = []
        if batch:
            self._leaf_batch(batch, walk)
        self.leaves_sha, self.leaves_bytes = digest.hexdigest(), info.size
        self.report.leaf_count = index
        walk.finish(index, broken)

    def _leaf_batch(self, batch: list[tuple[int, bytes, bytes]], walk: _TreeWalk) -> None:
        hashes = merkle.leaf_hashes([data for _, data, _ in batch])
        for (index, data, recorded), actual in zip(batch, hashes, strict=False):
            if actual != recorded:
                self.problem(Problem("leaf", index, f"its bytes hash to {actual.hex()} but the bundle records "
                                     f"{recorded.hex()}: the leaf or its recorded hash was altered", _LEAVES))
            elif self.check_leaf_format:
                try:
                    parse_leaf(data)
                except CanonicalError as exc:
                    self.problem(Problem("leaf", index, f"not a canonical truceline leaf: {exc}", _LEAVES))
        walk.feed(hashes)

    # -- manifest and layout ----------------------------------------------------------------------------------
    def read_manifest(self, tar: tarfile.TarFile) -> dict[str, Any] | None:
        raw = self.read_member(tar, _MANIFEST)
        if raw is None:
            return None
        try:
            value = parse_canonical(raw)
        except CanonicalError as exc:
            self.problem(Problem("manifest", None, f"not canonical JSON: {exc}", _MANIFEST))
            return None
        if not isinstance(value, dict):
            self.problem(Problem("manifest", None, "is not a JSON object", _MANIFEST))
            return None
        return value

    def check_manifest(self, manifest: dict[str, Any] | None) -> None:
        if manifest is None or self.leaves_sha is None:
            return
        entries = []
        for k, result in enumerate(self.report.checkpoints):
            name = _checkpoint_member(k)
            sha = self.checkpoint_sha.get(result.member)
            entries.append({"file": name[len(_DIR) :], "sha256": sha, "size": result.size})
        expected = _manifest(
            self.report.origin or manifest.get("origin"),  # type: ignore[arg-type]
            self.key_text or "",
            self.report.leaf_count,
            self.leaves_sha,
            self.leaves_bytes,
            entries,
        )
        where = _first_difference(manifest, expected, "")
        if where is not None:
            path, got, want = where
            self.problem(Problem("manifest", None, f"{path or 'manifest'} is {got!r} but the bundle's content "
                                 f"gives {want!r}", _MANIFEST))

    def check_layout(self) -> None:
        """Every byte outside member contents must be what ``export_bundle`` writes: names, order, headers,
        zero padding and the zero end-of-archive blocks."""
        expected_names = [_MANIFEST, _KEY]
        expected_names += [_checkpoint_member(k) for k in range(sum(n.startswith(_CHECKPOINTS) for n in self.members))]
        expected_names.append(_LEAVES)
        names = [info.name for info in self.order]
        if names != expected_names:
            self.problem(Problem("bundle", None, f"members are {names}, expected {expected_names}"), layout=True)
            return
        with open(self.path, "rb") as fh:
            pos = 0
            for info in self.order:
                if info.offset != pos:
                    reason = f"unexpected bytes before {info.name} at byte {pos}"
                    self.problem(Problem("bundle", None, reason), layout=True)
                    return
                fh.seek(info.offset)
                header = fh.read(tarfile.BLOCKSIZE)
                if header != _tarinfo(info.name, info.size).tobuf(tarfile.USTAR_FORMAT, "utf-8", "surrogateescape"):
                    self.problem(Problem("bundle", None, f"tar header of {info.name} at byte {info.offset} differs "
                                         "from the exporter's", info.name), layout=True)
                end = info.offset_data + info.size
                padded = -(-end // tarfile.BLOCKSIZE) * tarfile.BLOCKSIZE
                fh.seek(end)
                if fh.read(padded - end).strip(b"\0"):
                    self.problem(Problem("bundle", None, f"padding after {info.name} (bytes {end}..{padded}) is "
                                         "not zero", info.name), layout=True)
                pos = padded
            total = -(-(pos + 2 * tarfile.BLOCKSIZE) // tarfile.RECORDSIZE) * tarfile.RECORDSIZE
            fh.seek(pos)
            tail = fh.read()
            if len(tail) != total - pos:
                reason = f"file is {pos + len(tail)} bytes, the layout needs {total}"
                self.problem(Problem("bundle", None, reason), layout=True)
            elif tail.strip(b"\0"):
                at = pos + next(i for i, b in enumerate(tail) if b)
                self.problem(Problem("bundle", None, f"end-of-archive bytes are not zero (byte {at})"), layout=True)


class _TreeWalk:
    """Rebuilds the tree while leaf hashes stream in; checks roots and consistency at each checkpoint size."""

    def __init__(self, checkpoints: list[CheckpointResult], run: _Verification) -> None:
        self.run = run
        self.compact = merkle.CompactRange()
        self.targets: dict[int, list[CheckpointResult]] = {}
        for cp in checkpoints:
            self.targets.setdefault(cp.size or 0, []).append(cp)
        self.sizes = sorted(self.targets)
        self.next = 0  # index into self.sizes of the next size to reach
        self.previous: tuple[int, bytes] | None = None  # (size, signed root) of the last good checkpoint size
        self.left: dict[tuple[int, int], bytes] = {}
        self.right: list[tuple[int, int, merkle.CompactRange]] = []
        self.ranges: list[tuple[int, int]] = []
        self._arrive()

    def _arrive(self) -> None:
        """Handle every checkpoint size equal to the current tree size."""
        while self.next < len(self.sizes) and self.sizes[self.next] == self.compact.size:
            size = self.sizes[self.next]
            self.next += 1
            root = self.compact.root()
            matched: bytes | None = None
            for cp in self.targets[size]:
                cp.root_ok = cp.root == root
                if not cp.root_ok:
                    since = self.previous[0] if self.previous else 0
                    self.run.problem(Problem(
                        "checkpoint", size, f"signed root {cp.root.hex() if cp.root else None} is not the root "
                        f"{root.hex()} of the bundle's first {size} leaves: a leaf in [{since}, {size}) was "
                        "altered, reordered, added or dropped", cp.member))
                else:
                    matched = root
            if matched is not None:
                self._check_consistency(size, matched)
                self._prepare(size, matched)
            else:
                # The proof accumulators were set up for this size; without a trusted root here the next
                # checkpoint is only checked against its own root (which already implies consistency).
                self.previous = None
                self.left, self.right, self.ranges = {}, [], []

    def _check_consistency(self, size: int, root: bytes) -> None:
        if self.previous is None or self.previous[0] == 0:
            for cp in self.targets[size]:
                cp.consistency_ok = None if self.previous is None else cp.root_ok
            return
        size1, root1 = self.previous
        proof = []
        for start, end in self.ranges:
            if end <= size1:
                proof.append(self.left[(start, end)])
            else:
                proof.append(next(acc.root() for s, e, acc in self.right if (s, e) == (start, end)))
        try:
            merkle.verify_consistency(size1, size, proof, root1, root)
            ok = True
        except merkle.ProofError as exc:
            ok = False
            self.run.problem(Problem("checkpoint", size, f"consistency proof from size {size1} fails: {exc}"))
        for cp in self.targets[size]:
            if cp.root_ok:
                cp.consistency_ok = ok

    def _prepare(self, size: int, root: bytes) -> None:
        """Remember this size and set up accumulators for the proof to the next checkpoint size."""
        self.previous = (size, root)
        self.left, self.right, self.ranges = {}, [], []
        if size == 0 or self.next >= len(self.sizes):
            return
        self.ranges = merkle.consistency_ranges(size, self.sizes[self.next])
        for (level, index), h in zip(self.compact.coords(), self.compact.hashes(), strict=False):
            self.left[(index << level, (index + 1) << level)] = h
        self.right = [(s, e, merkle.CompactRange()) for s, e in self.ranges if s >= size]

    def feed(self, hashes: list[bytes]) -> None:
        pos = 0
        while pos < len(hashes):
            limit = len(hashes)
            if self.next < len(self.sizes):
                limit = min(limit, pos + self.sizes[self.next] - self.compact.size)
            chunk = hashes[pos:limit]
            begin = self.compact.size
            for s, e, acc in self.right:
                lo, hi = max(s, begin), min(e, begin + len(chunk))
                if lo < hi:
                    acc.extend(chunk[lo - begin : hi - begin])
            self.compact.extend(chunk)
            pos = limit
            self._arrive()

    def finish(self, count: int, broken: bool) -> None:
        for size in self.sizes[self.next :]:
            for cp in self.targets[size]:
                if broken:
                    continue  # the leaf problem that stopped the walk already explains it
                self.run.problem(Problem("checkpoint", size, f"covers {size} leaves but the bundle holds only {count}",
                                         cp.member))
        top = self.sizes[-1] if self.sizes else 0
        if not broken and count > top and self.sizes:
            self.run.problem(Problem("leaf", top, f"leaves {top}..{count - 1} are not covered by any signed "
                                     "checkpoint", _LEAVES))


def _first_difference(got: Any, want: Any, path: str) -> tuple[str, Any, Any] | None:
    if isinstance(got, dict) and isinstance(want, dict):
        for key in sorted(set(got) | set(want)):
            if key not in got or key not in want:
                return f"{path}.{key}".lstrip("."), got.get(key), want.get(key)
            found = _first_difference(got[key], want[key], f"{path}.{key}")
            if found:
                return found[0].lstrip("."), found[1], found[2]
        return None
    if isinstance(got, list) and isinstance(want, list):
        for i, (a, b) in enumerate(zip(got, want, strict=False)):
            found = _first_difference(a, b, f"{path}[{i}]")
            if found:
                return found
        if len(got) != len(want):
            return f"{path} length".lstrip("."), len(got), len(want)
        return None
    return None if got == want and type(got) is type(want) else (path.lstrip("."), got, want)


def verify_bundle(
    path: Path | str, *, trusted_key: str | None = None, check_leaf_format: bool = True
) -> BundleReport:
    """Verify a bundle offline: tar structure, key, checkpoint signatures, leaves and tree, manifest, layout.

    ``trusted_key`` is the verifier key the auditor obtained independently (e.g. from the coalition's website);
    without it the bundle's own key is used, which proves integrity but not who signed. With
    ``check_leaf_format`` every leaf must also be a canonical truceline leaf envelope.
    Never raises for a bad bundle; a malformed ``trusted_key`` raises ``CheckpointError``.
    """
    if trusted_key is not None:
        Verifier.from_string(trusted_key)
    run = _Verification(Path(path), trusted_key, check_leaf_format)
    try:
        tar = tarfile.open(path, mode="r:")  # noqa: SIM115 - entered by `with tar:` below; only opening errors are caught here
    except (OSError, tarfile.TarError) as exc:
        run.problem(Problem("bundle", None, f"cannot open as an uncompressed tar archive: {exc}"))
        return run.finish()
    with tar:
        complete = run.open_members(tar)
        manifest = run.read_manifest(tar)
        sizes: dict[str, int] = {}
        if manifest is not None and isinstance(manifest.get("checkpoints"), list):
            for entry in manifest["checkpoints"]:
                if isinstance(entry, dict) and isinstance(entry.get("file"), str) and isinstance(entry.get("size"), int):
                    sizes[entry["file"]] = entry["size"]
        if _KEY in run.members:
            run.load_key(tar)
        run.load_checkpoints(tar, sizes)
        if complete:
            run.check_leaves(tar)
            run.check_manifest(manifest)
    run.check_layout()
    return run.finish()
