"""Pure typed domain model: no I/O, imported by every other layer and importing none of them."""
