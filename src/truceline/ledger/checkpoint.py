"""Ed25519-signed checkpoints in the C2SP signed-note / tlog-checkpoint format.

Why this format: it is what Certificate Transparency's successors, the Go checksum database and Sigstore speak,
so an outside auditor can check truceline's tree heads with existing tools (``golang.org/x/mod/sumdb/note``)
as well as with ours. A checkpoint note is::

    <origin>\\n<tree size>\\n<base64 root hash>\\n[extension lines\\n]
    \\n
    — <key name> <base64(4-byte key hash || 64-byte Ed25519 signature)>\\n

The signature covers the body (everything before the blank line). The key hash is the first four bytes of
SHA-256(name || "\\n" || 0x01 || public key), so a verifier knows which of its keys a line claims to be from.
Keys travel as strings: ``name+hexhash+base64(0x01||public key)`` to verify, and, in the private key file,
``PRIVATE+KEY+name+hexhash+base64(0x01||seed)`` (the Go ``note`` package's own encoding).
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import os
import re
import secrets
import stat
import tempfile
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat, PublicFormat

from .merkle import HASH_SIZE

__all__ = [
    "KEY_FILE",
    "Checkpoint",
    "CheckpointError",
    "KeyFileError",
    "LedgerKey",
    "NoteSignature",
    "SignedCheckpoint",
    "Verifier",
    "generate_key",
    "key_hash",
    "ensure_ledger_key",
    "existing_ledger_key",
    "load_key",
    "load_or_create_key",
    "parse_checkpoint",
    "parse_note",
    "verify_checkpoint",
]

KEY_FILE = "ledger.key"
"""File name of the private signing key inside the key directory (the data dir)."""

ALG_ED25519 = 0x01
_SIG_PREFIX = "\u2014 "  # em dash and space open every signature line
_MAX_SIGNATURES = 100
_PRIVATE_PREFIX = "PRIVATE+KEY+"
_CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f]")
_DECIMAL = re.compile(r"0|[1-9][0-9]*")


class CheckpointError(ValueError):
    """A note or checkpoint that is malformed or does not verify; the message says where and why."""


class KeyFileError(ValueError):
    """The private key file is unreadable, malformed, inconsistent or too widely readable."""


def _b64decode_canonical(text: str, what: str) -> bytes:
    """Strict base64: valid alphabet and padding, and the canonical spelling of its bytes.

    Canonicality matters: base64 has spare bits, and a signature line that decodes to the same bytes after a
    flipped character would let a tampered file pass unnoticed.
    """
    try:
        raw = base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError) as exc:
        raise CheckpointError(f"{what} is not valid base64: {exc}") from None
    if base64.b64encode(raw).decode("ascii") != text:
        raise CheckpointError(f"{what} is not canonically base64-encoded")
    return raw


def _check_key_name(name: str) -> None:
    if not name or any(c.isspace() for c in name) or "+" in name:
        raise CheckpointError(f"key name {name!r} must be non-empty and contain neither spaces nor '+'")


def key_hash(name: str, public_key: bytes) -> bytes:
    """First 4 bytes of SHA-256(name || "\\n" || 0x01 || public key): the key ID in signatures and key strings."""
    return hashlib.sha256(name.encode("utf-8") + b"\n" + bytes([ALG_ED25519]) + public_key).digest()[:4]


@dataclass(frozen=True)
class Checkpoint:
    """A tree head: which log (origin), how many leaves, and the RFC 6962 root of those leaves."""

    origin: str
    size: int
    root: bytes
    extensions: tuple[str, ...] = ()

    def body(self) -> str:
        """The note body that gets signed; validates first so that nothing malformed is ever signed."""
        if not self.origin or "\n" in self.origin or _CONTROL.search(self.origin):
            raise CheckpointError(f"origin {self.origin!r} must be one non-empty line without control characters")
        if self.size < 0:
            raise CheckpointError(f"tree size {self.size} is negative")
        if len(self.root) != HASH_SIZE:
            raise CheckpointError(f"root hash has {len(self.root)} bytes, want {HASH_SIZE}")
        for ext in self.extensions:
            if not ext or "\n" in ext or _CONTROL.search(ext):
                raise CheckpointError(f"extension line {ext!r} must be one non-empty line")
        lines = [self.origin, str(self.size), base64.b64encode(self.root).decode("ascii"), *self.extensions]
        return "".join(line + "\n" for line in lines)


@dataclass(frozen=True)
class NoteSignature:
    """One signature line: the claimed key name, its 4-byte key hash and the raw signature."""

    name: str
    key_hash: bytes
    signature: bytes

    def line(self) -> str:
        """The signature line as it appears in a note, newline included."""
        blob = base64.b64encode(self.key_hash + self.signature).decode("ascii")
        return f"{_SIG_PREFIX}{self.name} {blob}\n"


@dataclass(frozen=True)
class SignedCheckpoint:
    """A parsed checkpoint note. ``note`` is the exact text; whether it verified depends on how it was made."""

    checkpoint: Checkpoint
    signatures: tuple[NoteSignature, ...]
    note: str

    @property
    def origin(self) -> str:
        return self.checkpoint.origin

    @property
    def size(self) -> int:
        return self.checkpoint.size

    @property
    def root(self) -> bytes:
        return self.checkpoint.root


class Verifier:
    """A public key that checks signatures made under one key name."""

    def __init__(self, name: str, public_key: bytes) -> None:
        _check_key_name(name)
        if len(public_key) != 32:
            raise CheckpointError(f"Ed25519 public key has {len(public_key)} bytes, want 32")
        self.name = name
        self.public_key = public_key
        self.key_hash = key_hash(name, public_key)
        self._key = Ed25519PublicKey.from_public_bytes(public_key)

    @classmethod
    def from_string(cls, text: str) -> Verifier:
        """Parse ``name+hexhash+base64(0x01||key)`` and check that the hash belongs to that name and key."""
        parts = text.strip().split("+", 2)
        if len(parts) != 3:
            raise CheckpointError(f"verifier key {text!r} is not name+hash+key")
        name, hash_hex, blob = parts
        _check_key_name(name)
        if not re.fullmatch(r"[0-9a-f]{8}", hash_hex):
            raise CheckpointError(f"verifier key hash {hash_hex!r} is not 8 lowercase hex digits")
        raw = _b64decode_canonical(blob, "verifier key")
        if len(raw) != 33 or raw[0] != ALG_ED25519:
            raise CheckpointError("verifier key is not an Ed25519 key (0x01 followed by 32 bytes)")
        verifier = cls(name, raw[1:])
        if verifier.key_hash.hex() != hash_hex:
            raise CheckpointError(f"verifier key hash {hash_hex} does not match its name and key")
        return verifier

    def __str__(self) -> str:
        blob = base64.b64encode(bytes([ALG_ED25519]) + self.public_key).decode("ascii")
        return f"{self.name}+{self.key_hash.hex()}+{blob}"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Verifier) and (self.name, self.public_key) == (other.name, other.public_key)

    def __hash__(self) -> int:
        return hash((self.name, self.public_key))

    def verifies(self, message: bytes, signature: bytes) -> bool:
        """True when ``signature`` is this key's Ed25519 signature over ``message``."""
        try:
            self._key.verify(signature, message)
        except InvalidSignature:
            return False
        return True


