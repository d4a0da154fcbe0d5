"""Agreement rules applied to incidents: violations and attribution."""
