"""The display board's page: a full screen of its own, named after its department, with the
hospital's time; nothing of another hospital, and no site controls."""

from __future__ import annotations

from datetime import timedelta

from hospital.db import utcnow
from hospital.zones import zone_for
from tests.support import queueing_factories as qf

HUGE = "99999999999999999999999"


def test_a_department_board_names_the_department_and_shows_the_hospitals_time(
    client, hospital, create_department, create_service_point
):
    department = create_department(hospital, name_zh="心血管内科", name_en="Cardiology")
    point = create_service_point(hospital, department_id=department.id)
    qf.open_queue(point, now=utcnow())

    page = client.get(f"/queueing/board?department={department.id}&lang=zh")

    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "心血管内科" in html and "Cardiology" in html
    assert f'data-zone="{hospital.timezone}"' in html
    local = utcnow().astimezone(zone_for(hospital))
    assert any(
        f">{(local + timedelta(minutes=m)).strftime('%H:%M')}</time>" in html for m in (-1, 0, 1)
    )
    # Its own page: no header, no language or elder-mode switch, no sign-in, no form.
    for control in ("site-header", "<form", "<button", "<a ", "data-switch", "sign-in"):
        assert control not in html, control
    assert "data-sound" not in html
    assert "data-sound" in client.get(
        f"/queueing/board?department={department.id}&sound=1"
    ).get_data(as_text=True)


def test_a_points_board_takes_the_name_of_their_department(
    client, hospital, create_department, create_service_point
):
    department = create_department(hospital, name_zh="眼科", name_en="Ophthalmology")
    points = [create_service_point(hospital, department_id=department.id) for _ in range(2)]
    ids = ",".join(str(p.id) for p in points)
    html = client.get(f"/queueing/board?points={ids}&lang=en").get_data(as_text=True)
    assert "Ophthalmology" in html and "眼科" in html


def test_another_hospitals_department_is_not_named_and_a_huge_id_is_no_error(
    client, hospital, create_hospital, create_department
):
    other = create_hospital(code="OTHER")
    theirs = create_department(other, name_zh="别院科室", name_en="Elsewhere")
    html = client.get(f"/queueing/board?department={theirs.id}").get_data(as_text=True)
    assert "别院科室" not in html and "Elsewhere" not in html
    assert client.get(f"/queueing/board?department={HUGE}").status_code < 500
    assert client.get(f"/queueing/board?points=1,{HUGE}").status_code < 500