class LedgerKey:
    """The log's Ed25519 signing key and the name its signatures carry."""

    def __init__(self, name: str, private_key: Ed25519PrivateKey) -> None:
        _check_key_name(name)
        self.name = name
        self._private = private_key
        public = private_key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        self.verifier = Verifier(name, public)

    @classmethod
    def from_string(cls, text: str) -> LedgerKey:
        """Parse ``PRIVATE+KEY+name+hexhash+base64(0x01||seed)``, checking the hash against the derived key."""
        if not text.startswith(_PRIVATE_PREFIX):
            raise KeyFileError("private key does not start with PRIVATE+KEY+")
        parts = text[len(_PRIVATE_PREFIX) :].strip().split("+", 2)
        if len(parts) != 3:
            raise KeyFileError("private key is not PRIVATE+KEY+name+hash+key")
        name, hash_hex, blob = parts
        try:
            raw = _b64decode_canonical(blob, "private key")
            if len(raw) != 33 or raw[0] != ALG_ED25519:
                raise KeyFileError("private key is not an Ed25519 seed (0x01 followed by 32 bytes)")
            key = cls(name, Ed25519PrivateKey.from_private_bytes(raw[1:]))
        except CheckpointError as exc:
            raise KeyFileError(str(exc)) from None
        if key.verifier.key_hash.hex() != hash_hex:
            raise KeyFileError(f"private key hash {hash_hex} does not match its name and key")
        return key

    def to_string(self) -> str:
        """The private key string; keep it secret (the key file has mode 0600)."""
        seed = self._private.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
        blob = base64.b64encode(bytes([ALG_ED25519]) + seed).decode("ascii")
        return f"{_PRIVATE_PREFIX}{self.name}+{self.verifier.key_hash.hex()}+{blob}"

    def verifier_key(self) -> str:
        """The public verifier key string to publish, e.g. ``truceline.example/x+1a2b3c4d+AV...``."""
        return str(self.verifier)

    def sign_note(self, body: str) -> str:
        """Sign a note body (it must end in a newline) and return the full note text."""
        _check_text(body, "note body")
        if not body.endswith("\n") or body.endswith("\n\n"):
            raise CheckpointError("note body must end with exactly one newline")
        sig = NoteSignature(self.name, self.verifier.key_hash, self._private.sign(body.encode("utf-8")))
        return body + "\n" + sig.line()

    def sign(self, checkpoint: Checkpoint) -> SignedCheckpoint:
        """Sign a checkpoint; the result parses back to the same checkpoint."""
        return parse_checkpoint(self.sign_note(checkpoint.body()))


