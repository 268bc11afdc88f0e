"""Connect the visit pages to the application: nothing to receive; the home tile is in views."""

from __future__ import annotations

from flask import Flask


def connect(app: Flask) -> None:
    """Nothing to connect yet (visits are started by the kernel's hospital/visits/wiring.py)."""
