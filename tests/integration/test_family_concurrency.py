"""Parallel adds cannot push an account past its family limit (real threads, PostgreSQL)."""

from __future__ import annotations

import threading
from datetime import date
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from hospital.accounts.models import Account
from hospital.db import db, utcnow
from hospital.errors import Conflict
from hospital.patients.models import FamilyLink
from hospital.patients.services import adding
from hospital.unit_of_work import unit_of_work
from tests.support import factories
from tests.support.factories import make_resident_id
from tests.support.family_factories import person

THREADS = 10


def test_parallel_adds_stop_exactly_at_the_limit(app: Flask, committed: Any, backend: str) -> None:
    if backend == "sqlite":
        pytest.skip("SQLite serialises writers: only PostgreSQL runs these adds in parallel")
    with app.app_context(), unit_of_work():
        account_id = factories.create_account(factories.create_hospital()).id
    people = [
        person(name=f"家人{n}", birth_date=date(1940 + n, 1, 1), id_number=None)
        for n in range(THREADS)
    ]
    for n, values in enumerate(people):
        values["id_number"] = make_resident_id(values["birth_date"], serial=n)
    start = threading.Barrier(THREADS)
    outcomes: list[str] = []

    def add(values: dict[str, Any]) -> None:
        with app.app_context():
            start.wait()
            try:
                with unit_of_work():
                    account = db.session.get(Account, account_id)
                    adding.add_patient(account=account, **values, now=utcnow())
                outcomes.append("added")
            except Conflict as exc:
                outcomes.append(exc.code)

    threads = [threading.Thread(target=add, args=(values,)) for values in people]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    limit = app.config["FAMILY_LIMIT"]
    assert sorted(outcomes) == ["added"] * limit + ["family_limit_reached"] * (THREADS - limit)
    with app.app_context():
        links = db.session.scalar(
            sa.select(sa.func.count()).where(FamilyLink.account_id == account_id)
        )
    assert links == limit
