"""Tamper-evident evidence log: RFC 6962 Merkle tree, signed checkpoints, proofs, offline bundles."""
