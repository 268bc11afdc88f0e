"""Billing tests run the sandbox without random delays or duplicates unless a test asks for them."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask import Flask


@pytest.fixture(autouse=True)
def _calm_sandbox(app: Flask) -> Iterator[None]:
    saved = {
        k: app.config.get(k)
        for k in ("BILLING_SANDBOX_MAX_DELAY_S", "BILLING_SANDBOX_DUPLICATE_RATE")
    }
    app.config["BILLING_SANDBOX_MAX_DELAY_S"] = 0
    app.config["BILLING_SANDBOX_DUPLICATE_RATE"] = 0.0
    yield
    for key, value in saved.items():
        if value is None:
            app.config.pop(key, None)
        else:
            app.config[key] = value


@pytest.fixture
def medicine_fully_insured(app: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    """Insurance pays for medicine in full, with no deductible."""
    monkeypatch.setitem(app.config, "BILLING_INSURANCE_COVERAGE", {"medicine": 100})
    monkeypatch.setitem(app.config, "BILLING_INSURANCE_DEDUCTIBLE_FEN", 0)
