"""The consultation settings pages (a doctor's own, an admin's for every doctor) and the staff
home's count of questions waiting for the doctor."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import sqlalchemy as sa

from consult.models import Consultation, ConsultSetting, ConsultStatus
from hospital.accounts.models import Role
from hospital.db import db
from hospital.zones import zone_for
from tests.support import factories
from tests.support.auth import sign_in
from tests.support.consult_factories import ConsultWorld

GOOD = {
    "is_offered": "1",
    "fee_yuan": "15.50",
    "answer_hours": "6",
    "daily_cap": "5",
}


def _setting(clinician_id: int) -> ConsultSetting | None:
    db.session.expire_all()
    return db.session.scalar(
        sa.select(ConsultSetting).where(ConsultSetting.clinician_id == clinician_id)
    )


def test_a_doctor_changes_their_own_settings_from_the_inbox(client: Any, world: ConsultWorld):
    sign_in(client, world.doctor_account)
    inbox = client.get("/staff/consult?lang=en").get_data(as_text=True)
    own = f"/staff/consult/settings/{world.doctor.id}"
    assert f'href="{own}"' in inbox
    # The list page sends a doctor to their own form.
    listed = client.get("/staff/consult/settings")
    assert listed.status_code == 302 and listed.headers["Location"].endswith(own)
    form = client.get(f"{own}?lang=en")
    assert form.status_code == 200 and "data-settings-form" in form.get_data(as_text=True)
    saved = client.post(own, data=GOOD, follow_redirects=True)
    assert "The consultation settings are saved." in saved.get_data(
        as_text=True
    ) or "咨询设置已保存" in saved.get_data(as_text=True)
    setting = _setting(world.doctor.id)
    assert setting is not None
    assert (setting.is_offered, setting.open_to_all) == (True, False)
    assert (setting.fee_fen, setting.answer_hours, setting.daily_cap) == (1550, 6, 5)
    # Not another doctor's.
    assert client.get(f"/staff/consult/settings/{world.other_doctor.id}").status_code == 403
    assert (
        client.post(f"/staff/consult/settings/{world.other_doctor.id}", data=GOOD).status_code
        == 403
    )
    assert _setting(world.other_doctor.id) is None


def test_an_admin_sees_every_doctor_and_changes_anothers(client: Any, world: ConsultWorld):
    admin = factories.create_account(world.hospital, roles=(Role.ADMIN,))
    db.session.commit()
    sign_in(client, admin)
    home = client.get("/?lang=en").get_data(as_text=True)
    assert 'href="/staff/consult/settings"' in home
    listed = client.get("/staff/consult/settings?lang=en")
    assert listed.status_code == 200
    html = listed.get_data(as_text=True)
    assert f'data-clinician="{world.doctor.id}"' in html
    assert f'data-clinician="{world.other_doctor.id}"' in html
    edit = f"/staff/consult/settings/{world.other_doctor.id}"
    saved = client.post(edit, data={**GOOD, "open_to_all": "1", "fee_yuan": "0"})
    assert saved.status_code == 302
    setting = _setting(world.other_doctor.id)
    assert setting is not None and setting.open_to_all and setting.fee_fen == 0
    zh = client.get("/staff/consult/settings?lang=zh").get_data(as_text=True)
    assert "在线咨询设置" in zh


def test_a_bad_fee_is_shown_again_and_nothing_is_saved(client: Any, world: ConsultWorld):
    sign_in(client, world.doctor_account)
    own = f"/staff/consult/settings/{world.doctor.id}"
    for fee in ("-5", "abc", "12.345", "1e3", "100000000"):
        refused = client.post(f"{own}?lang=en", data={**GOOD, "fee_yuan": fee})
        assert refused.status_code == 400, fee
        html = refused.get_data(as_text=True)
        assert "data-form-error" in html and "Enter the fee in yuan" in html
        assert f'value="{fee}"' in html  # what was typed is shown again
        assert _setting(world.doctor.id) is None
    hours = client.post(f"{own}?lang=zh", data={**GOOD, "answer_hours": "0"})
    assert hours.status_code == 400 and "未保存" in hours.get_data(as_text=True)
    assert _setting(world.doctor.id) is None


def test_a_nurse_and_a_patient_are_refused(client: Any, world: ConsultWorld):
    nurse = factories.create_account(world.hospital, roles=(Role.NURSE,))
    db.session.commit()
    for who in (nurse, world.daughter):
        sign_in(client, who)
        assert client.get("/staff/consult/settings").status_code == 403
        edit = f"/staff/consult/settings/{world.doctor.id}"
        assert client.get(edit).status_code == 403
        assert client.post(edit, data=GOOD).status_code == 403
    assert _setting(world.doctor.id) is None


def test_the_doctors_staff_home_shows_the_questions_waiting(client: Any, world: ConsultWorld):
    sign_in(client, world.doctor_account)
    html = client.get("/?lang=en").get_data(as_text=True)
    assert 'data-staff-summary="consult_pages.inbox"' in html
    assert "No questions waiting for your answer" in html
    for hours, status in (
        (5, ConsultStatus.OPEN),
        (2, ConsultStatus.OPEN),
        (1, ConsultStatus.CLOSED),
    ):
        db.session.add(
            Consultation(
                hospital_id=world.hospital.id,
                patient_id=world.father.id,
                asked_by_account_id=world.daughter.id,
                answer_hours=hours,
                clinician_id=world.doctor.id,
                department_id=world.doctor.department_id,
                status=status,
                question="?",
                fee_fen=0,
                created_at=world.now,
                answer_due_at=world.now + timedelta(hours=hours),
            )
        )
    db.session.commit()
    html = client.get("/?lang=en").get_data(as_text=True)
    first_due = (world.now + timedelta(hours=2)).astimezone(zone_for(world.hospital))
    assert "2 questions waiting for your answer" in html
    assert f"the first due {first_due:%m-%d %H:%M}" in html
    assert 'href="/staff/consult"' in html
    zh = client.get("/?lang=zh").get_data(as_text=True)
    assert "2 个问题等待您回答" in zh
