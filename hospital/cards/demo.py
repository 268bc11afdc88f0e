"""The demo's patient card: 李梅 carries a code for her father 李建华, who has no phone."""

from __future__ import annotations

from datetime import datetime

from hospital.cards import service
from hospital.organisation.models import Hospital
from hospital.patients.demo_family import daughter_and_father


def seed_card(hospital: Hospital, *, now: datetime) -> None:
    """Issue the father's card once; a second run (or a card the daughter reissued) adds nothing."""
    found = daughter_and_father(hospital.id)
    if found is None:
        return
    daughter, father = found
    if service.active_card(father.id) is None:
        service.issue(daughter, father.id, now=now)
