"""Patients see who opened their records: every staff access to them and their family, by page."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from flask import g

from hospital.accounts.models import Account, Language, Role
from hospital.audit.service import record, record_staff_read
from hospital.db import db, utcnow
from hospital.patients.models import Patient, Relationship
from scheduling.services import booking
from tests.support import factories
from tests.support.auth import sign_in
from tests.support.scheduling_factories import create_clinic_session, slots_of

JSON = {"X-Requested-With": "fetch"}


@dataclass
class Family:
    account: Account
    me: Patient
    child: Patient
    stranger: Patient
    doctor: Account
    cashier: Account


@pytest.fixture
def family(db_session: Any) -> Family:
    hospital = factories.create_hospital()
    department = factories.create_department(hospital, name_zh="心内科", name_en="Cardiology")
    doctor = factories.create_account(
        hospital, roles=(Role.CLINICIAN,), display_name="Dr Secret Name"
    )
    factories.create_clinician(department, account_id=doctor.id)
    account = factories.create_account(hospital, language=Language.EN)
    me = factories.create_patient(hospital, account=account, name="Li Ming")
    child = factories.create_patient(
        hospital, account=account, relationship=Relationship.CHILD, name="Li Xiao"
    )
    stranger = factories.create_patient(
        hospital, account=factories.create_account(hospital), name="Wang Wu"
    )
    cashier = factories.create_account(hospital, roles=(Role.CASHIER,))
    db.session.commit()
    return Family(account, me, child, stranger, doctor, cashier)


def read_by(staff: Account, patient: Patient, action: str = "appointment.read") -> None:
    record_staff_read(
        actor=staff, action=action, object_type="appointment", reads=[(1, patient.id)]
    )
    db.session.commit()


def as_(client: Any, account: Account) -> Any:
    g.pop("_login_user", None)
    g.pop("hospital", None)
    sign_in(client, account)
    return client


def test_the_page_lists_staff_reads_of_me_and_my_family_in_plain_words(
    client: Any, family: Family
) -> None:
    read_by(family.doctor, family.me)
    read_by(family.cashier, family.child, action="order.receipt.read")
    read_by(family.doctor, family.stranger)

    page = as_(client, family.account).get("/my-records/access")

    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert text.count("data-access ") == 2
    assert "Doctor · Cardiology" in text and "Opened an appointment" in text
    assert "Cashier" in text and "Opened a receipt" in text
    assert "Li Ming" in text and "Li Xiao" in text and "Wang Wu" not in text
    assert "Dr Secret Name" not in text and family.doctor.username not in text


def test_patients_own_reads_and_refused_staff_attempts_are_not_listed(
    client: Any, family: Family
) -> None:
    record_staff_read(
        actor=family.account, action="appointment.read", object_type="appointment", reads=[(1, 1)]
    )
    record(
        action="appointment.read", actor=family.account, patient_id=family.me.id
    )  # a patient's read
    record(action="scheduling.view", outcome="denied", actor=family.doctor, patient_id=family.me.id)
    db.session.commit()

    response = as_(client, family.account).get("/api/v1/audit/record-access")

    assert response.status_code == 200
    assert response.json["items"] == [] and response.json["total"] == 0


def test_the_api_pages_newest_first_with_time_in_the_hospital_zone(
    client: Any, family: Family
) -> None:
    read_by(family.doctor, family.me)
    read_by(family.cashier, family.me, action="order.read")
    as_(client, family.account)

    first = client.get("/api/v1/audit/record-access?per_page=1").json
    second = client.get("/api/v1/audit/record-access?per_page=1&page=2").json

    assert first["total"] == 2 and first["pages"] == 2
    (newest,) = first["items"]
    (older,) = second["items"]
    assert newest["action"] == "order.read" and newest["what"] == "Opened an order"
    assert newest["roles"] == ["cashier"] and newest["department_en"] is None
    assert older["role_labels"] == ["Doctor"] and older["department_zh"] == "心内科"
    assert older["patient_id"] == family.me.id
    assert newest["local_time"].endswith("+08:00")  # the hospital is in Asia/Shanghai
    assert "actor_account_id" not in newest and "ip" not in newest


def test_the_api_refuses_a_huge_page_size_and_anonymous_callers(
    client: Any, family: Family
) -> None:
    assert client.get("/api/v1/audit/record-access").status_code == 401
    as_(client, family.account)
    assert client.get("/api/v1/audit/record-access?per_page=1000").status_code == 422


def test_the_page_is_in_chinese_for_a_chinese_account_and_linked_from_home(
    client: Any, family: Family
) -> None:
    family.account.language = Language.ZH
    db.session.commit()
    read_by(family.doctor, family.me)
    as_(client, family.account)
    home = client.get("/").get_data(as_text=True)
    assert "/my-records/access" in home
    text = client.get("/my-records/access").get_data(as_text=True)
    assert "谁查看了我的记录" in text and "查看了一次预约" in text and "心内科" in text


def test_a_real_staff_read_shows_up_for_the_patient(client: Any, family: Family) -> None:
    clinician = factories.create_clinician(
        factories.create_department(_hospital_of(family.account))
    )
    day = (utcnow() + timedelta(hours=8)).date() + timedelta(days=2)
    session = create_clinic_session(
        clinician, local_date=day, release_at=utcnow() - timedelta(hours=1)
    )
    appointment = booking.hold(
        actor=family.account,
        patient_id=family.child.id,
        slot_id=slots_of(session)[0].id,
        now=utcnow(),
    )
    db.session.commit()
    as_(client, family.cashier).get(f"/api/v1/scheduling/appointments/{appointment.id}")

    items = as_(client, family.account).get("/api/v1/audit/record-access").json["items"]

    assert [(i["patient_id"], i["action"], i["roles"]) for i in items] == [
        (family.child.id, "appointment.read", ["cashier"])
    ]


def _hospital_of(account: Account) -> Any:
    from hospital.organisation.models import Hospital

    return db.session.get(Hospital, account.hospital_id)
