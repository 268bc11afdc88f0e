"""Billing tests run the sandbox without random delays or duplicates unless a test asks for them."""

from __future__ import annotations

import pytest
from flask import Flask

from tests.support.billing_factories import calm_sandbox


@pytest.fixture(autouse=True)
def _calm_sandbox(app: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    calm_sandbox(app, monkeypatch)


@pytest.fixture
def medicine_fully_insured(app: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    """Insurance pays for medicine in full, with no deductible."""
    monkeypatch.setitem(app.config, "BILLING_INSURANCE_COVERAGE", {"medicine": 100})
    monkeypatch.setitem(app.config, "BILLING_INSURANCE_DEDUCTIBLE_FEN", 0)
