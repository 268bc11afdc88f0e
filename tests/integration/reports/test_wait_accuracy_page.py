"""The statistics page shows how accurate the wait ranges were, per queue and day and by hour."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from hospital import events
from reports import wait_accuracy
from tests.integration.reports.conftest import sign_in_as

NOW = datetime(2026, 11, 3, 8, 0, tzinfo=UTC)


def _judged(hospital_id: int, point_id: int, day: date, hour: int, shown: int, inside: int) -> None:
    events.wait_estimates_judged.send(
        "queueing",
        hospital_id=hospital_id,
        service_point_id=point_id,
        service_date=day,
        hour=hour,
        shown=shown,
        inside=inside,
        abs_error_seconds=shown * 120,
        now=NOW,
    )


def test_judged_ranges_add_up_per_hour_and_show_on_the_statistics_page(
    client: Any, ward: Any, create_service_point: Any
) -> None:
    point = create_service_point(ward.hospital)
    day = date(2026, 11, 3)
    _judged(ward.hospital.id, point.id, day, 9, 10, 8)
    _judged(ward.hospital.id, point.id, day, 9, 10, 9)  # the same hour: added up
    _judged(ward.hospital.id, point.id, day, 10, 20, 14)
    figures = wait_accuracy.wait_accuracy(ward.hospital, start=day, end=day, language="en")
    (row,) = figures.rows
    assert (row.shown, row.coverage, row.mae_minutes) == (40, 31 / 40, 2.0)
    assert figures.hours == [9, 10] and figures.coverage_by_hour == [85.0, 70.0]
    sign_in_as(client, ward.lab)
    assert client.get("/reports/statistics?start=2026-11-03&end=2026-11-03").status_code == 403
    sign_in_as(client, ward.admin)
    page = client.get("/reports/statistics?start=2026-11-03&end=2026-11-03")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "data-accuracy-table" in html
    assert "77.5%" in html and (point.name_en in html or point.name_zh in html)
    empty = client.get("/reports/statistics?start=2026-10-01&end=2026-10-02")
    assert "data-no-accuracy" in empty.get_data(as_text=True)
