"""Each package connects its receivers, templates and jobs from create_app, once; never on import."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from blinker import Signal

from hospital import events
from hospital.app import create_app
from hospital.jobs import REGISTRY
from hospital.notifications.messages import TEMPLATES

ROOT = Path(__file__).resolve().parents[2]


RECEIVERS = {
    "appointment_held": 2,  # billing, metrics
    "appointment_cancelled": 3,  # billing, statistics, the waitlist
    # scheduling (appointments), kiosk (walk-in fees), queueing (stations), consult (fees)
    "order_paid": 4,
    "appointment_booked": 4,  # statistics, visits, the waitlist, metrics
    "visit_checked_in": 2,  # statistics, visits
    "appointment_no_show": 1,
    "ticket_first_called": 1,
    "ticket_serving_started": 1,
    "ticket_completed": 1,
    "counter_pause_changed": 1,  # statistics
    "survey_answered": 1,  # statistics
    "wait_estimates_judged": 1,  # statistics
    "payment_received": 2,  # statistics, visits
    "refund_issued": 3,  # statistics, kiosk (walk-in tickets), queueing (station tickets)
    "report_released": 1,  # visits
    "family_member_added": 0,
    "account_disabled": 0,
}
TEMPLATE_KEYS = {
    "billing.order_created",
    "billing.refunded",
    "billing.late_payment_refunded",
    "billing.family_pool_used",
    "billing.family_pool_refunded",
    "billing.insurance_activated",
    "billing.insurance_consent_code",
    "cards.used",
    "consult.new_question",
    "consult.answered",
    "consult.refunded",
    "consult.declined",
    "consult.follow_up",
    "sign_in_code",
    "family_link_code",
    "kiosk_code",
    "queue.ticket_issued",
    "queue.almost_turn",
    "queue.your_turn",
    "queue.missed",
    "queue.survey",
    "reports.ready",
    "reports.amended",
    "scheduling.booking_confirmed",
    "scheduling.cancelled_by_hospital",
    "scheduling.reminder",
    "scheduling.waitlist_offer",
    "scheduling.keep_or_release",
}
JOB_IDS = {
    "accounts.prune_one_time_codes",
    "billing.deliver_sandbox_notifications",
    "billing.forget_expired_insurance_codes",
    "billing.reconcile_pending_payments",
    "billing.retry_pending_refunds",
    "consult.sweep",
    "deliver-outbox",
    "kiosk.expire_walk_ins",
    "kiosk.prune",
    "queueing.open_todays_queues",
    "queueing.release_expired_leases",
    "queueing.track_wait_estimates",
    "reports.release_due",
    "scheduling.mark_no_shows",
    "scheduling.materialise_slots",
    "scheduling.release_expired_holds",
    "scheduling.send_reminders",
    "scheduling.publish_scheduling_links",
    "scheduling.waitlist_sweep",
    "scheduling.ask_keep_or_release",
}


def _receiver_counts() -> dict[str, int]:
    return {
        name: len(signal.receivers)
        for name, signal in vars(events).items()
        if isinstance(signal, Signal)
    }


def test_create_app_connects_every_package_once_however_many_apps_are_built() -> None:
    create_app({"DATABASE_URL": "sqlite://"})
    first = (_receiver_counts(), dict(TEMPLATES), dict(REGISTRY))
    create_app({"DATABASE_URL": "sqlite://"})
    assert (_receiver_counts(), dict(TEMPLATES), dict(REGISTRY)) == first
    assert _receiver_counts() == RECEIVERS
    assert {key for key in TEMPLATES if not key.startswith("test.")} == TEMPLATE_KEYS
    assert set(REGISTRY) == JOB_IDS


# Imports every module of the domain packages and the kernel's wired ones, then reports what
# got connected: run in a fresh interpreter, since this one already built apps.
_IMPORT_EVERYTHING = """
import importlib, json, pkgutil, sys
from blinker import Signal
for name in ("scheduling", "queueing", "reports", "kiosk", "journey", "consult", "hospital.accounts",
             "hospital.patients", "hospital.notifications", "hospital.billing", "hospital.visits"):
    package = importlib.import_module(name)
    for module in pkgutil.walk_packages(package.__path__, name + "."):
        if ".migrations" not in module.name:
            importlib.import_module(module.name)
from hospital import events
from hospital.jobs import REGISTRY
from hospital.notifications.messages import TEMPLATES
from hospital.extensions import login_manager
json.dump({
    "receivers": {n: len(s.receivers) for n, s in vars(events).items() if isinstance(s, Signal)},
    "templates": sorted(TEMPLATES),
    "jobs": sorted(REGISTRY),
    "user_loader": login_manager._user_callback is not None,
}, sys.stdout)
"""


def test_importing_the_modules_connects_nothing() -> None:
    done = subprocess.run(
        [sys.executable, "-c", _IMPORT_EVERYTHING],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    found = json.loads(done.stdout)
    connected = {name: n for name, n in found["receivers"].items() if n}
    assert connected == {}
    assert found["templates"] == []
    assert found["jobs"] == []
    assert found["user_loader"] is False


def test_a_paid_appointment_leads_on_to_my_appointments() -> None:
    from hospital.billing.references import OrderKind
    from hospital.billing.wiring import page_after_payment

    app = create_app({"TESTING": True, "SECRET_KEY": "wiring", "DATABASE_URL": "sqlite://"})
    with app.app_context():
        assert page_after_payment(OrderKind.APPOINTMENT) == "scheduling_pages.my_appointments"
