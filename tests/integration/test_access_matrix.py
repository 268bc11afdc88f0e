"""The access matrix, generated from the route policy table.

For every route that takes an object id or a token in its path, callers that have no business
with the victim's object are refused (401, 403 or 404; never a success or a redirect into the
app), nothing in the database changes, and a refusal made by an account or a device is in the
audit log. The callers: nobody signed in, an unrelated patient of the same hospital, an admin of
another hospital, each staff role the policy leaves out, each device kind it leaves out, and a
device of an admitted kind from another hospital.

Routes are read from the URL map, so a route added later is covered; a path parameter with no
victim builder in `BUILDERS` fails the test until one is written.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from werkzeug.routing import Rule

from consult.models import Consultation, ConsultAttachment, ConsultStatus
from hospital.accounts.guards import AccessPolicy
from hospital.accounts.models import STAFF_ROLES, Account, DeviceKind, Role
from hospital.accounts.services import devices
from hospital.accounts.sessions import open_session
from hospital.audit.models import AuditEntry, Outcome
from hospital.db import db, utcnow
from hospital.organisation.models import Hospital
from hospital.patients.models import FamilyLink, Patient
from hospital.web.route_policy import LIBRARY_POLICIES, route_policies
from kiosk.models import HelpRequest, WalkIn, WalkInStatus
from reports.models import ReportSource
from reports.results import IncomingReport, ResultItem
from reports.services import intake, release
from scheduling.services import templates
from tests.support import factories
from tests.support.billing_factories import create_visit_order
from tests.support.kiosk_factories import Clinic, book, create_clinic, create_kiosk
from tests.support.queueing_factories import create_counter, open_queue, walk_in

FORGED_TOKEN = "Zm9yZ2VkLXRva2VuLXRoYXQtbm9ib2R5LWhvbGRz"
FORGED_ID = 987654321
BODY_METHODS = ("POST", "PUT", "PATCH", "DELETE")
# The hospital's own catalogue (what any of its patients may browse to book), not anyone's data.
SHARED_PARAMETERS = frozenset({"department_id", "clinician_id", "session_id", "service_point_id"})
# Tables that a refused request may write: the refusals themselves, and a signed-in session's
# last-seen time.
EXEMPT_TABLES = frozenset({"audit_entry", "account_session"})


@dataclass
class World:
    """The victim's hospital A and its objects, and the strangers' hospital B."""

    now: Any
    a: Hospital
    b: Hospital
    clinic: Clinic
    victim: Account
    victim_patient: Patient
    session_tokens: dict[str, str] = field(default_factory=dict)  # caller label -> cookie
    device_tokens: dict[str, str] = field(default_factory=dict)  # caller label -> bearer
    objects: dict[str, Any] = field(default_factory=dict)


# ---- victim builders, one per path-parameter name -------------------------------------------


def _appointment(w: World) -> int:
    return book(w.clinic, w.victim_patient, now=w.now).id


def _order(w: World) -> int:
    return create_visit_order(w.a, w.victim_patient, now=w.now, visit_key="matrix").id


def _link(w: World) -> int:
    link = db.session.scalar(sa.select(FamilyLink).where(FamilyLink.account_id == w.victim.id))
    assert link is not None
    return link.id


def _report(w: World) -> str:
    lab = factories.create_account(w.a, roles=(Role.LAB,))
    (report,) = intake.receive_results(
        w.a,
        [
            IncomingReport(
                medical_record_number=w.victim_patient.medical_record_number,
                test_code="GLU",
                test_name="空腹血糖",
                signed_by="李检验",
                items=[
                    ResultItem(name="葡萄糖", value="7.9", unit="mmol/L", reference_range="3.9-6.1")
                ],
            )
        ],
        source=ReportSource.STAFF,
        now=w.now,
        actor=lab,
    )
    release.release(report, now=w.now)
    return report.public_id


def _template(w: World) -> int:
    admin = factories.create_account(w.a, roles=(Role.ADMIN,))
    values = {
        "department_id": w.clinic.department.id,
        "clinician_id": w.clinic.clinician.id,
        "weekday": 0,
        "start_time": w.clinic.session.starts_at.time().replace(hour=8, minute=0),
        "end_time": w.clinic.session.starts_at.time().replace(hour=12, minute=0),
        "slot_minutes": 30,
        "capacity": 2,
        "booking_opens_days": 14,
        "valid_from": w.now.date(),
    }
    return templates.create_template(w.a.id, values, actor=admin, now=w.now).id


def _kiosk_device(w: World) -> int:
    device, _token = create_kiosk(w.a, now=w.now, name="Victim kiosk")
    return device.id


def _help_request(w: World) -> int:
    row = HelpRequest(
        hospital_id=w.a.id, device_id=w.objects["device_id"], location="hall", created_at=w.now
    )
    db.session.add(row)
    db.session.flush()
    return row.id


def _walk_in(w: World) -> int:
    row = WalkIn(
        hospital_id=w.a.id,
        device_id=w.objects["device_id"],
        department_id=w.clinic.department.id,
        service_point_id=w.clinic.point.id,
        patient_id=w.victim_patient.id,
        account_id=w.victim.id,
        status=WalkInStatus.AWAITING_PAYMENT,
        created_at=w.now,
        expires_at=w.now + timedelta(minutes=10),
    )
    db.session.add(row)
    db.session.flush()
    return row.id


def _counter(w: World) -> int:
    open_queue(w.clinic.point, now=w.now)
    return create_counter(w.clinic.point, code="9").id


def _queue(w: World) -> int:
    return open_queue(w.clinic.point, now=w.now).id


def _ticket_token(w: World) -> str:
    """The victim's ticket (on routes where a device, not the token, is the permission)."""
    return walk_in(w.a, w.clinic.point, now=w.now, patient_id=w.victim_patient.id).token


