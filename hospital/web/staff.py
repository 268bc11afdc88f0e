"""The staff home and navigation: each role's work, one click from anywhere.

A registrar at 7:00 on a Monday opens the site and sees the desk and the day lists; a nurse her
counters; lab staff the result entry; the cashier the console; an administrator schedules,
kiosks and statistics. The same links, for the account's roles, form the navigation bar on every
page a staff member opens. Endpoints are named as text (like the home tiles) so the kernel
imports no domain package; a link whose page is not registered in this app is left out.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import current_app, url_for
from flask_babel import lazy_gettext as _l
from markupsafe import Markup

from hospital.accounts.models import Account, Role
from hospital.web.page_slots import STAFF_SUMMARIES


@dataclass(frozen=True)
class StaffLink:
    endpoint: str
    title: Any  # lazy_gettext
    description: Any
    roles: frozenset[Role]

    @property
    def url(self) -> str:
        return url_for(self.endpoint)


def _link(endpoint: str, title: Any, description: Any, *roles: Role) -> StaffLink:
    return StaffLink(endpoint, title, description, frozenset(roles))


R = Role
# In the order a working day needs them.
LINKS: tuple[StaffLink, ...] = (
    _link(
        "queueing_pages.desk",
        _l("Registration desk"),
        _l("Walk-in numbers, find a patient, link family members"),
        R.REGISTRAR,
        R.ADMIN,
    ),
    _link(
        "scheduling_pages.staff_day",
        _l("Day lists"),
        _l("Each doctor's appointments today: check in, add on, cancel"),
        R.REGISTRAR,
        R.NURSE,
        R.CLINICIAN,
        R.ADMIN,
    ),
    _link(
        "queueing_pages.console_index",
        _l("Queue consoles"),
        _l("Your counter: call next, recall, missed, complete"),
        R.NURSE,
        R.CLINICIAN,
        R.LAB,
        R.ADMIN,
    ),
    _link(
        "reports_pages.enter_results",
        _l("Lab results"),
        _l("Enter results and release reports"),
        R.LAB,
    ),
    _link(
        "reports_pages.awaiting_release",
        _l("Reports to release"),
        _l("Results held for a clinician: release them to the patient"),
        R.CLINICIAN,
        R.ADMIN,
    ),
    _link(
        "consult_pages.inbox",
        _l("Online questions"),
        _l("Patients' follow-up questions, the nearest deadline first"),
        R.CLINICIAN,
    ),
    _link(
        "consult_pages.settings",
        _l("Online consultation settings"),
        _l("Whether a doctor takes online questions: fee, answer time, daily cap"),
        R.CLINICIAN,
        R.ADMIN,
    ),
    _link(
        "billing_pages.cashier",
        _l("Cashier console"),
        _l("Orders of the day and refunds"),
        R.CASHIER,
        R.ADMIN,
    ),
    _link(
        "billing_pages.reconciliation",
        _l("Daily reconciliation"),
        _l("Payments and refunds per provider, as CSV or PDF"),
        R.CASHIER,
        R.ADMIN,
    ),
    _link(
        "scheduling_pages.schedule_editor",
        _l("Schedules"),
        _l("Weekly sessions, closures and extra sessions"),
        R.ADMIN,
    ),
    _link(
        "scheduling_pages.suspensions",
        _l("Booking suspensions"),
        _l("Patients who missed too many appointments"),
        R.REGISTRAR,
        R.ADMIN,
    ),
    _link(
        "kiosk_pages.console", _l("Kiosks"), _l("Pair, watch and stop the hall's kiosks"), R.ADMIN
    ),
    _link(
        "reports_pages.statistics",
        _l("Statistics"),
        _l("Queues avoided, waits, payments and reports"),
        R.ADMIN,
    ),
    _link(
        "web.styleguide",
        _l("Styleguide"),
        _l("The design system: tokens and components, in both languages and elder mode"),
        R.ADMIN,
    ),
)


def staff_links(account: Account | None) -> list[StaffLink]:
    """The links for this account's staff roles (none for patients and visitors)."""
    if account is None or not account.is_staff:
        return []
    registered = current_app.view_functions
    roles = account.roles
    return [link for link in LINKS if link.roles & roles and link.endpoint in registered]


def staff_summaries(account: Account, links: list[StaffLink]) -> dict[str, Markup]:
    """The summaries of the links this account sees, by endpoint (those with something to say)."""
    shown = {}
    for link in links:
        summary = STAFF_SUMMARIES.get(link.endpoint)
        html = summary(account) if summary is not None else None
        if html:
            shown[link.endpoint] = html
    return shown
