"""Test types: how each test's reports are released."""

from __future__ import annotations

import sqlalchemy as sa

from hospital.accounts.models import Account
from hospital.audit.service import record
from hospital.db import db
from reports.models import TestType
from reports.release import ReleaseRule


def test_type_for(hospital_id: int, code: str) -> TestType | None:
    return db.session.scalar(
        sa.select(TestType).where(TestType.hospital_id == hospital_id, TestType.code == code)
    )


def all_test_types(hospital_id: int) -> list[TestType]:
    """The hospital's test types, by code (the intake form lists them)."""
    return list(
        db.session.scalars(
            sa.select(TestType).where(TestType.hospital_id == hospital_id).order_by(TestType.code)
        )
    )


def save_test_type(
    hospital_id: int,
    code: str,
    *,
    name_zh: str,
    name_en: str,
    release_rule: ReleaseRule,
    release_delay_minutes: int,
    actor: Account,
) -> TestType:
    test_type = test_type_for(hospital_id, code)
    if test_type is None:
        test_type = TestType(hospital_id=hospital_id, code=code)
        db.session.add(test_type)
    test_type.name_zh = name_zh
    test_type.name_en = name_en
    test_type.release_rule = release_rule
    test_type.release_delay_minutes = release_delay_minutes
    db.session.flush()
    record(
        action="report.test_type_saved",
        actor=actor,
        object_type="report_test_type",
        object_id=code,
        hospital_id=hospital_id,
        detail={"rule": release_rule.value, "delay": release_delay_minutes},
    )
    return test_type
