"""Who may do and see what: organisations, groups, roles, and the releasability rule."""
