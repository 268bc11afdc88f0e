"""IHE ITI Scheduling operations: $find (ITI-115), $hold (ITI-116), $book and cancel (ITI-117).

Each maps FHIR parameters onto one scheduling service call and maps the answer back; the
booking rules (release, window, limits, suspensions, hold expiry, fees, cut-offs) stay in
scheduling's services.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from flask import current_app
from flask_babel import lazy_gettext as _l

from hospital.error_codes import ErrorCode
from hospital.errors import DomainError, NotFound
from scheduling.fhir import reads
from scheduling.fhir import resources as fhir
from scheduling.fhir.auth import Principal
from scheduling.fhir.params import (
    DEFAULT_COUNT,
    BadParameter,
    Range,
    _int,
    date_range,
    reference_id,
    token_code,
)
from scheduling.models import Appointment, FeeClass
from scheduling.services import booking, changes, queries, rules

FIND_PARAMETERS = frozenset(
    {
        "start",
        "end",
        "specialty",
        "service-type",
        "practitioner",
        "location",
        "patient",
        "_count",
        "_offset",
    }
)
MAX_FIND = 10000  # a whole answer at once, for callers that want it


def parameters_of(body: Any) -> dict[str, list[Any]]:
    """The values of a FHIR Parameters resource, by name (resources under "resource")."""
    if not isinstance(body, dict) or body.get("resourceType") != "Parameters":
        raise BadParameter(
            _l("Send a FHIR Parameters resource as the body."), code=ErrorCode.NOT_PARAMETERS
        )
    found: dict[str, list[Any]] = {}
    items = body.get("parameter", [])
    if not isinstance(items, list):
        raise BadParameter(
            _l("Parameters.parameter must be a list."), code=ErrorCode.NOT_PARAMETERS
        )
    for item in items:
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):
            raise BadParameter(_l("Each parameter needs a name."), code=ErrorCode.NOT_PARAMETERS)
        values = [v for k, v in item.items() if k.startswith("value") or k == "resource"]
        if len(values) != 1:
            raise BadParameter(
                _l("Parameter %(name)s needs exactly one value.", name=item["name"][:40]),
                code=ErrorCode.INVALID_PARAMETER,
            )
        found.setdefault(item["name"], []).append(values[0])
    return found


def _first_coding_code(concept: dict[str, Any]) -> Any:
    """The code of a CodeableConcept's first coding (None when it has none or is malformed)."""
    codings = concept.get("coding")
    first = codings[0] if isinstance(codings, list) and codings else None
    return first.get("code") if isinstance(first, dict) else None


def _text(values: list[Any], name: str) -> str | None:
    if not values:
        return None
    value = values[0]
    if isinstance(value, dict):  # valueCoding / valueCodeableConcept / valueReference
        value = value.get("code") or value.get("reference") or _first_coding_code(value)
    if not isinstance(value, str | int) or isinstance(value, bool):
        raise BadParameter(
            _l("Parameter %(name)s has a value of the wrong type.", name=name),
            code=ErrorCode.INVALID_PARAMETER,
        )
    return str(value)


def page_value(value: Any) -> str:
    """A parameter value as a query-string value, for the next page's link (checked by find)."""
    return str(_text([value], "value"))


def find(
    principal: Principal, given: dict[str, list[Any]], *, now: datetime
) -> tuple[list[bytes], int, int, int]:
    """One page of proposed appointments built from free places (ITI-115).

    Returns (entries, total, page size, offset): the entries are the UTF-8 text of searchset
    Bundle entries holding proposed Appointments, in pieces (`resources.bundle_bytes` puts them
    in the Bundle); the page is `_count` long (DEFAULT_COUNT unless asked) and the caller links
    the next page.
    """
    extra = set(given) - FIND_PARAMETERS
    if extra:
        from scheduling.fhir.params import unknown

        raise unknown(extra)
    hospital_id = principal.hospital_id
    cat = reads.catalogue(hospital_id)
    zone = rules.hospital_zone(hospital_id)
    window = Range()
    start, end = _text(given.get("start", []), "start"), _text(given.get("end", []), "end")
    if start:
        window = window.meet(Range(date_range([start], zone).lower, None))
    if end:
        window = window.meet(Range(None, date_range([end], zone).upper))
    terms: dict[str, Any] = {"window": window, "only_bookable": True}
    code = _text(given.get("specialty", []), "specialty")
    if code:
        department = cat.department_by_code(token_code(code))
        if department is None:
            return [], 0, 0, 0
        terms["department_id"] = department.id
    kind = _text(given.get("service-type", []), "service-type")
    if kind:
        try:
            terms["fee_class"] = FeeClass(token_code(kind))
        except ValueError:
            return [], 0, 0, 0
    who = _text(given.get("practitioner", []), "practitioner")
    if who:
        terms["clinician_id"] = reference_id(who, "Practitioner")
    where = _text(given.get("location", []), "location")
    if where:
        terms["service_point_id"] = reference_id(where, "Location")
    patient = _text(given.get("patient", []), "patient")
    patient_id = reference_id(patient, "Patient") if patient else None
    if (
        patient_id is not None
        and principal.is_patient
        and patient_id not in reads.visible_patient_ids(principal.account)
    ):
        raise NotFound(
            _l("No patient with this id is linked to your account."),
            code=ErrorCode.PATIENT_NOT_FOUND,
        )
    size = _int(_text(given.get("_count", []), "_count"), "_count", DEFAULT_COUNT, 1, MAX_FIND)
    offset = _int(_text(given.get("_offset", []), "_offset"), "_offset", 0, 0, 10**7)
    places = reads.bookable_places(
        hospital_id, reads.SlotFilter(**terms), now=now, count=size, offset=offset
    )
    return _ProposalWriter(patient_id, cat).entries(places), places.total, size, offset


