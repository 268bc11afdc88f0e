"""Kiosk pages: the touch screen in the hall, its one-time set-up, and the staff console."""

from __future__ import annotations

from typing import Any

from flask import (
    Blueprint,
    current_app,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from werkzeug.wrappers import Response as WerkzeugResponse

from hospital.accounts.guards import (
    access,
    current_device,
    device_for_token,
    public,
    require_roles,
    signed_in_account,
)
from hospital.accounts.models import STAFF_ROLES, DeviceKind, Role
from hospital.db import db, utcnow
from hospital.error_codes import ErrorCode
from hospital.errors import DomainError, NotFound
from hospital.web.navigation import sign_in_page_required
from hospital.web.tiles import Tile, add_home_tile
from kiosk import report_shelf
from kiosk.services import devices

bp = Blueprint(
    "kiosk_pages",
    __name__,
    template_folder="templates",
    static_folder="static",
    static_url_path="/kiosk-assets",
)

DEVICE_COOKIE = "device_token"
PRINTER_STATES = {
    "unknown": _l("not checked yet"),
    "ready": _l("ready"),
    "offline": _l("not answering"),
    "paper_out": _l("out of paper"),
    "timeout": _l("too slow to answer"),
    "browser": _l("printed by the kiosk's browser"),
}
TEN_YEARS = 10 * 365 * 24 * 3600


def _timers() -> dict[str, int]:
    """Idle and connection timers; tests shorten them through the app config."""
    config = current_app.config
    return {
        "idle_seconds": int(config.get("KIOSK_IDLE_SECONDS", 60)),
        "warning_seconds": int(config.get("KIOSK_IDLE_WARNING_SECONDS", 20)),
        "heartbeat_seconds": int(config.get("KIOSK_HEARTBEAT_SECONDS", 30)),
        "retry_seconds": int(config.get("KIOSK_RETRY_SECONDS", 5)),
        "request_timeout_seconds": int(config.get("KIOSK_REQUEST_TIMEOUT_SECONDS", 8)),
        "pay_poll_seconds": int(config.get("KIOSK_PAY_POLL_SECONDS", 3)),
    }


@bp.route("/kiosk")
@access(devices=[DeviceKind.KIOSK])  # anyone else is sent to the setup page
def kiosk_page() -> Any:
    """The kiosk's touch screen (a registered kiosk only)."""
    device = current_device()
    if device is None or device.kind is not DeviceKind.KIOSK:
        return redirect(url_for("kiosk_pages.setup"))
    kiosk = devices.touch(device, now=utcnow())
    return render_template(
        "kiosk/kiosk.html",
        device=device,
        kiosk=kiosk,
        timers=_timers(),
        default_language=current_app.config.get("DEFAULT_LANGUAGE", "zh"),
        reports_enabled=report_shelf.functions() is not None,
        zone=devices.hospital_of(device.hospital_id).timezone,
    )


@bp.route("/kiosk/slip.css")
@public("the stylesheet of a printed slip; holds nothing about anyone")
def slip_stylesheet() -> Any:
    """The slip's print styles, shared with the PDF ticket, served as a stylesheet for the kiosk page."""
    response = make_response(render_template("kiosk/_slip.css"))
    response.mimetype = "text/css"
    response.cache_control.max_age = 3600
    response.cache_control.public = True
    return response


@bp.route("/kiosk/setup", methods=["GET", "POST"])
@public("pairs a browser with a kiosk; needs the kiosk's device token")
def setup() -> Any:
    """Pair this browser with a kiosk registration by entering its device token once."""
    error = ""
    if request.method == "POST":
        token = (request.form.get("token") or "").strip()
        device = device_for_token(token) if token else None
        if device is not None and device.kind is DeviceKind.KIOSK:
            response = make_response(redirect(url_for("kiosk_pages.kiosk_page")))
            response.set_cookie(
                DEVICE_COOKIE,
                token,
                max_age=TEN_YEARS,
                httponly=True,
                samesite="Strict",
                secure=request.is_secure,
            )
            return response
        error = _("This token does not belong to a registered kiosk. Check it and try again.")
    return render_template("kiosk/setup.html", error=error), (422 if error else 200)


@bp.route("/kiosk/console")
@require_roles(*STAFF_ROLES)
def console() -> str:
    """Staff: kiosks with last contact and printer state, and open "call staff" requests."""
    actor = signed_in_account()
    return render_template(
        "kiosk/console.html",
        kiosks=devices.list_kiosks(actor=actor),
        help_requests=devices.open_help_requests(actor=actor),
        is_admin=actor.has_role(Role.ADMIN),
        new_token=None,
        printer_states=PRINTER_STATES,
    )


@bp.route("/kiosk/console/register", methods=["POST"])
@require_roles(Role.ADMIN)
def register() -> Any:
    """Admins: register a kiosk; its token is shown on this page only."""
    actor = signed_in_account()
    form = request.form
    try:
        port = int(form.get("printer_port") or 9100)
    except ValueError:
        port = 0
    try:
        _kiosk, device, token = devices.register_kiosk(
            actor=actor,
            name=form.get("name", ""),
            location=form.get("location", ""),
            printer_host=form.get("printer_host", ""),
            printer_port=port,
            now=utcnow(),
        )
    except DomainError as exc:
        flash(str(exc.message), "error")
        return redirect(url_for("kiosk_pages.console"))
    return render_template(
        "kiosk/console.html",
        kiosks=devices.list_kiosks(actor=actor),
        help_requests=devices.open_help_requests(actor=actor),
        is_admin=True,
        new_token=token,
        new_device=device,
        printer_states=PRINTER_STATES,
    )


@bp.route("/kiosk/console/help/<int:request_id>/resolve", methods=["POST"])
@require_roles(*STAFF_ROLES)
def resolve(request_id: int) -> WerkzeugResponse:
    """Staff reached the kiosk that called."""
    devices.resolve_help_request(request_id, actor=signed_in_account(), now=utcnow())
    return redirect(url_for("kiosk_pages.console"))


@bp.route("/same-day", methods=["GET", "POST"])
@sign_in_page_required
def same_day() -> Any:
    """Take a same-day number from the phone: choose the department, pay, get the number."""
    from hospital.db import db
    from hospital.patients.access import Permission, patients_acting_for
    from kiosk.services import phone_numbers

    account = signed_in_account()
    now = utcnow()
    error = None
    if request.method == "POST":
        department = request.form.get("department_id", "")
        patient = request.form.get("patient_id", "")
        try:
            started = phone_numbers.take_same_day_number(
                actor=account,
                department_id=int(department)
                if department.isdigit() and len(department) < 10
                else 0,
                patient_id=int(patient) if patient.isdigit() and len(patient) < 10 else 0,
                now=now,
            )
        except DomainError as exc:
            if exc.is_refusal:
                raise
            db.session.rollback()
            error = exc.message
        else:
            if started.pay_url:
                return redirect(started.pay_url, 303)
            flash(_("Your number is issued."), "success")
            return redirect(url_for("queueing_pages.my_tickets"), 303)
    page = render_template(
        "kiosk/same_day.html",
        choices=phone_numbers.same_day_departments(account.hospital_id, now=now),
        patients=patients_acting_for(account, Permission.BOOK),
        error=error,
    )
    return (page, 409) if error else page


add_home_tile(
    Tile(
        "kiosk_pages.same_day",
        _l("Same-day number"),
        _l("Came without booking? Pay online and get a number, no window"),
        order=24,
        show_signed_out=False,
    )
)


@bp.route("/kiosk/survey", methods=["GET", "POST"])
@access(devices=[DeviceKind.KIOSK])  # anyone else is sent to the setup page
def survey() -> Any:
    """The satisfaction survey at the kiosk: scan today's ticket, then the same three questions."""
    from queueing.services import surveys

    device = current_device()
    if device is None or device.kind is not DeviceKind.KIOSK:
        return redirect(url_for("kiosk_pages.setup"))
    # A scanned ticket QR types its whole link; the token is its last part.
    scanned = (request.values.get("ticket") or "").strip().rstrip("/").rsplit("/", 1)[-1]
    words = {
        "action": url_for("kiosk_pages.survey"),
        "questions": surveys.QUESTIONS,
        "choices": surveys.CHOICES,
        "hidden": {"ticket": scanned},
    }
    if not scanned:
        return render_template("kiosk/survey.html", state="scan", error=None, **words)
    try:
        found = surveys.survey_for_ticket(scanned)
        if found.hospital_id != device.hospital_id:
            raise NotFound(_l("No such survey."), code=ErrorCode.SURVEY_NOT_FOUND)
    except DomainError as exc:
        page = render_template("kiosk/survey.html", state="scan", error=exc.message, **words)
        return page, exc.status
    state, error, status = ("answered" if found.answered_at else "form"), None, 200
    if request.method == "POST" and request.form.get("wait_score") is not None:
        try:
            recorded = surveys.answer_from_form(
                found, request.form, via=surveys.SurveyVia.KIOSK, now=utcnow()
            )
        except DomainError as exc:
            db.session.rollback()
            state, error, status = "form", str(exc.message), exc.status
        else:
            state, status = ("thanks", 200) if recorded else ("answered", 409)
    page = render_template("kiosk/survey.html", state=state, error=error, **words)
    return page, status
