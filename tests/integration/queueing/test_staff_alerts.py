"""Staff alerts through the API (staff home) and on the console, with per-point thresholds."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa

from hospital.accounts.models import Role
from hospital.audit.models import AuditEntry
from hospital.db import db, utcnow
from tests.support import queueing_factories as qf
from tests.support.auth import sign_in

API = "/api/v1/queueing"


def test_a_long_wait_alerts_staff_by_the_points_thresholds(
    client, hospital, create_service_point, create_account, create_patient
):
    point = create_service_point(hospital)
    now = utcnow()
    qf.open_queue(point, now=now)
    counter = qf.create_counter(point)
    patient = create_patient(hospital, name="张三明")
    qf.walk_in(hospital, point, now=now - timedelta(minutes=40), patient_id=patient.id)
    nurse = create_account(hospital, roles=(Role.NURSE,))
    sign_in(client, nurse)
    assert client.get(f"{API}/alerts").get_json() == {"alerts": []}
    defaults = client.get(f"{API}/points/{point.id}/alert-thresholds").get_json()
    assert defaults["longest_wait_minutes"] == 60
    r = client.put(
        f"{API}/points/{point.id}/alert-thresholds",
        json={**defaults, "longest_wait_minutes": 30},
    )
    assert r.status_code == 200 and r.get_json()["longest_wait_minutes"] == 30
    (alert,) = client.get(f"{API}/alerts").get_json()["alerts"]
    assert alert["kind"] == "longest_wait" and alert["detail"]["code"] == "A001"
    assert alert["service_point_id"] == point.id and "张三明" not in repr(alert)
    assert "A001" in alert["message"]
    console = client.get(f"{API}/counters/{counter.id}").get_json()
    assert [a["kind"] for a in console["alerts"]] == ["longest_wait"]
    assert (
        db.session.scalar(
            sa.select(sa.func.count())
            .select_from(AuditEntry)
            .where(AuditEntry.action == "queue.alert_thresholds")
        )
        == 1
    )
    r = client.put(
        f"{API}/points/{point.id}/alert-thresholds", json={**defaults, "calls_without_coming": 1}
    )
    assert r.status_code == 422


def test_patients_get_no_alerts_and_lab_staff_cannot_change_a_rooms_thresholds(
    client, hospital, create_service_point, create_account
):
    point = create_service_point(hospital)
    sign_in(client, create_account(hospital))
    assert client.get(f"{API}/alerts").status_code == 403
    sign_in(client, create_account(hospital, roles=(Role.LAB,)))
    body = {
        "booked_wait_minutes": 30,
        "longest_wait_minutes": 60,
        "pause_overrun_minutes": 5,
        "calls_without_coming": 3,
    }
    assert client.put(f"{API}/points/{point.id}/alert-thresholds", json=body).status_code == 403
