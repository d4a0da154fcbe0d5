"""Persistence: the store port and its implementations."""
