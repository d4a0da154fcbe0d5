"""Tamper-evident evidence log: RFC 6962 Merkle tree, signed checkpoints, proofs, offline bundles."""

from .bundle import BundleError, ExportResult, export_bundle
from .bundle_verify import BundleReport, Problem, verify_bundle
from .canonical import CanonicalError, Leaf, LeafType, canonical_json, leaf_bytes, parse_canonical, parse_leaf
from .checkpoint import (
    Checkpoint,
    CheckpointError,
    KeyFileError,
    LedgerKey,
    SignedCheckpoint,
    Verifier,
    load_key,
    load_or_create_key,
    parse_checkpoint,
    verify_checkpoint,
)
from .log import LEDGER_SCHEMA_SQL, LogError, MerkleLog, ensure_schema
from .merkle import EMPTY_ROOT, ProofError, leaf_hash, node_hash, verify_consistency, verify_inclusion

__all__ = [
    "EMPTY_ROOT",
    "LEDGER_SCHEMA_SQL",
    "BundleError",
    "BundleReport",
    "CanonicalError",
    "Checkpoint",
    "CheckpointError",
    "ExportResult",
    "KeyFileError",
    "Leaf",
    "LeafType",
    "LedgerKey",
    "LogError",
    "MerkleLog",
    "Problem",
    "ProofError",
    "SignedCheckpoint",
    "Verifier",
    "canonical_json",
    "ensure_schema",
    "export_bundle",
    "leaf_bytes",
    "leaf_hash",
    "load_key",
    "load_or_create_key",
    "node_hash",
    "parse_canonical",
    "parse_checkpoint",
    "parse_leaf",
    "verify_bundle",
    "verify_checkpoint",
    "verify_consistency",
    "verify_inclusion",
]