def _lexicon_edit(w: World) -> str:
    """The victim hospital's own version of a triage lexicon entry (hospital/guide)."""
    from hospital.guide.models import TriageEntryEdit

    body = {"kind": "symptom", "label_zh": "发热", "label_en": "fever", "zh": ["发烧"]}
    db.session.add(TriageEntryEdit(hospital_id=w.a.id, key="fever", body=body, updated_at=w.now))
    db.session.flush()
    return "fever"


# A parameter the victim's object is built for. Order matters where one needs another.
def _waitlist_entry(w: World) -> int:
    from datetime import timedelta

    from scheduling.models import WaitlistEntry, WaitlistKind

    day = w.clinic.session.local_date
    entry = WaitlistEntry(
        hospital_id=w.a.id,
        patient_id=w.victim_patient.id,
        account_id=w.victim.id,
        kind=WaitlistKind.SESSION,
        session_id=w.clinic.session.id,
        clinician_id=w.clinic.clinician.id,
        department_id=w.clinic.department.id,
        first_date=day,
        last_date=day + timedelta(days=1),
        joined_at=w.now,
    )
    db.session.add(entry)
    db.session.flush()
    return entry.id


def _waitlist_offer(w: World) -> int:
    from datetime import timedelta

    from scheduling.models import Appointment, WaitlistOffer

    appointment = db.session.get(Appointment, w.objects["appointment_id"])
    assert appointment is not None
    offer = WaitlistOffer(
        hospital_id=w.a.id,
        entry_id=w.objects["entry_id"],
        slot_id=appointment.slot_id,
        appointment_id=appointment.id,
        offered_at=w.now,
        notify_at=w.now,
        expires_at=w.now + timedelta(minutes=15),
    )
    db.session.add(offer)
    db.session.flush()
    return offer.id


def _family_pool_grant(w: World) -> int:
    """The victim's own insurance account paying for a parent (hospital/billing 家庭共济)."""
    from hospital.billing.services import family_pool, insured
    from hospital.patients.models import Relationship

    parent = factories.create_patient(
        w.a, account=w.victim, relationship=Relationship.PARENT, name="王父亲"
    )
    insured.activate(actor=w.victim, patient_id=w.victim_patient.id, consent_code=None, now=w.now)
    found = family_pool.grant(
        actor=w.victim,
        beneficiary_patient_id=parent.id,
        per_payment_limit_fen=1000,
        monthly_limit_fen=5000,
        now=w.now,
    )
    return found.id


def _consultation(w: World) -> int:
    """A paid question of the victim's patient to the clinic's clinician, waiting for its answer."""
    row = Consultation(
        hospital_id=w.a.id,
        patient_id=w.victim_patient.id,
        clinician_id=w.clinic.clinician.id,
        department_id=w.clinic.department.id,
        asked_by_account_id=w.victim.id,
        status=ConsultStatus.OPEN,
        question="报告说转氨酶偏高，怎么办？",
        fee_fen=0,
        answer_hours=24,
        created_at=w.now,
        answer_due_at=w.now + timedelta(hours=24),
    )
    db.session.add(row)
    db.session.flush()
    return row.id