def generate_key(name: str) -> LedgerKey:
    """A fresh random Ed25519 key signing under ``name`` (conventionally the log's origin)."""
    return LedgerKey(name, Ed25519PrivateKey.generate())


def load_key(directory: Path | str) -> LedgerKey:
    """Load ``directory/ledger.key``; refuse it if group or others may read it, as ssh does."""
    path = Path(directory) / KEY_FILE
    try:
        mode = path.stat().st_mode
        text = path.read_text(encoding="ascii")
    except FileNotFoundError:
        raise KeyFileError(f"no ledger key at {path}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise KeyFileError(f"cannot read ledger key {path}: {exc}") from None
    if stat.S_IMODE(mode) & 0o077:
        raise KeyFileError(f"ledger key {path} is readable by others (mode {stat.S_IMODE(mode):o}); chmod 600 it")
    try:
        return LedgerKey.from_string(text)
    except KeyFileError as exc:
        raise KeyFileError(f"{path}: {exc}") from None


def load_or_create_key(directory: Path | str, name: str | None = None) -> LedgerKey:
    """Return the key in ``directory/ledger.key``, creating it (mode 0600) on first use.

    Creation writes a temporary file and hard-links it into place, so two processes starting at once end up
    with one key and a crash never leaves half a key behind. An existing key must sign under ``name``; with
    no ``name``, a new key signs under a fresh origin ``truceline/<12 hex digits>`` and an existing one under
    whatever name it has (so two processes racing to create it both take the winner's, whatever its name).
    """
    directory = Path(directory)
    path = directory / KEY_FILE
    if not path.exists():
        key = generate_key(name if name is not None else f"truceline/{secrets.token_hex(6)}")
        directory.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(dir=directory, prefix=f".{KEY_FILE}.", suffix=".tmp")  # mode 0600
        tmp = Path(tmp_name)
        try:
            with os.fdopen(fd, "w", encoding="ascii") as fh:
                fh.write(key.to_string() + "\n")
                fh.flush()
                os.fsync(fh.fileno())
            with contextlib.suppress(FileExistsError):  # another process won the race; use its key
                os.link(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)
    key = load_key(directory)
    if name is not None and key.name != name:
        raise KeyFileError(f"ledger key {path} signs as {key.name!r}, not {name!r}")
    return key



def ensure_ledger_key(data_dir: Path) -> LedgerKey:
    """The data dir's signing key, created on first use under a fresh origin name (see load_or_create_key)."""
    return load_or_create_key(data_dir)


def existing_ledger_key(data_dir: Path) -> LedgerKey | None:
    """The data dir's signing key if it exists (a cluster replica waits for the sequencer to create it)."""
    return load_key(data_dir) if (data_dir / KEY_FILE).exists() else None

def _check_text(text: str, what: str) -> None:
    if _CONTROL.search(text):
        pos = _CONTROL.search(text).start()  # type: ignore[union-attr]
        raise CheckpointError(f"{what} contains a control character at offset {pos}")


def parse_note(text: str) -> tuple[str, tuple[NoteSignature, ...]]:
    """Split a signed note into its body and signature lines, checking the C2SP signed-note syntax."""
    _check_text(text, "note")
    split = text.rfind("\n\n")
    if split < 0:
        raise CheckpointError("note has no blank line between body and signatures")
    body, block = text[: split + 1], text[split + 2 :]
    if not block or not block.endswith("\n"):
        raise CheckpointError("note signatures must end with a newline")
    lines = block[:-1].split("\n")
    if len(lines) > _MAX_SIGNATURES:
        raise CheckpointError(f"note has {len(lines)} signatures, more than {_MAX_SIGNATURES}")
    sigs = []
    for n, line in enumerate(lines, 1):
        if not line.startswith(_SIG_PREFIX):
            raise CheckpointError(f"signature line {n} does not start with an em dash and a space")
        name, sep, blob = line[len(_SIG_PREFIX) :].partition(" ")
        if not sep or " " in blob:
            raise CheckpointError(f"signature line {n} is not '— name signature'")
        try:
            _check_key_name(name)
        except CheckpointError as exc:
            raise CheckpointError(f"signature line {n}: {exc}") from None
        raw = _b64decode_canonical(blob, f"signature line {n}")
        if len(raw) < 5:
            raise CheckpointError(f"signature line {n} has {len(raw)} bytes, too short for a key hash and signature")
        sigs.append(NoteSignature(name, raw[:4], raw[4:]))
    return body, tuple(sigs)


def _parse_body(body: str) -> Checkpoint:
    lines = body[:-1].split("\n")
    if len(lines) < 3:
        raise CheckpointError(f"checkpoint body has {len(lines)} lines; it needs origin, size and root hash")
    origin, size_text, root_text, *extensions = lines
    if not origin:
        raise CheckpointError("checkpoint origin line is empty")
    if not _DECIMAL.fullmatch(size_text):
        raise CheckpointError(f"checkpoint size {size_text!r} is not a decimal number without leading zeros")
    root = _b64decode_canonical(root_text, "checkpoint root hash")
    if len(root) != HASH_SIZE:
        raise CheckpointError(f"checkpoint root hash has {len(root)} bytes, want {HASH_SIZE}")
    if any(not ext for ext in extensions):
        raise CheckpointError("checkpoint body contains an empty line")
    return Checkpoint(origin, int(size_text), root, tuple(extensions))


def parse_checkpoint(note: str) -> SignedCheckpoint:
    """Parse a checkpoint note *without* checking signatures (use ``verify_checkpoint`` for that)."""
    body, sigs = parse_note(note)
    return SignedCheckpoint(_parse_body(body), sigs, note)


def verify_checkpoint(note: str, verifier: Verifier | str, *, origin: str | None = None) -> SignedCheckpoint:
    """Parse a checkpoint note and require a valid signature by ``verifier`` (and the expected origin).

    Signatures by other keys are ignored, as signed-note requires; a line that claims ``verifier``'s name and
    key hash but does not verify is an error, since it can only be a forgery or damage.
    """
    if isinstance(verifier, str):
        verifier = Verifier.from_string(verifier)
    body, sigs = parse_note(note)
    checkpoint = _parse_body(body)
    if origin is not None and checkpoint.origin != origin:
        raise CheckpointError(f"checkpoint origin {checkpoint.origin!r} is not the expected {origin!r}")
    message = body.encode("utf-8")
    ours = [s for s in sigs if s.name == verifier.name and s.key_hash == verifier.key_hash]
    if not ours:
        raise CheckpointError(f"checkpoint has no signature by key {verifier.name}+{verifier.key_hash.hex()}")
    for sig in ours:
        if not verifier.verifies(message, sig.signature):
            raise CheckpointError(f"signature by {verifier.name}+{verifier.key_hash.hex()} does not verify")
    return SignedCheckpoint(checkpoint, sigs, note)
