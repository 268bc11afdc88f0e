"""Staff productivity and the hour-of-day heatmap, fed by queueing's signals into the summary."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from queueing.services import calling, serving
from reports import productivity
from tests.integration.reports.conftest import sign_in_as
from tests.support import queueing_factories as qf

NOW = datetime(2026, 11, 3, 1, 0, tzinfo=UTC)  # 09:00 in Shanghai
DAY = date(2026, 11, 3)


def _at(minutes: float) -> datetime:
    return NOW + timedelta(minutes=minutes)


def test_calls_service_walk_idle_and_pauses_per_counter_and_staff_member(
    client: Any, ward: Any, create_service_point: Any
) -> None:
    hospital, nurse = ward.hospital, ward.nurse
    point = create_service_point(hospital)
    qf.open_queue(point, now=NOW)
    counter = qf.create_counter(point, code="7")
    ids = {"hospital_id": hospital.id, "counter_id": counter.id}
    qf.walk_in(hospital, point, now=_at(0))
    qf.walk_in(hospital, point, now=_at(1))
    qf.walk_in(hospital, point, now=_at(70))  # arrives in the 10:00 hour
    # First patient: called at 5, starts at 7 (walk 2), done at 15 (service 8).
    calling.call_next(actor=nurse, now=_at(5), **ids)
    serving.start(actor=nurse, now=_at(7), **ids)
    serving.complete(actor=nurse, now=_at(15), **ids)
    # A 10-minute pause inside a 20-minute gap: idle 10.
    serving.set_paused(actor=nurse, paused=True, reason="break", minutes=10, now=_at(20), **ids)
    serving.set_paused(actor=nurse, paused=False, now=_at(30), **ids)
    calling.call_next(actor=nurse, now=_at(35), **ids)
    serving.start(actor=nurse, now=_at(39), **ids)
    serving.complete(actor=nurse, now=_at(45), **ids)
    # The third patient is called by a device-less console (no staff member): a row of its own.
    calling.call_next(actor=None, now=_at(80), **ids)
    serving.complete(actor=None, now=_at(84), **ids)

    rows = productivity.staff_productivity(hospital, start=DAY, end=DAY, language="en")
    by_staff = {r.staff: r for r in rows}
    mine = by_staff[nurse.display_name or nurse.username]
    assert mine.counter.endswith("7")
    assert (mine.calls, mine.service_minutes, mine.walk_minutes) == (2, 7.0, 3.0)
    assert (mine.idle_minutes, mine.pauses, mine.pause_minutes) == (10.0, 1, 10.0)
    device = by_staff[""]
    assert (device.calls, device.service_minutes, device.walk_minutes) == (1, 4.0, None)
    assert device.idle_minutes == 35.0  # from 45 to 80, no pause

    heat = productivity.queue_heatmap(hospital, start=DAY, end=DAY, language="en")
    assert heat.hours == [9, 10]
    (row,) = heat.rows
    assert [c.value for c in row.arrivals] == [2.0, 1.0]
    # Waits: 5 and 34 minutes in the 09:00 hour (mean 19.5), 10 minutes in the 10:00 hour.
    assert [c.value for c in row.waits] == [19.5, 10.0]
    assert [c.level for c in row.arrivals] == [5, 3]

    sign_in_as(client, ward.admin)
    html = client.get("/reports/statistics?start=2026-11-03&end=2026-11-03").get_data(as_text=True)
    assert "data-staff-table" in html and 'data-heatmap="arrivals"' in html
    assert 'data-heatmap="waits"' in html and "19.5" in html and "<caption>" in html
    zh = client.get("/reports/statistics?start=2026-11-03&end=2026-11-03&lang=zh").get_data(
        as_text=True
    )
    assert "员工工作量" in zh
    empty = client.get("/reports/statistics?start=2026-10-01&end=2026-10-02")
    assert "data-no-productivity" in empty.get_data(as_text=True)
