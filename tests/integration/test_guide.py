"""The guide on the demo hospital: routes between all its points, triage, and the admin's edits."""

from __future__ import annotations

import itertools
from typing import Any

import pytest
import sqlalchemy as sa

from hospital.accounts.models import Role
from hospital.db import db, utcnow
from hospital.demo import seed_consultation_rooms, seed_counters, seed_departments, seed_hospital
from hospital.guide.demo_map import seed_map
from hospital.guide.models import MapFloor, TriageEntryEdit
from hospital.guide.services import maps
from hospital.guide.wayfinding import STAIRS, shortest_route
from hospital.organisation.models import Hospital
from tests.support.auth import sign_in

XHR = {"X-Requested-With": "fetch"}


@pytest.fixture
def demo(db_session: Any) -> Hospital:
    now = utcnow()
    hospital = seed_hospital(now=now)
    departments = seed_departments(hospital, now=now)
    seed_consultation_rooms(hospital, departments, now=now)
    seed_counters(hospital, departments, now=now)
    seed_map(hospital.id, now=now)
    db.session.flush()
    return hospital


@pytest.fixture
def patient_client(client: Any, demo: Hospital, create_account: Any) -> Any:
    sign_in(client, create_account(demo))
    return client


@pytest.fixture
def admin_client(client: Any, demo: Hospital, create_account: Any) -> Any:
    sign_in(client, create_account(demo, roles=(Role.ADMIN,)))
    return client


def _check_text_matches(graph: Any, route: Any, steps: Any) -> None:
    codes = [n.code for n in route.nodes]
    covered = [code for step in steps for code in step.nodes]
    assert covered == codes, "every node is in exactly one step, in order"
    assert steps[0].kind == "start" and steps[-1].kind == "arrive"
    position = 1
    for step in steps[1:-1]:
        span = codes[position - 1 : position + len(step.nodes)]
        edges = route.edges[position - 1 : position - 1 + len(step.nodes)]
        floors = {graph.nodes[c].floor for c in span}
        if step.kind == "walk":
            assert len(floors) == 1, "a walk stays on one floor"
            assert f"{sum(e.length_m for e in edges)} m" in step.en
            assert f"{sum(e.length_m for e in edges)}米" in step.zh
        elif step.kind == "cross":
            assert len(step.nodes) == 1 and len(floors) == 2
            assert f"{edges[0].length_m} m" in step.en and f"{edges[0].length_m}米" in step.zh
        else:
            assert step.kind in ("lift", "stairs")
            kinds = [graph.nodes[c].kind for c in span]
            assert all(k == step.kind for k in kinds), (step, kinds, codes)
            target = graph.floors[graph.nodes[span[-1]].floor]
            assert f"floor {target.floor}" in step.en and f"{target.floor}楼" in step.zh
        position += len(step.nodes)
    last = route.nodes[-1]
    assert last.name_en in steps[-1].en and last.name_zh in steps[-1].zh


def test_every_two_places_of_the_demo_hospital_are_joined_and_described(demo: Hospital) -> None:
    graph = maps.load_graph(demo.id)
    assert len(graph.floors) >= 6 and not graph.problems()
    places = [n.code for n in graph.nodes.values() if n.kind in ("point", "entrance")]
    assert len(places) > 25
    for a, b in itertools.permutations(places, 2):
        for step_free in (False, True):
            route = shortest_route(graph, a, b, step_free=step_free)
            if step_free and "A1-EAST-DOOR" in (a, b):
                assert route is None, "the east door has steps: no step-free way in or out"
                continue
            assert route is not None, (a, b, step_free)
            if step_free:
                assert route.step_free
                assert all(e.step_free for e in route.edges)
                assert not any(n.kind == STAIRS for n in route.nodes)
            answer = maps.RouteAnswer(route, maps.describe(graph, route), graph)
            _check_text_matches(graph, route, answer.steps)


def test_the_step_free_route_takes_the_lift_where_the_shortest_takes_the_stairs(
    demo: Hospital,
) -> None:
    shortest = maps.route_between(demo.id, to_point="NK-01")
    step_free = maps.route_between(demo.id, to_point="NK-01", step_free=True)
    assert [s.kind for s in shortest.steps].count("stairs") == 1
    assert "lift" not in [s.kind for s in shortest.steps]
    assert [s.kind for s in step_free.steps].count("lift") == 1
    assert step_free.route.length_m > shortest.route.length_m
    assert shortest.route.nodes[0].code == "A1-ENTRANCE"
    assert "Take the stairs to building A, floor 2." in [s.en for s in shortest.steps]
    assert "乘电梯到A座2楼。" in [s.zh for s in step_free.steps]


