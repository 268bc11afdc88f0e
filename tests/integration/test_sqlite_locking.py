"""On SQLite, a request that reads and then writes never fails because another writer got in first."""

from __future__ import annotations

import threading
from pathlib import Path

import sqlalchemy as sa

from hospital.app import create_app
from hospital.db import db
from hospital.organisation.models import Hospital
from tests.conftest import TEST_CONFIG


def test_a_reading_request_that_writes_survives_a_concurrent_writer(tmp_path: Path) -> None:
    app = create_app({**TEST_CONFIG, "DATABASE_URL": f"sqlite:///{tmp_path / 'lock.db'}"})
    with app.app_context():
        db.create_all()
        db.session.add(Hospital(code="L", name_zh="锁", name_en="Lock", timezone="UTC"))
        db.session.commit()
    other_wrote = threading.Event()

    def other_writer() -> None:
        with app.app_context(), db.engine.begin() as connection:
            connection.execute(sa.text("UPDATE hospital SET phone = 'other'"))
        other_wrote.set()

    def view_that_reads_then_writes() -> str:
        hospital = db.session.scalar(sa.select(Hospital))  # the read (a "viewed" mark, an audit…)
        writer = threading.Thread(target=other_writer)
        writer.start()
        # With a deferred transaction the other writer commits now and our write below fails
        # with "database is locked"; with the write lock taken up front it waits for us.
        other_wrote.wait(timeout=1)
        hospital.address_en = "written by a GET"
        db.session.flush()
        app.config["PROBE_THREAD"] = writer
        return "ok"

    app.add_url_rule("/probe", view_func=view_that_reads_then_writes)
    response = app.test_client().get("/probe")
    app.config["PROBE_THREAD"].join(timeout=20)
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    assert other_wrote.is_set()
    with app.app_context():
        assert db.session.scalar(sa.select(Hospital.address_en)) == "written by a GET"
        db.engine.dispose()
