"""Operations statistics from the signals other modules send; charts, CSV and PDF exports."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, timedelta
from typing import Any

from hospital import events
from hospital.db import db
from hospital.zones import local_date, zone_for
from reports import stats
from reports.stats import GroupBy
from tests.integration.reports.conftest import pdf_text, sign_in_as

DAY = date(2026, 11, 2)
# 08:00 in Shanghai is 00:00 UTC.
MORNING = datetime(2026, 11, 2, 0, 0, tzinfo=UTC)


def _visit(
    ward: Any,
    n: int,
    *,
    department: Any,
    clinician: Any,
    online: bool,
    wait_min: int | None,
    service_min: int | None = 10,
    cancelled: bool = False,
    no_show: bool = False,
    day_offset: int = 0,
) -> None:
    start = MORNING + timedelta(days=day_offset, minutes=n)
    common = {"hospital_id": ward.hospital.id}
    events.appointment_booked.send(
        None,
        appointment_id=n,
        department_id=department.id,
        clinician_id=clinician.id,
        starts_at=start + timedelta(hours=1),
        online=online,
        now=start,
        **common,
    )
    if cancelled:
        events.appointment_cancelled.send(
            None,
            appointment_id=n,
            patient_id=1,
            reason="patient_cancelled",
            refund="full",
            now=start,
            **common,
        )
        return
    if no_show:
        events.appointment_no_show.send(None, appointment_id=n, now=start, **common)
        return
    events.visit_checked_in.send(
        None,
        appointment_id=n,
        ticket_id=1000 + n,
        department_id=department.id,
        clinician_id=clinician.id,
        now=start,
        **common,
    )
    if wait_min is None:
        return
    called = start + timedelta(minutes=wait_min)
    events.ticket_first_called.send(None, ticket_id=1000 + n, now=called, **common)
    events.ticket_first_called.send(
        None, ticket_id=1000 + n, now=called + timedelta(minutes=5), **common
    )  # a recall
    events.ticket_serving_started.send(None, ticket_id=1000 + n, now=called, **common)
    if service_min is not None:
        events.ticket_completed.send(
            None, ticket_id=1000 + n, now=called + timedelta(minutes=service_min), **common
        )
    events.payment_received.send(
        None,
        order_id=n,
        amount_fen=5000,
        online=online,
        reference=f"appointment:{n}",
        now=start,
        **common,
    )


def _scenario(ward: Any, create_department: Any, create_clinician: Any) -> tuple[Any, Any]:
    medicine = create_department(ward.hospital, name_zh="内科", name_en="Internal Medicine")
    surgery = create_department(
        ward.hospital, name_zh='=HYPERLINK("http://evil")', name_en="=cmd|' /C calc'!A0"
    )
    wang = create_clinician(medicine)
    li = create_clinician(surgery, name_zh="李医生", name_en="Dr Li")
    for n, wait in enumerate((10, 20, 30, 40), start=1):
        _visit(ward, n, department=medicine, clinician=wang, online=True, wait_min=wait)
    _visit(
        ward, 5, department=medicine, clinician=wang, online=False, wait_min=None, cancelled=True
    )
    _visit(ward, 6, department=surgery, clinician=li, online=False, wait_min=None, no_show=True)
    _visit(ward, 7, department=surgery, clinician=li, online=False, wait_min=60, service_min=20)
    events.refund_issued.send(
        None, order_id=7, hospital_id=ward.hospital.id, amount_fen=2000, now=MORNING
    )
    events.payment_received.send(
        None,
        order_id=1,
        hospital_id=ward.hospital.id,
        amount_fen=5000,
        online=True,
        reference="appointment:1",
        now=MORNING,
    )  # a duplicate notification
    _visit(ward, 8, department=medicine, clinician=wang, online=True, wait_min=15, day_offset=1)
    db.session.commit()
    return medicine, surgery


def test_statistics_per_day(ward: Any, create_department: Any, create_clinician: Any) -> None:
    _scenario(ward, create_department, create_clinician)
    table = stats.operations(
        ward.hospital, start=DAY, end=DAY + timedelta(days=1), group_by=GroupBy.DAY
    )
    first, second = table.rows
    assert first.label == "2026-11-02"
    assert (first.booked, first.checked_in, first.cancellations, first.no_shows) == (7, 5, 1, 1)
    assert first.no_show_rate == round(1 / 6, 4)  # cancelled bookings are not no-shows
    assert first.wait_p50_min == 30.0  # waits 10, 20, 30, 40, 60 minutes
    assert first.wait_p90_min == 52.0
    assert first.service_avg_min == 12.0  # 10,10,10,10,20
    assert first.patients_per_hour == 5.0
    assert first.revenue_fen == 5 * 5000 - 2000
    assert (first.online_bookings, first.online_payments) == (4, 4)
    assert first.queues_avoided == 8
    assert second.booked == 1 and second.wait_p50_min == 15.0
    assert table.total.booked == 8 and table.total.queues_avoided == 10


def test_statistics_per_department_and_clinician(
    ward: Any, create_department: Any, create_clinician: Any
) -> None:
    medicine, surgery = _scenario(ward, create_department, create_clinician)
    by_department = stats.operations(ward.hospital, start=DAY, end=DAY, group_by=GroupBy.DEPARTMENT)
    rows = {r.key: r for r in by_department.rows}
    assert rows[str(medicine.id)].label == "内科" and rows[str(medicine.id)].booked == 5
    assert rows[str(surgery.id)].revenue_fen == 3000
    by_clinician = stats.operations(
        ward.hospital, start=DAY, end=DAY, group_by=GroupBy.CLINICIAN, language="en"
    )
    assert sorted(r.label for r in by_clinician.rows) == ["Dr Li", "Wang Jianguo"]


def test_report_pickups_count_as_queues_avoided(client: Any, ward: Any) -> None:
    from tests.integration.reports.test_access import _report

    report = _report(ward)
    sign_in_as(client, ward.patient_account)
    client.get(f"/reports/{report.public_id}")
    today = local_date(report.first_viewed_at, zone_for(ward.hospital))
    table = stats.operations(ward.hospital, start=today, end=today)
    assert table.total.report_pickups == 1 and table.total.queues_avoided == 1


def test_statistics_page_csv_and_pdf_for_admins(
    client: Any, ward: Any, create_department: Any, create_clinician: Any
) -> None:
    _scenario(ward, create_department, create_clinician)
    query = "start=2026-11-02&end=2026-11-03&group_by=department"
    sign_in_as(client, ward.lab)
    assert client.get(f"/reports/statistics?{query}").status_code == 403
    assert client.get(f"/api/v1/reports/statistics?{query}").status_code == 403
    sign_in_as(client, ward.admin)
    page = client.get(f"/reports/statistics?{query}")
    html = page.get_data(as_text=True)
    assert (
        page.status_code == 200 and "<svg" in html and page.headers["Cache-Control"] == "no-store"
    )
    assert (
        "=HYPERLINK(&#34;http://evil&#34;)" in html or "=HYPERLINK(&quot;http://evil&quot;)" in html
    )
    exported = client.get(f"/reports/statistics.csv?{query}")
    assert exported.status_code == 200 and exported.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(exported.get_data(as_text=True).lstrip("\ufeff"))))
    labels = [r[0] for r in rows[1:]]
    assert "内科" in labels
    assert all(not label.startswith(("=", "+", "-", "@")) for label in labels)
    assert '\'=HYPERLINK("http://evil")' in labels
    pdf = client.get(f"/reports/statistics.pdf?{query}")
    assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF-")
    assert "内科" in pdf_text(pdf.data)
    api = client.get(f"/api/v1/reports/statistics?{query}")
    assert api.status_code == 200 and api.json["total"]["booked"] == 8  # two days


def test_bad_statistics_ranges_are_refused(client: Any, ward: Any) -> None:
    sign_in_as(client, ward.admin)
    for query in (
        "start=2026-11-05&end=2026-11-01",
        "start=2024-01-01&end=2026-01-01",
        "start=yesterday&end=2026-01-01",
        "start=2026-01-01&end=2026-01-02&group_by=planet",
    ):
        assert client.get(f"/reports/statistics?{query}").status_code == 422, query
    for query in (
        "start=yesterday&end=2026-01-01",
        "start=2026-01-01&end=2026-01-02&group_by=planet",
    ):
        assert client.get(f"/api/v1/reports/statistics?{query}").status_code == 422, query
    # The API documents what it does with every pair of dates (a query string cannot document
    # a rule across parameters, issue #21): a reversed range counts nothing, a long one its
    # first 366 days.
    reversed_range = client.get("/api/v1/reports/statistics?start=2026-11-05&end=2026-11-01")
    assert reversed_range.status_code == 200 and reversed_range.json["rows"] == []
    assert reversed_range.json["total"]["booked"] == 0
    long_range = client.get("/api/v1/reports/statistics?start=2024-01-01&end=2026-01-01")
    assert long_range.status_code == 200 and long_range.json["end"] == "2024-12-31"
    far = client.get("/api/v1/reports/statistics?start=9999-12-01&end=9999-12-31")
    assert far.status_code == 200 and far.json["rows"] == []
