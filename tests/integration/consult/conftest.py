"""Consultation tests run the sandbox without random delays or duplicates."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask

from hospital.db import utcnow
from tests.support.billing_factories import calm_sandbox
from tests.support.consult_factories import ConsultWorld, make_world


@pytest.fixture(autouse=True)
def _calm_sandbox(app: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    calm_sandbox(app, monkeypatch)


@pytest.fixture
def world(db_session: Any) -> ConsultWorld:
    made = make_world(utcnow())
    db_session.commit()
    return made
