"""Notification jobs (being built)."""
