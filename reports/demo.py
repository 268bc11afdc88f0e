"""Demo data of reports: the test types lab intake offers, and a past month of work written to
the statistics summary in bulk."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa

from hospital.db import db
from hospital.organisation.models import Hospital
from reports.models import CounterPauseSummary, SatisfactionSummary, TestType, VisitSummary
from reports.release import ReleaseRule
from reports.services.test_types import test_type_for

# code, Chinese name, English name, release rule, delay in minutes
DEMO_TEST_TYPES: tuple[tuple[str, str, str, ReleaseRule, int], ...] = (
    ("CBC", "血常规", "Complete blood count", ReleaseRule.IMMEDIATE, 0),
    ("GLU", "空腹血糖", "Fasting glucose", ReleaseRule.IMMEDIATE, 0),
    ("LIPID", "血脂四项", "Lipid panel", ReleaseRule.IMMEDIATE, 0),
    ("UA", "尿常规", "Urinalysis", ReleaseRule.IMMEDIATE, 0),
    ("CRP", "C反应蛋白", "C-reactive protein", ReleaseRule.DELAYED, 30),
    ("HIV", "HIV抗体筛查", "HIV antibody screen", ReleaseRule.CLINICIAN, 0),
    ("TUMOR", "肿瘤标志物", "Tumour markers", ReleaseRule.CLINICIAN, 0),
)


def seed_test_types(hospital: Hospital) -> None:
    """Create the demo's test types that are missing (a second run changes nothing)."""
    for code, name_zh, name_en, rule, delay in DEMO_TEST_TYPES:
        if test_type_for(hospital.id, code) is None:
            db.session.add(
                TestType(
                    hospital_id=hospital.id,
                    code=code,
                    name_zh=name_zh,
                    name_en=name_en,
                    release_rule=rule,
                    release_delay_minutes=delay,
                )
            )


def record_past_work(
    *,
    visits: Sequence[Mapping[str, Any]],
    pauses: Sequence[Mapping[str, Any]],
    answers: Sequence[Mapping[str, Any]],
) -> None:
    """Insert the records (keyed by the summary's columns) as the feed would have written them;
    one statement per table, since a demo month is thousands of visits."""
    for model, rows in (
        (VisitSummary, visits),
        (CounterPauseSummary, pauses),
        (SatisfactionSummary, answers),
    ):
        if rows:
            db.session.execute(sa.insert(model), [dict(row) for row in rows])
    db.session.flush()
