"""A hospital's map stays parsed in memory between routes: an edited room reaches the next
route without a map edit, and no hospital is given another's map."""

from __future__ import annotations

from typing import Any

import pytest

from hospital.db import db, utcnow
from hospital.guide.services import maps
from hospital.organisation.models import Hospital, ServicePoint
from tests.integration.kiosk.conftest import KioskWorld
from tests.support import factories
from tests.support.kiosk_factories import create_clinic


def _map(point_code: str, *, metres: int) -> dict[str, Any]:
    """One floor: the entrance, then the service point `metres` further on."""
    return {
        "floors": [{"building": "A", "floor": "1", "name_zh": "门诊楼1层", "name_en": "Floor 1"}],
        "nodes": [
            {"code": "IN", "kind": "entrance", "building": "A", "floor": "1", "x": 0, "y": 0},
            {
                "code": "ROOM",
                "kind": "point",
                "building": "A",
                "floor": "1",
                "x": metres,
                "y": 0,
                "name_en": "Clinic",
                "name_zh": "诊室",
                "service_point": point_code,
            },
        ],
        "edges": [{"from": "IN", "to": "ROOM", "length_m": metres}],
    }


def test_a_room_renamed_reaches_the_route_without_a_map_edit(world: KioskWorld) -> None:
    point = world.clinic.point
    maps.replace_map(world.hospital.id, _map(point.code, metres=12), actor=None, now=utcnow())
    point.room = "101"
    db.session.commit()
    assert "(room 101)" in maps.route_between(world.hospital.id, to_point=point.code).steps[-1].en

    db.session.get_one(ServicePoint, point.id).room = "215"
    db.session.commit()

    assert "(room 215)" in maps.route_between(world.hospital.id, to_point=point.code).steps[-1].en


@pytest.fixture
def second_hospital(db_session: Any, create_hospital: Any) -> Hospital:
    hospital: Hospital = create_hospital(timezone=factories.daytime_zone(utcnow()))
    return hospital


def test_no_hospital_is_given_another_hospitals_map(
    world: KioskWorld, second_hospital: Hospital
) -> None:
    other = create_clinic(second_hospital, now=utcnow(), code="OTHER")
    db.session.flush()
    # Both maps have the same node codes; only the lengths tell them apart.
    maps.replace_map(
        world.hospital.id, _map(world.clinic.point.code, metres=12), actor=None, now=utcnow()
    )
    maps.replace_map(
        second_hospital.id, _map(other.point.code, metres=55), actor=None, now=utcnow()
    )
    db.session.commit()

    for _ in range(2):  # read, then served from memory
        mine = maps.route_between(world.hospital.id, to_point=world.clinic.point.code)
        theirs = maps.route_between(second_hospital.id, to_point=other.point.code)
        assert (mine.route.length_m, theirs.route.length_m) == (12, 55)
    with pytest.raises(maps.NoRoute):
        maps.route_between(world.hospital.id, to_point=other.point.code)
    assert maps.current_map(world.hospital.id) is not maps.current_map(second_hospital.id)
