"""Worker roles on the scale-out engines (PostgreSQL, NATS): leases, the ledger sequencer, sector fusion."""
