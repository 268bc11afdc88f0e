"""The organisation API: public reading, search in both languages and by pinyin, admin changes."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa

from hospital.accounts.models import Role
from hospital.audit.models import AuditEntry
from hospital.db import db, utcnow
from hospital.organisation import service
from hospital.organisation.models import Department, ServicePointKind
from tests.support.auth import sign_in
from tests.support.family_factories import assert_refused, fresh_requests

URL = "/api/v1/organisation"


@pytest.fixture(autouse=True)
def _fresh(app: Any) -> Iterator[None]:
    with fresh_requests(app):
        yield


@pytest.fixture
def departments(hospital: Any) -> dict[str, Department]:
    now = utcnow()
    made = {}
    for order, (code, zh, en) in enumerate(
        [
            ("NK", "内科", "Internal Medicine"),
            ("EK", "儿科", "Paediatrics"),
            ("FCK", "妇产科", "Obstetrics & Gynaecology"),
            ("PFK", "皮肤科", "Dermatology"),
        ]
    ):
        made[code] = service.create_department(
            actor=None,
            hospital=hospital,
            values={"code": code, "name_zh": zh, "name_en": en, "sort_order": order},
            now=now,
        )
    return made


def names(response: Any) -> list[str]:
    assert response.status_code == 200, response.get_json()
    return [row["name_zh"] for row in response.get_json()]


def test_pinyin_initials_come_from_the_chinese_name() -> None:
    assert service.pinyin_initials("内科") == "nk"
    assert service.pinyin_initials("妇产科") == "fck"
    assert service.pinyin_initials("耳鼻喉科") == "ebhk"
    assert service.pinyin_initials("ENT科") == "entk"


def test_the_hospital_is_public_with_its_names_and_time_zone(client: Any, hospital: Any) -> None:
    response = client.get(f"{URL}/hospital")
    assert response.status_code == 200
    body = response.get_json()
    assert body["name_zh"] == hospital.name_zh and body["name_en"] == hospital.name_en
    assert body["timezone"] == "Asia/Shanghai"


def test_departments_are_listed_in_order_without_signing_in(
    client: Any, departments: dict[str, Department]
) -> None:
    assert names(client.get(f"{URL}/departments")) == ["内科", "儿科", "妇产科", "皮肤科"]
    assert departments["FCK"].pinyin_initials == "fck"


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ("内科", ["内科"]),
        ("科", ["内科", "儿科", "妇产科", "皮肤科"]),
        ("皮肤", ["皮肤科"]),
        ("paed", ["儿科"]),
        ("GYNAE", ["妇产科"]),
        ("medicine", ["内科"]),
        ("nk", ["内科"]),
        ("FC", ["妇产科"]),
        ("pfk", ["皮肤科"]),
        ("  ek ", ["儿科"]),
        ("%", []),
        ("_k", []),
        ("xyz", []),
    ],
)
def test_departments_are_found_by_either_name_or_pinyin_initials(
    client: Any, departments: dict[str, Department], q: str, expected: list[str]
) -> None:
    assert names(client.get(f"{URL}/departments", query_string={"q": q})) == expected


def test_an_inactive_department_is_not_listed(
    client: Any, hospital: Any, departments: dict[str, Department]
) -> None:
    service.update_department(
        actor=None,
        hospital=hospital,
        department_id=departments["EK"].id,
        changes={"is_active": False},
        now=utcnow(),
    )
    assert "儿科" not in names(client.get(f"{URL}/departments"))


def test_clinicians_by_department_with_their_titles(
    client: Any, departments: dict[str, Department], create_clinician: Any
) -> None:
    wang = create_clinician(departments["NK"])
    create_clinician(departments["EK"], name_zh="吴静", name_en="Wu Jing")
    client.set_cookie("lang", "en")

    listed = client.get(f"{URL}/clinicians", query_string={"department_id": departments["NK"].id})

    assert listed.status_code == 200, listed.get_json()
    assert [c["name_en"] for c in listed.get_json()] == ["Wang Jianguo"]
    one = client.get(f"{URL}/clinicians/{wang.id}").get_json()
    assert one["title"] == "chief_physician" and one["title_label"] == "Chief physician"
    assert one["department"]["name_zh"] == "内科"
    assert "account_id" not in one
    assert len(client.get(f"{URL}/clinicians").get_json()) == 2


def test_service_points_by_kind(client: Any, hospital: Any, create_service_point: Any) -> None:
    create_service_point(hospital, kind=ServicePointKind.CASHIER, code="CASH-1", name_zh="收费处")
    create_service_point(hospital, code="NK-01")
    cashiers = client.get(f"{URL}/service-points", query_string={"kind": "cashier"}).get_json()
    assert [p["code"] for p in cashiers] == ["CASH-1"]
    one = client.get(f"{URL}/service-points/{cashiers[0]['id']}").get_json()
    assert one["name_zh"] == "收费处" and one["building"] == "A"


def test_another_hospitals_department_is_not_found(
    client: Any, hospital: Any, create_hospital: Any, create_department: Any
) -> None:
    elsewhere = create_department(create_hospital())
    db.session.commit()
    assert_refused(client.get(f"{URL}/departments/{elsewhere.id}"), 404, "department_not_found")


def test_an_admin_adds_and_changes_a_department(
    client: Any, hospital: Any, create_account: Any
) -> None:
    admin = create_account(hospital, roles=(Role.ADMIN,))
    sign_in(client, admin)

    created = client.post(
        f"{URL}/departments", json={"code": "YK", "name_zh": "眼科", "name_en": "Ophthalmology"}
    )
    assert created.status_code == 201, created.get_json()
    assert created.get_json()["pinyin_initials"] == "yk"
    department_id = created.get_json()["id"]

    changed = client.patch(
        f"{URL}/departments/{department_id}", json={"name_zh": "耳鼻喉科", "name_en": "ENT"}
    )
    assert changed.status_code == 200
    assert changed.get_json()["pinyin_initials"] == "ebhk"
    actions = db.session.scalars(
        sa.select(AuditEntry.action).where(AuditEntry.actor_account_id == admin.id)
    ).all()
    assert actions == ["organisation.department.create", "organisation.department.update"]


def test_an_admin_adds_and_changes_clinicians_and_service_points(
    client: Any, hospital: Any, create_account: Any, create_department: Any
) -> None:
    department = create_department(hospital)
    doctor = create_account(hospital, roles=(Role.CLINICIAN,))
    sign_in(client, create_account(hospital, roles=(Role.ADMIN,)))

    clinician = client.post(
        f"{URL}/clinicians",
        json={
            "department_id": department.id,
            "name_zh": "李淑芬",
            "name_en": "Li Shufen",
            "title": "attending_physician",
            "account_id": doctor.id,
        },
    )
    assert clinician.status_code == 201, clinician.get_json()
    changed = client.patch(
        f"{URL}/clinicians/{clinician.get_json()['id']}",
        json={"title": "associate_chief_physician", "specialty_zh": "糖尿病"},
    )
    assert changed.get_json()["title"] == "associate_chief_physician"

    point = client.post(
        f"{URL}/service-points",
        json={
            "kind": "lab_draw",
            "code": "LAB-1",
            "name_zh": "采血室",
            "name_en": "Blood draw",
            "floor": "1",
            "directions_zh": "一楼走廊尽头",
            "directions_en": "End of the ground-floor corridor",
        },
    )
    assert point.status_code == 201, point.get_json()
    closed = client.patch(
        f"{URL}/service-points/{point.get_json()['id']}", json={"is_active": False}
    )
    assert closed.get_json()["is_active"] is False
    assert client.get(f"{URL}/service-points", query_string={"kind": "lab_draw"}).get_json() == []


@pytest.mark.parametrize("role", [None, Role.PATIENT, Role.REGISTRAR, Role.NURSE])
def test_only_an_admin_changes_the_organisation(
    client: Any, hospital: Any, create_account: Any, departments: dict[str, Department], role: Any
) -> None:
    if role is not None:
        sign_in(client, create_account(hospital, roles=(role,)))
    db.session.commit()
    status, code = (401, "sign_in_required") if role is None else (403, "role_required")
    target = departments["NK"].id

    for response in (
        client.post(f"{URL}/departments", json={"code": "X", "name_zh": "某科", "name_en": "X"}),
        client.patch(f"{URL}/departments/{target}", json={"name_en": "Changed"}),
        client.post(f"{URL}/clinicians", json={}),
        client.patch(f"{URL}/clinicians/1", json={"name_en": "X"}),
        client.post(f"{URL}/service-points", json={}),
        client.patch(f"{URL}/service-points/1", json={"name_en": "X"}),
    ):
        assert_refused(response, status, code)
    db.session.expire_all()
    assert db.session.get(Department, target).name_en == "Internal Medicine"
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Department)) == 4
