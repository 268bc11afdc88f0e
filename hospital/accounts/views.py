"""Sign-in pages: a one-time code by text message, or a password; and sign-out."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, redirect, render_template, request, session, url_for
from flask_babel import get_locale
from werkzeug.wrappers import Response as WerkzeugResponse

from hospital.accounts import web_session
from hospital.accounts.guards import current_account, public
from hospital.accounts.services.preferences import accept_privacy_notice, needs_privacy_consent
from hospital.accounts.services.sign_in import request_sign_in_code
from hospital.db import utcnow
from hospital.errors import DomainError
from hospital.organisation.lookup import current_hospital
from hospital.patients.identity import IdentityError, mask_phone, normalize_phone
from hospital.web.navigation import next_path, same_site_path, sign_in_page_required

bp = Blueprint("accounts_pages", __name__, template_folder="templates")

Page = str | tuple[str, int] | tuple[str, int, dict[str, str]] | WerkzeugResponse
# The phone a code was last sent to, so the code step can be shown again by GET.
_PHONE_KEY = "sign_in_phone"


def _next() -> str:
    return next_path("") or ""


def _after_sign_in() -> WerkzeugResponse:
    target = next_path(url_for("web.home"))
    account = current_account()
    if account is not None and needs_privacy_consent(account):
        # The first sign-in of a patient account: the privacy notice first, then on.
        return redirect(url_for("accounts_pages.privacy", next=target))
    return redirect(target)


def _masked(phone: str) -> str:
    try:
        return mask_phone(normalize_phone(phone))
    except IdentityError:
        return mask_phone(phone)


def _code_step(phone: str, wait: int, *, error: Any = None, status: int = 200) -> Page:
    return render_template(
        "accounts/sign_in_code.html",
        phone=phone,
        masked_phone=_masked(phone),
        wait=max(int(wait), 0),
        next=_next(),
        error=error,
        # No SMS gateway (the demo, development): the code goes to the server's log instead.
        code_in_log=not current_app.config.get("SMS_URL"),
    ), status


@bp.get("/sign-in")
@public("the sign-in page")
def sign_in() -> Page:
    if current_account() is not None:
        return _after_sign_in()
    return render_template("accounts/sign_in.html", phone="", next=_next(), error=None)


@bp.get("/sign-in/code")
@public("the sign-in page")
def code_form() -> Page:
    """The code step again (e.g. after switching language), for the phone a code was sent to."""
    phone = session.get(_PHONE_KEY)
    if current_account() is not None or not phone:
        return redirect(url_for("accounts_pages.sign_in", next=_next() or None))
    return _code_step(phone, 0)


@bp.post("/sign-in/code")
@public("sign-in: sends a code to a phone; rate-limited per address")
@web_session.limit_send_code
def send_code() -> Page:
    """Send a one-time code to the phone, then ask for it."""
    phone = request.form.get("phone", "").strip()
    try:
        wait = request_sign_in_code(
            current_hospital(), phone, language=get_locale().language, now=utcnow()
        )
    except DomainError as exc:
        retry_after = exc.details.get("retry_after") if isinstance(exc.details, dict) else None
        if retry_after is not None:
            # A code is on its way already: stay on the code step and show the countdown.
            return _code_step(phone, retry_after, error=exc.message, status=exc.status)
        return render_template(
            "accounts/sign_in.html", phone=phone, next=_next(), error=exc.message
        ), exc.status
    session[_PHONE_KEY] = phone
    return _code_step(phone, wait)


@bp.post("/sign-in/verify")
@public("sign-in with a code; rate-limited")
@web_session.limit_sign_in
def verify_code() -> Page:
    phone = request.form.get("phone", "").strip()
    code = request.form.get("code", "").strip()
    now = utcnow()
    try:
        web_session.sign_in_with_code(current_hospital(), phone, code, now=now)
    except DomainError as exc:
        return _code_step(phone, 0, error=exc.message, status=exc.status)
    return _after_sign_in()


@bp.get("/sign-in/password")
@public("the sign-in page")
def password_form() -> Page:
    if current_account() is not None:
        return _after_sign_in()
    return render_template("accounts/sign_in_password.html", login="", next=_next(), error=None)


@bp.post("/sign-in/password")
@public("sign-in with a password; rate-limited")
@web_session.limit_sign_in
def sign_in_with_password() -> Page:
    login = request.form.get("login", "").strip()
    now = utcnow()
    try:
        web_session.sign_in_with_password(
            current_hospital(), login, request.form.get("password", ""), now=now
        )
    except DomainError as exc:
        page = render_template(
            "accounts/sign_in_password.html", login=login, next=_next(), error=exc.message
        )
        wait = exc.details.get("retry_after") if isinstance(exc.details, dict) else None
        return page, exc.status, {"Retry-After": str(wait)} if wait else {}
    return _after_sign_in()


@bp.get("/privacy")
@sign_in_page_required
def privacy() -> Page:
    """The privacy notice: what the hospital keeps, who sees it, and the account holder's rights."""
    account = current_account()
    return render_template(
        "accounts/privacy.html",
        accepted_at=account.privacy_accepted_at if account else None,
        next=next_path("") or "",
    )


@bp.post("/privacy")
@sign_in_page_required
def accept_privacy() -> WerkzeugResponse:
    account = current_account()
    assert account is not None  # sign_in_page_required
    accept_privacy_notice(account=account, now=utcnow())
    return redirect(next_path(url_for("web.home")))


@bp.post("/sign-out")
@public("ends the caller's own session, if any")
def sign_out() -> WerkzeugResponse:
    web_session.end(now=utcnow())
    return redirect(same_site_path(request.form.get("next")) or url_for("web.home"))
