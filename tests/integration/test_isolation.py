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


def test_another_apps_thread_keeps_its_own_database(db_session: object, tmp_path: object) -> None:
    """The browser tests' live server shares `db` with this process: it must not use our connection."""
    import threading

    from hospital.app import create_app
    from tests.conftest import TEST_CONFIG

    other = create_app({**TEST_CONFIG, "DATABASE_URL": f"sqlite:///{tmp_path}/other.db"})
    with other.app_context():
        db.create_all()
    db.session.add(Hospital(code=MARKER, name_zh="本测试", name_en="This test", timezone="UTC"))
    db.session.flush()
    seen: list[int] = []

    def other_server_thread() -> None:
        with other.app_context():
            db.session.add(
                Hospital(code="OTHER", name_zh="别处", name_en="Elsewhere", timezone="UTC")
            )
            db.session.commit()
            seen.append(db.session.scalar(sa.select(sa.func.count()).select_from(Hospital)) or 0)
            db.session.remove()

    thread = threading.Thread(target=other_server_thread)
    thread.start()
    thread.join(30)
    assert seen == [1]  # only its own row, in its own database
    assert db.session.scalar(sa.select(sa.func.count()).where(Hospital.code == "OTHER")) == 0
    assert db.session.scalar(sa.select(sa.func.count()).where(Hospital.code == MARKER)) == 1
    db.session.commit()  # our savepoint is still ours to release
    with other.app_context():
        db.engine.dispose()
