"""HTTP API (FastAPI); the OpenAPI schema is the public contract."""
