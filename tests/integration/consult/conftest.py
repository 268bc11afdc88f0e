"""Consultation tests run the sandbox without random delays or duplicates."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask

from hospital.db import utcnow
from tests.support.consult_factories import ConsultWorld, make_world


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
def world(db_session: Any) -> ConsultWorld:
    made = make_world(utcnow())
    db_session.commit()
    return made
