"""The kiosk's "where should I go?" screen in Chromium: red flags first, then the way there."""

from __future__ import annotations

from typing import Any

from hospital.db import db, utcnow
from hospital.guide.services.maps import replace_map
from hospital.unit_of_work import unit_of_work
from tests.support import factories
from tests.support.kiosk_factories import create_kiosk

GUIDE = '[data-screen="guide"]:not([hidden])'


def _eye_clinic_with_a_map(live_server: Any) -> str:
    """A hospital of its own (the shared one keeps no map): an eye room up one floor, a kiosk."""
    with live_server.app.app_context(), unit_of_work():
        hospital = factories.create_hospital()
        eyes = factories.create_department(hospital, code="YK", name_zh="眼科", name_en="Eyes")
        factories.create_service_point(
            hospital, code="YK-01", department_id=eyes.id, name_zh="眼科1诊室", name_en="Eye room 1"
        )
        floors = [{"building": "A", "floor": "1"}, {"building": "A", "floor": "2"}]
        nodes = [
            {
                "code": "IN",
                "kind": "entrance",
                "building": "A",
                "floor": "1",
                "x": 0,
                "y": 10,
                "name_zh": "正门",
                "name_en": "Main door",
            },
            {"code": "L1", "kind": "lift", "building": "A", "floor": "1", "x": 20, "y": 10},
            {"code": "L2", "kind": "lift", "building": "A", "floor": "2", "x": 20, "y": 10},
            {
                "code": "EYE",
                "kind": "point",
                "building": "A",
                "floor": "2",
                "x": 40,
                "y": 10,
                "name_zh": "眼科1诊室",
                "name_en": "Eye room 1",
                "service_point": "YK-01",
            },
        ]
        edges = [
            {"from": "IN", "to": "L1", "length_m": 20},
            {"from": "L1", "to": "L2", "length_m": 8},
            {"from": "L2", "to": "EYE", "length_m": 20},
        ]
        replace_map(
            hospital.id,
            {"floors": floors, "nodes": nodes, "edges": edges},
            actor=None,
            now=utcnow(),
        )
        _device, token = create_kiosk(hospital, now=utcnow())
        db.session.flush()
    return token


def test_the_kiosk_answers_plain_words_and_shows_the_way(page: Any, live_server: Any) -> None:
    token = _eye_clinic_with_a_map(live_server)
    page.set_viewport_size({"width": 1280, "height": 1000})
    page.context.add_cookies([{"name": "device_token", "value": token, "url": live_server.url}])
    page.goto("/kiosk?lang=en")
    page.wait_for_selector('#kiosk[data-current="start"]')
    page.click('[data-action="guide-ask"]')
    page.wait_for_selector(GUIDE)
    page.fill("#k-guide-q", "chest pain")
    page.click(f'{GUIDE} button[type="submit"]')
    alarm = page.wait_for_selector('[data-guide-answer] [role="alert"]')
    assert "120" in alarm.inner_text()
    page.fill("#k-guide-q", "itchy eyes")
    page.click(f'{GUIDE} button[type="submit"]')
    page.wait_for_selector('[data-guide-answer] [data-suggestion="YK"]')
    assert not page.query_selector('[data-guide-answer] [role="alert"]')
    page.click('[data-suggestion="YK"] button')
    steps = page.wait_for_selector("[data-guide-route] .guide-steps")
    text = steps.inner_text()
    assert "Take the lift to building A, floor 2." in text
    assert "You have arrived at Eye room 1" in text
    assert page.query_selector("[data-guide-route] svg .route")
