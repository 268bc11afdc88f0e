"""The restore drill: back up a busy demo hospital, restore into a new database, every row matches."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from hospital.app import create_app
from hospital.db import db, utcnow
from hospital.notifications.service import notify
from hospital.organisation.models import Hospital
from tests.conftest import TEST_CONFIG
from tests.support import factories
from tests.support import queueing_factories as qf

_fresh = iter(range(1, 1000))


def _new_database(kind: str, tmp_path: Path, request: pytest.FixtureRequest, name: str) -> str:
    if kind == "sqlite":
        return "sqlite:///" + str(tmp_path / f"{name}.db")
    cluster = request.getfixturevalue("postgres_cluster")
    database = f"drill_{name}_{next(_fresh)}"
    cluster.create_database(database)
    return str(cluster.url(database))


@pytest.fixture(params=["sqlite", "postgresql"])
def databases(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[str, str]:
    return (
        _new_database(request.param, tmp_path, request, "live"),
        _new_database(request.param, tmp_path, request, "restored"),
    )


def _app(url: str, tmp_path: Path) -> Flask:
    return create_app({**TEST_CONFIG, "DATABASE_URL": url, "INSTANCE_PATH": str(tmp_path)})


def _run(app: Flask, *args: str) -> str:
    result = app.test_cli_runner().invoke(args=list(args))
    assert result.exit_code == 0, (result.output, result.exception)
    return str(result.output)


def _every_row(app: Flask) -> dict[str, list[tuple[Any, ...]]]:
    with app.app_context():
        metadata = sa.MetaData()
        metadata.reflect(bind=db.engine)
        rows = {}
        with db.engine.connect() as connection:
            for table in metadata.sorted_tables:
                order = list(table.primary_key.columns) or list(table.columns)
                rows[table.name] = [
                    tuple(r) for r in connection.execute(sa.select(table).order_by(*order))
                ]
        db.engine.dispose()
        return rows


def test_restore_drill_every_table_matches(databases: tuple[str, str], tmp_path: Path) -> None:
    live_url, restored_url = databases
    live = _app(live_url, tmp_path)
    _run(live, "db", "upgrade")
    _run(live, "seed-demo")  # departments, clinicians, staff, patients, sessions, bookings
    with live.app_context():  # and a busy morning: a queue with walk-ins, messages to send
        hospital = db.session.scalars(sa.select(Hospital)).one()
        room = factories.create_service_point(hospital)
        qf.open_queue(room, now=utcnow())
        for _ in range(5):
            qf.walk_in(hospital, room, now=utcnow())
        notify(
            hospital_id=hospital.id,
            template="sign_in_code",
            context={"hospital": "H", "code": "123456", "minutes": 5},
            language="zh",
            phone="13800138000",
            now=utcnow(),
        )
        db.session.commit()
        db.engine.dispose()
    backup = tmp_path / "backups" / "hospital.backup"
    assert "Backed up to" in _run(live, "db", "backup", str(backup))
    expected = _every_row(live)
    assert expected["appointment"] and len(expected["ticket"]) == 5 and expected["outbox_message"]

    restored = _app(restored_url, tmp_path)
    _run(restored, "db", "restore", str(backup))
    assert _every_row(restored) == expected
    # The restored database is a working one: migrations at head, ids continue after the last.
    with restored.app_context():
        new_id = factories.create_hospital().id
        db.session.commit()
        db.session.remove()
        db.engine.dispose()
    assert new_id > max(row[0] for row in expected["hospital"])


def test_restore_refuses_a_database_that_holds_data(
    databases: tuple[str, str], tmp_path: Path
) -> None:
    live_url, _ = databases
    live = _app(live_url, tmp_path)
    _run(live, "db", "upgrade")
    backup = tmp_path / "hospital.backup"
    _run(live, "db", "backup", str(backup))
    result = live.test_cli_runner().invoke(args=["db", "restore", str(backup)])
    assert result.exit_code != 0
    assert "already holds tables" in result.output
    assert "Restored" in _run(live, "db", "restore", "--replace", str(backup))
    with live.app_context():
        db.engine.dispose()


def test_restore_refuses_a_file_that_is_not_a_backup_of_this_kind(
    databases: tuple[str, str], tmp_path: Path
) -> None:
    _, target_url = databases
    junk = tmp_path / "notes.txt"
    junk.write_text("not a backup")
    result = _app(target_url, tmp_path).test_cli_runner().invoke(args=["db", "restore", str(junk)])
    assert result.exit_code != 0
    assert "is not a" in result.output
