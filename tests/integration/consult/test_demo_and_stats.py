"""The demo hospital offers consultations; the statistics page shows their figures."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from flask import Flask

from consult.models import Consultation, ConsultSetting, ConsultStatus
from consult.services import answering, deadlines
from consult.stats import figures
from hospital.accounts.models import Role
from hospital.db import db
from tests.support import factories
from tests.support.auth import sign_in
from tests.support.consult_factories import ConsultWorld
from tests.support.consult_flow import paid_question


def test_the_demo_has_two_doctors_online_and_one_answered_question(
    app: Flask, committed: Any
) -> None:
    for _ in range(2):
        result = app.test_cli_runner().invoke(args=["seed-demo"])
        assert result.exit_code == 0, (result.output, result.exception)
    with app.app_context():
        settings = db.session.scalars(sa.select(ConsultSetting)).all()
        assert len(settings) == 2 and all(s.is_offered and s.open_to_all for s in settings)
        (answered,) = db.session.scalars(sa.select(Consultation)).all()
        assert answered.status is ConsultStatus.ANSWERED and answered.messages


def test_figures_count_per_department_and_week_with_in_time_share_and_refunds(
    world: ConsultWorld, client: Any
) -> None:
    on_time = paid_question(world)
    answering.reply(
        on_time.id, actor=world.doctor_account, body="好", now=world.now + timedelta(minutes=30)
    )
    late = paid_question(world, "还有一个问题")
    deadlines.sweep(now=(late.answer_due_at or world.now) + timedelta(minutes=1))
    today = world.now.date()
    found = figures(world.hospital, today - timedelta(days=1), today + timedelta(days=1))
    assert found.total.asked == 2
    assert found.total.answered == 1
    assert found.total.median_answer_minutes == 30.0
    assert found.total.in_time_share == 0.5
    assert found.total.refunded == 1 and found.total.refunded_fen == 2000
    assert [r.department.id for r in found.rows if r.department] == [world.doctor.department_id]

    admin = factories.create_account(world.hospital, roles=(Role.ADMIN,))
    db.session.commit()
    sign_in(client, admin)
    page = client.get(
        f"/reports/statistics?start={(today - timedelta(days=1)).isoformat()}"
        f"&end={(today + timedelta(days=1)).isoformat()}"
    )
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "data-consult-statistics" in html and "data-consult-table" in html