def test_the_route_api_answers_steps_and_highlighted_maps(patient_client: Any) -> None:
    r = patient_client.get(
        "/api/v1/guide/route?to_point=IMG-1&from_point=PHARM-1&accessible=1&lang=en"
    )
    assert r.status_code == 200, r.get_json()
    body = r.get_json()
    assert body["step_free"] and body["nodes"][0] == "P-PHARM-1" and body["nodes"][-1] == "P-IMG-1"
    assert [f["floor"] for f in body["floors"]] == ["A/1", "B/1"]
    assert 'class="route"' in body["floors"][0]["svg"]
    assert body["steps"][-1]["en"].startswith("You have arrived at Imaging")
    missing = patient_client.get("/api/v1/guide/route?to_point=NOWHERE")
    assert missing.status_code == 404 and missing.get_json()["code"] == "route_not_found"
    assert patient_client.get("/api/v1/guide/route?to_point=a%20b").status_code == 422


def test_the_route_page_and_the_panel_any_page_embeds(patient_client: Any) -> None:
    page = patient_client.get("/guide/route?to_point=YK-01&accessible=1").get_data(as_text=True)
    assert 'data-route data-step-free="true"' in page
    assert "乘电梯到A座5楼" in page and "<svg" in page
    nowhere = patient_client.get("/guide/route?to_point=NOWHERE").get_data(as_text=True)
    assert "data-no-route" in nowhere


@pytest.mark.parametrize(
    ("q", "first", "emergency"),
    [
        ("胸痛", "JZK", True),
        ("孩子发烧咳嗽", "EK", False),
        ("膝盖疼", "WK", False),
        ("pay my bill", "PAY", False),
    ],
)
def test_triage_answers_for_the_hospitals_own_departments(
    patient_client: Any, q: str, first: str, emergency: bool
) -> None:
    r = patient_client.get("/api/v1/guide/triage", query_string={"q": q})
    assert r.status_code == 200
    body = r.get_json()
    assert body["emergency"] is emergency
    assert body["suggestions"][0]["code"] == first
    if emergency:
        assert "120" in body["emergency_message_zh"] and "120" in body["emergency_message_en"]
    if first == "WK":  # the demo has no orthopaedics: surgery, by an orthopaedic surgeon
        assert body["suggestions"][0]["clinician_zh"] == "骨科医生"
        assert "/book/departments/" in body["suggestions"][0]["url"]
    if first == "PAY":
        assert body["suggestions"][0]["url"] == "/billing/orders"


def test_triage_refuses_an_empty_question(patient_client: Any) -> None:
    assert patient_client.get("/api/v1/guide/triage?q=").status_code == 422


def test_an_admin_edit_changes_the_answers_and_undoing_restores_them(admin_client: Any) -> None:
    entry = {
        "kind": "symptom",
        "label_zh": "牙齿口腔问题",
        "label_en": "teeth",
        "zh": ["牙疼", "牙花子疼"],
        "en": ["toothache"],
        "targets": {"WK": 3},
    }
    r = admin_client.put("/api/v1/guide/lexicon/teeth", json=entry)
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["pinyin_initials"] == ["yt", "yhzt"]
    answer = admin_client.get("/api/v1/guide/triage", query_string={"q": "牙花子疼"}).get_json()
    assert answer["suggestions"][0]["code"] == "WK"
    listed = {e["key"]: e for e in admin_client.get("/api/v1/guide/lexicon").get_json()}
    assert (
        listed["teeth"]["edited"] and listed["fever"]["shipped"] and not listed["fever"]["edited"]
    )
    assert admin_client.delete("/api/v1/guide/lexicon/teeth", headers=XHR).status_code == 204
    answer = admin_client.get("/api/v1/guide/triage", query_string={"q": "牙花子疼"}).get_json()
    assert answer["suggestions"] == []
    assert admin_client.delete("/api/v1/guide/lexicon/teeth", headers=XHR).status_code == 404