def _consult_attachment(w: World) -> int:
    """A photo row of the victim's consultation (the refusal comes before any file is read)."""
    row = ConsultAttachment(
        hospital_id=w.a.id,
        consultation_id=w.objects["consultation_id"],
        uploaded_by_account_id=w.victim.id,
        content_type="image/jpeg",
        size_bytes=100,
        storage_name="matrix-victim.jpg",
        created_at=w.now,
    )
    db.session.add(row)
    db.session.flush()
    return row.id


BUILDERS: dict[str, Callable[[World], Any]] = {
    "account_id": lambda w: w.victim.id,
    "appointment_id": _appointment,
    "order_id": _order,
    "link_id": _link,
    "public_id": _report,
    "template_id": _template,
    "device_id": _kiosk_device,
    "request_id": _help_request,
    "walk_in_id": _walk_in,
    "counter_id": _counter,
    "queue_id": _queue,
    "token": _ticket_token,
    "session_id": lambda w: w.clinic.session.id,
    "department_id": lambda w: w.clinic.department.id,
    "clinician_id": lambda w: w.clinic.clinician.id,
    "service_point_id": lambda w: w.clinic.point.id,
    "code": lambda w: "GLU",  # a test type of the victim's hospital (after the report exists)
    "key": _lexicon_edit,
    "patient_id": lambda w: w.victim_patient.id,  # the victim's own profile (hospital/cards)
    "entry_id": _waitlist_entry,  # the victim's waitlist entry (after the appointment)
    "offer_id": _waitlist_offer,  # a place offered to it
    "grant_id": _family_pool_grant,  # the victim's 家庭共济 grant to a parent
    "consultation_id": _consultation,  # the victim's patient's question to the clinic's doctor
    "attachment_id": _consult_attachment,  # a photo sent with it
}


# ---- the world ------------------------------------------------------------------------------


@pytest.fixture
def world(app: Flask, client: Any) -> World:
    now = utcnow()
    a = factories.create_hospital()
    b = factories.create_hospital()
    clinic = create_clinic(a, now=now)
    victim = factories.create_account(a)
    victim_patient = factories.create_patient(a, account=victim)
    w = World(now, a, b, clinic, victim, victim_patient)
    for name, build in BUILDERS.items():
        w.objects[name] = build(w)

    def session_for(account: Account) -> str:
        return open_session(account, now=now)

    w.session_tokens["unrelated patient"] = session_for(
        _with_own_profile(a, factories.create_account(a))
    )
    w.session_tokens["admin of another hospital"] = session_for(
        factories.create_account(b, roles=(Role.ADMIN,))
    )
    for role in sorted(STAFF_ROLES):
        w.session_tokens[f"{role.value} (same hospital)"] = session_for(
            factories.create_account(a, roles=(role,))
        )
    for kind in DeviceKind:
        for hospital, where in ((a, "same hospital"), (b, "another hospital")):
            _device, token = devices.register_device(
                actor=None,
                kind=kind,
                name=f"{kind.value} {where}",
                location="",
                service_point_id=None,
                now=now,
                hospital=hospital,
            )
            w.device_tokens[f"{kind.value} ({where})"] = token
    db.session.commit()
    return w


def _with_own_profile(hospital: Hospital, account: Account) -> Account:
    factories.create_patient(hospital, account=account)
    return account


# ---- what to try ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Caller:
    label: str
    session: str | None = None  # label in World.session_tokens
    device: str | None = None  # label in World.device_tokens

    @property
    def attributable(self) -> bool:
        return self.session is not None or self.device is not None


def callers_refused_by(policy: AccessPolicy, rule: Rule) -> list[Caller]:
    """Every caller who must not reach the victim's object through a route with this policy."""
    callers = [Caller("nobody signed in")]
    if not (policy.admits_patients and set(rule.arguments) <= SHARED_PARAMETERS):
        callers.append(Caller("unrelated patient", session="unrelated patient"))
    callers.append(Caller("admin of another hospital", session="admin of another hospital"))
    if policy.token:
        return callers  # the forged token is refused to everyone
    if not policy.signed_in:
        for role in sorted(STAFF_ROLES - policy.roles):
            label = f"{role.value} (same hospital)"
            callers.append(Caller(label, session=label))
    for kind in DeviceKind:
        where = "another hospital" if kind in policy.devices else "same hospital"
        label = f"{kind.value} ({where})"
        callers.append(Caller(label, device=label))
    return callers


