"""Format adapters: bytes in, validated observations or precise errors out."""