def proposal(place: reads.Proposal, patient_id: int | None, cat: reads.Catalogue) -> dict[str, Any]:
    """A proposed Appointment (ITI-115), built from the row (the shape `_ProposalWriter` writes)."""
    people = fhir.participants(patient_id, place.clinician_id, place.service_point_id)
    people.append(cat.department_actor(place.department_id))
    return {
        "resourceType": "Appointment",
        "status": "proposed",
        "serviceType": cat.service_type(place.fee_class),
        "specialty": cat.specialty(place.department_id),
        "start": fhir.instant(place.starts_at),
        "end": fhir.instant(place.ends_at),
        "slot": [{"reference": f"Slot/{place.slot_id}"}],
        "participant": people,
        "extension": [fhir.fee(place.fee_fen)],
    }


_SLOT = "Slot/0"  # `proposal` for a stand-in place: split around its start, end and slot id
_START, _END = "2000-01-01T00:00:00Z", "2000-01-01T00:00:01Z"


class _ProposalWriter:
    """Proposals as searchset Bundle entries: the UTF-8 text of `proposal`, in pieces.

    A whole answer is thousands of places sharing a few clinicians, rooms, fees and times: the
    text before a place's start and after its slot id is serialised once per session's terms
    (from `proposal` itself, so the two cannot drift apart), the text from its start to its
    slot id once per (start, end), and each entry is four pieces of bytes joined once with the
    rest of the answer: no per-place objects, and no encoding of the whole text at the end.
    """

    def __init__(self, patient_id: int | None, cat: reads.Catalogue) -> None:
        self.patient_id = patient_id
        self.cat = cat
        self.frames: dict[reads.SessionTerms, tuple[bytes, bytes]] = {}
        self.between: tuple[bytes, bytes] | None = None  # the text start-end, end-slot id

    def _frame(self, terms: reads.SessionTerms) -> tuple[bytes, bytes]:
        """The text before the start and after the slot id of an entry for these terms."""
        frame = self.frames.get(terms)
        if frame is not None:
            return frame
        stand_in = reads.Proposal(
            0, datetime.fromisoformat(_START), datetime.fromisoformat(_END), *terms
        )
        text = json.dumps(
            {
                "resource": proposal(stand_in, self.patient_id, self.cat),
                "search": {"mode": "match"},
            },
            ensure_ascii=False,
        )
        head, rest = text.split(json.dumps(_START), 1)
        middle, rest = rest.split(json.dumps(_END), 1)
        before_id, tail = rest.split(json.dumps(_SLOT), 1)
        between = (f'"{middle}"'.encode(), f'"{before_id}"Slot/'.encode())
        if self.between is None:
            self.between = between
        # Each frame is cut the same way: start, end and slot are neighbours in `proposal`.
        assert between == self.between, "a proposal's start, end and slot are no longer adjacent"
        frame = self.frames[terms] = (f', {head}"'.encode(), f'"{tail}'.encode())
        return frame

    def entries(self, places: reads.BookablePlaces) -> list[bytes]:
        """The entries' text, in pieces to join, separated by commas."""
        pieces: list[bytes] = []
        append = pieces.append
        framed: dict[int, tuple[bytes, bytes]] = {}
        times: dict[tuple[Any, Any], bytes] = {}
        for slot_id, session_id, starts, ends in places.rows:
            frame = framed.get(session_id)
            if frame is None:
                frame = framed[session_id] = self._frame(places.sessions[session_id])
            span = times.get((starts, ends))
            if span is None:
                assert self.between is not None
                middle, before_id = self.between
                span = times[starts, ends] = b"".join(
                    (
                        fhir.instant(places.time(starts)).encode(),
                        middle,
                        fhir.instant(places.time(ends)).encode(),
                        before_id,
                    )
                )
            append(frame[0])
            append(span)
            append(b"%d" % slot_id)
            append(frame[1])
        if pieces:
            pieces[0] = pieces[0][2:]  # no comma before the first entry
        return pieces


