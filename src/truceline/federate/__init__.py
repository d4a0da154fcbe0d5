"""Federation: a national node forwards what it may release to the coalition hub (see docs/federation.md)."""
