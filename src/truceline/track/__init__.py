"""Aircraft and vessel tracks from ADS-B/Mode S and AIS messages (pure: no I/O)."""