def test_a_bad_entry_is_refused_and_nothing_is_written(admin_client: Any, demo: Hospital) -> None:
    bad = {"kind": "symptom", "label_zh": "x", "label_en": "x", "targets": {"NOPE": 1}}
    assert admin_client.put("/api/v1/guide/lexicon/x", json=bad).status_code == 422
    assert (
        admin_client.put("/api/v1/guide/lexicon/Bad-Key", json={**bad, "targets": {}}).status_code
        == 422
    )
    count = db.session.scalar(sa.select(sa.func.count()).select_from(TriageEntryEdit))
    assert count == 0


def test_only_admins_change_the_lexicon_or_the_map(patient_client: Any) -> None:
    entry = {"kind": "symptom", "label_zh": "x", "label_en": "x"}
    assert patient_client.put("/api/v1/guide/lexicon/x", json=entry).status_code == 403
    assert (
        patient_client.put(
            "/api/v1/guide/map", json={"floors": [], "nodes": [], "edges": []}
        ).status_code
        == 403
    )
    assert patient_client.get("/staff/guide/lexicon").status_code == 403


def test_the_admin_replaces_the_map_whole_or_not_at_all(admin_client: Any, demo: Hospital) -> None:
    current = admin_client.get("/api/v1/guide/map").get_json()
    broken = {
        **current,
        "edges": [*current["edges"], {"from": "A1-ENTRANCE", "to": "GHOST", "length_m": 3}],
    }
    r = admin_client.put("/api/v1/guide/map", json=broken)
    assert r.status_code == 422 and r.get_json()["code"] == "map_invalid"
    assert "GHOST" in r.get_json()["message"]
    small = {
        "floors": [{"building": "A", "floor": "1"}],
        "nodes": [
            {
                "code": "IN",
                "kind": "entrance",
                "building": "A",
                "floor": "1",
                "x": 0,
                "y": 0,
                "name_en": "Door",
            },
            {
                "code": "DESK",
                "kind": "point",
                "building": "A",
                "floor": "1",
                "x": 10,
                "y": 0,
                "service_point": "REG-1",
            },
        ],
        "edges": [{"from": "IN", "to": "DESK", "length_m": 10}],
    }
    r = admin_client.put("/api/v1/guide/map", json=small)
    assert r.get_json() == {"floors": 1, "nodes": 2, "edges": 1}
    route = admin_client.get("/api/v1/guide/route?to_point=REG-1&lang=en").get_json()
    assert route["nodes"] == ["IN", "DESK"] and route["length_m"] == 10
    assert (
        db.session.scalar(
            sa.select(sa.func.count()).select_from(MapFloor).where(MapFloor.hospital_id == demo.id)
        )
        == 1
    )


def test_the_admin_pages_edit_the_lexicon_and_show_the_maps(admin_client: Any) -> None:
    page = admin_client.get("/staff/guide/lexicon?edit=fever&try=发烧").get_data(as_text=True)
    assert 'id="entry-fever"' in page and "data-suggestion=" in page
    maps_page = admin_client.get("/staff/guide/map").get_data(as_text=True)
    assert maps_page.count("data-floor-preview") >= 6


def test_the_ask_page_warns_first_and_shows_the_reason(patient_client: Any) -> None:
    page = patient_client.get("/guide/ask", query_string={"q": "孩子发烧咳嗽"}).get_data(
        as_text=True
    )
    assert "儿童、发热、咳嗽 → 儿科" in page
    urgent = patient_client.get("/guide/ask", query_string={"q": "喘不上气"}).get_data(as_text=True)
    assert urgent.index("data-emergency") < urgent.index("data-suggestions")
    assert 'href="tel:120"' in urgent


def test_elder_mode_shows_the_microphone_hint(patient_client: Any) -> None:
    assert "data-mic-hint" not in patient_client.get("/guide/ask").get_data(as_text=True)
    patient_client.post("/elder-mode/on")
    assert "data-mic-hint" in patient_client.get("/guide/ask").get_data(as_text=True)


def test_the_ticket_page_shows_the_way_from_the_entrance(
    client: Any, demo: Hospital, create_account: Any
) -> None:
    from hospital.organisation.models import ServicePoint
    from tests.support import queueing_factories as qf

    point = db.session.scalar(
        sa.select(ServicePoint).where(
            ServicePoint.hospital_id == demo.id, ServicePoint.code == "EK-01"
        )
    )
    qf.open_queue(point, now=utcnow())
    sign_in(client, create_account(demo, roles=(Role.NURSE,)))
    ticket = client.post("/api/v1/queueing/tickets", json={"service_point_id": point.id}).get_json()
    page = client.get(f"/q/{ticket['token']}").get_data(as_text=True)
    assert 'data-route data-step-free="false"' in page
    assert "从门诊楼正门出发" in page and "走楼梯到A座2楼" in page
    client.post("/elder-mode/on")
    elder = client.get(f"/q/{ticket['token']}").get_data(as_text=True)
    assert 'data-route data-step-free="true"' in elder and "乘电梯到A座2楼" in elder


