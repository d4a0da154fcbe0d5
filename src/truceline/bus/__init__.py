"""Event bus: the one-way flow of changes (accepted observations, incident updates) to live readers."""