def _appointment_input(given: dict[str, list[Any]]) -> dict[str, Any]:
    extra = set(given) - {"appointment-resource"}
    if extra:
        from scheduling.fhir.params import unknown

        raise unknown(extra)
    values = given.get("appointment-resource", [])
    if len(values) != 1 or not isinstance(values[0], dict):
        raise BadParameter(
            _l("Send one Appointment as the appointment-resource parameter."),
            code=ErrorCode.APPOINTMENT_REQUIRED,
        )
    resource = values[0]
    if resource.get("resourceType") != "Appointment":
        raise BadParameter(
            _l("appointment-resource must be an Appointment."), code=ErrorCode.APPOINTMENT_REQUIRED
        )
    return resource


def _slot_and_patient(resource: dict[str, Any]) -> tuple[int, int]:
    slots = resource.get("slot")
    if not isinstance(slots, list) or len(slots) != 1 or not isinstance(slots[0], dict):
        raise BadParameter(
            _l("The Appointment must name exactly one Slot."), code=ErrorCode.SLOT_REQUIRED
        )
    slot_id = reference_id(slots[0].get("reference"), "Slot")
    patients = [
        p["actor"]["reference"]
        for p in resource.get("participant") or []
        if isinstance(p, dict)
        and isinstance(p.get("actor"), dict)
        and str(p["actor"].get("reference", "")).startswith("Patient/")
    ]
    if len(patients) != 1:
        raise BadParameter(
            _l("The Appointment must name exactly one Patient participant."),
            code=ErrorCode.PATIENT_REQUIRED,
        )
    return slot_id, reference_id(patients[0], "Patient")


def hold(principal: Principal, given: dict[str, list[Any]], *, now: datetime) -> Appointment:
    """ITI-116: hold the Slot of a proposed Appointment for its Patient."""
    slot_id, patient_id = _slot_and_patient(_appointment_input(given))
    return booking.hold(actor=principal.account, patient_id=patient_id, slot_id=slot_id, now=now)


def book(
    principal: Principal, given: dict[str, list[Any]], *, now: datetime
) -> tuple[Appointment, dict[str, Any] | None]:
    """ITI-117: book a held (or proposed) Appointment, or cancel one (status cancelled).

    Returns the appointment and, when a fee is due, an OperationOutcome saying where to pay.
    """
    resource = _appointment_input(given)
    status = resource.get("status")
    appointment_id = reference_id(resource["id"], "Appointment") if "id" in resource else None
    if status == "cancelled":
        if appointment_id is None:
            raise BadParameter(
                _l("Name the Appointment to cancel by its id."), code=ErrorCode.APPOINTMENT_REQUIRED
            )
        reason = resource.get("cancelationReason") or {}
        text = reason.get("text", "") if isinstance(reason, dict) else ""
        cancelled = changes.cancel(
            appointment_id, actor=principal.account, now=now, reason=str(text)[:200]
        )
        return cancelled, None
    if status not in ("booked", "pending", "proposed", None):
        raise BadParameter(
            _l("$book takes an Appointment with status booked or cancelled."),
            code=ErrorCode.INVALID_STATUS,
        )
    if appointment_id is None:
        slot_id, patient_id = _slot_and_patient(resource)
        appointment_id = booking.hold(
            actor=principal.account, patient_id=patient_id, slot_id=slot_id, now=now
        ).id
    try:
        return booking.confirm(appointment_id, actor=principal.account, now=now), None
    except DomainError as refusal:
        if refusal.code != ErrorCode.PAYMENT_REQUIRED:
            raise
        held = queries.get_appointment(appointment_id, actor=principal.account)
        base = current_app.config.get("PUBLIC_URL", "").rstrip("/")
        where = f"{base}/appointments/{held.id}/confirm"
        text = f"{refusal.message} {where}"
        return held, fhir.outcome("warning", "business-rule", "payment_required", text)