def test_the_booking_page_answers_plain_words_above_the_departments(patient_client: Any) -> None:
    page = patient_client.get("/book", query_string={"q": "孩子发烧"}).get_data(as_text=True)
    assert 'data-suggestion="EK"' in page and "儿童、发热 → 儿科" in page
    assert "data-no-departments" not in page
    urgent = patient_client.get("/book", query_string={"q": "胸痛"}).get_data(as_text=True)
    assert "data-emergency" in urgent


def test_the_kiosk_asks_and_prints_the_way_on_the_slip(client: Any, demo: Hospital) -> None:
    from hospital.organisation.models import ServicePoint
    from kiosk.printing.slip import slip_lines
    from kiosk.services.slips import ticket_slip
    from queueing.services import issuing
    from tests.support import queueing_factories as qf
    from tests.support.kiosk_factories import create_kiosk

    _device, token = create_kiosk(demo, now=utcnow())
    db.session.commit()
    assert client.post("/kiosk/setup", data={"token": token}).status_code == 302
    page = client.get("/kiosk").get_data(as_text=True)
    assert 'data-action="guide-ask"' in page and 'data-screen="guide"' in page
    assert "kiosk/guide.js" in page
    answer = client.get("/api/v1/guide/triage", query_string={"q": "眼睛痒"}).get_json()
    assert answer["suggestions"][0]["code"] == "YK"
    assert answer["suggestions"][0]["service_point"] == "YK-01"

    point = db.session.scalar(
        sa.select(ServicePoint).where(
            ServicePoint.hospital_id == demo.id, ServicePoint.code == "YK-01"
        )
    )
    qf.open_queue(point, now=utcnow())
    ticket = issuing.issue_walk_in(
        actor=None, hospital_id=demo.id, service_point_id=point.id, now=utcnow()
    )
    slip = ticket_slip(ticket, ahead=0, now=utcnow())
    assert slip.route_zh[0].startswith("从门诊楼正门出发") and slip.route_en[-1].startswith(
        "You have arrived"
    )
    text = [line for _style, line in slip_lines(slip)]
    assert any("走楼梯到A座5楼" in line for line in text)


def test_the_route_fragment_embeds_in_any_page(patient_client: Any) -> None:
    r = patient_client.get("/guide/route/panel?to_point=PHARM-1&from_point=REG-1&no_map=1")
    assert r.status_code == 200
    html = r.get_data(as_text=True)
    assert html.startswith("\n<section") or html.lstrip().startswith("<section")
    assert "<svg" not in html and "<html" not in html and "从挂号处出发" in html
    missing = patient_client.get("/guide/route/panel?to_point=NOWHERE")
    assert missing.status_code == 404 and "data-no-route" in missing.get_data(as_text=True)


def test_the_admin_edits_an_entry_through_the_form(admin_client: Any) -> None:
    form = {
        "key": "teeth",
        "kind": "symptom",
        "label_zh": "牙齿口腔问题",
        "label_en": "teeth",
        "zh": "牙疼，牙花子疼、大牙疼",
        "en": "toothache",
        "pinyin": "yahuazi",
        "targets": "WK:3, KQK",
        "active": "on",
    }
    r = admin_client.post("/staff/guide/lexicon", data=form)
    assert r.status_code == 302
    answer = admin_client.get("/api/v1/guide/triage", query_string={"q": "大牙疼"}).get_json()
    assert answer["suggestions"][0]["code"] == "WK"
    bad = admin_client.post("/staff/guide/lexicon", data={**form, "targets": "NOPE:2"})
    assert bad.status_code == 422 and "NOPE" not in str(
        db.session.scalar(sa.select(TriageEntryEdit.body).where(TriageEntryEdit.key == "teeth"))
    )
    map_page = admin_client.post("/staff/guide/map", data={"map": "{not json"})
    assert map_page.status_code == 422 and "data-map-form" in map_page.get_data(as_text=True)
