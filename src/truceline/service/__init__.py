"""Long-running roles that `serve` and `worker` run without HTTP: live feed clients and their intake."""
