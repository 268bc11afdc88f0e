"""The rollback fixture really isolates tests: a commit in one is invisible in the next."""

from __future__ import annotations

import sqlalchemy as sa

from hospital.db import db
from hospital.organisation.models import Hospital

MARKER = "ISOLATION-PROBE"


def test_a_test_may_commit(db_session: object) -> None:
    db.session.add(Hospital(code=MARKER, name_zh="隔离", name_en="Isolation", timezone="UTC"))
    db.session.commit()
    assert db.session.scalar(sa.select(sa.func.count()).where(Hospital.code == MARKER)) == 1


def test_the_next_test_finds_nothing(db_session: object) -> None:
    assert db.session.scalar(sa.select(sa.func.count()).where(Hospital.code == MARKER)) == 0