def matrix_rules(app: Flask) -> Iterator[tuple[Rule, AccessPolicy]]:
    policies = route_policies(app)
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        policy = policies[rule.endpoint]
        assert policy is not None, f"{rule.endpoint} declares no policy (see test_route_policy)"
        if not rule.arguments or rule.endpoint in LIBRARY_POLICIES or policy.public:
            continue
        yield rule, policy


def path_values(rule: Rule, policy: AccessPolicy, w: World) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for name in sorted(rule.arguments):
        if policy.token:
            converter = rule._converters[name]  # type: ignore[attr-defined]
            values[name] = FORGED_ID if "Integer" in type(converter).__name__ else FORGED_TOKEN
        else:
            assert name in w.objects, (
                f"{rule.endpoint} ({rule.rule}) takes <{name}>, which has no victim builder: add "
                "one to BUILDERS in tests/integration/test_access_matrix.py"
            )
            values[name] = w.objects[name]
    return values


def database_fingerprint() -> str:
    digest = hashlib.sha256()
    for table in db.metadata.sorted_tables:
        if table.name in EXEMPT_TABLES:
            continue
        order = list(table.primary_key.columns) or list(table.columns)
        for row in db.session.execute(sa.select(table).order_by(*order)):
            digest.update(repr((table.name, tuple(row))).encode())
    return digest.hexdigest()


def denials() -> int:
    return (
        db.session.scalar(
            sa.select(sa.func.count())
            .select_from(AuditEntry)
            .where(AuditEntry.outcome == Outcome.DENIED)
        )
        or 0
    )


def send(client: Any, w: World, caller: Caller, method: str, url: str) -> Any:
    with client.session_transaction() as session:
        session.clear()
        if caller.session:
            session["_user_id"] = w.session_tokens[caller.session]
            session["_fresh"] = True
    headers = {"Authorization": f"Bearer {w.device_tokens[caller.device]}"} if caller.device else {}
    client.delete_cookie("device_token")
    kwargs: dict[str, Any] = {"headers": headers}
    if method in BODY_METHODS:
        if url.startswith("/api/"):
            kwargs["json"] = {}
        else:
            kwargs["data"] = {}
    return client.open(url, method=method, **kwargs)


def refused(response: Any, method: str) -> bool:
    if response.status_code in (401, 403, 404):
        return True
    if response.status_code in (400, 422) and method in BODY_METHODS:
        return True  # the body was checked before the object: nothing was reached or shown
    location = response.headers.get("Location", "")
    return response.status_code in (302, 303) and "/sign-in" in location


def test_no_route_lets_a_stranger_reach_the_victims_objects(
    app: Flask, client: Any, world: World
) -> None:
    adapter = app.url_map.bind("hospital.test")
    failures: list[str] = []
    for rule, policy in matrix_rules(app):
        values = path_values(rule, policy, world)
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            url = adapter.build(rule.endpoint, values, method=method)
            before = database_fingerprint()
            for caller in callers_refused_by(policy, rule):
                denied_before = denials()
                response = send(client, world, caller, method, url)
                where = f"{method} {rule.rule} [{rule.endpoint}] by {caller.label}"
                if not refused(response, method):
                    failures.append(f"{where}: answered {response.status_code}")
                elif (
                    caller.attributable
                    and not policy.token  # a guessed token points at nobody's object
                    and response.status_code in (401, 403, 404)
                    and denials() == denied_before
                ):
                    failures.append(f"{where}: refused ({response.status_code}) but not audited")
            db.session.expire_all()
            if database_fingerprint() != before:
                failures.append(f"{method} {rule.rule} [{rule.endpoint}]: the database changed")
    assert not failures, f"{len(failures)} holes:\n" + "\n".join(failures)


def test_every_path_parameter_of_a_guarded_route_has_a_builder(app: Flask) -> None:
    missing = sorted(
        f"{rule.endpoint}: <{name}>"
        for rule, policy in matrix_rules(app)
        if not policy.token
        for name in rule.arguments
        if name not in BUILDERS
    )
    assert not missing, f"add victim builders for: {missing}"
