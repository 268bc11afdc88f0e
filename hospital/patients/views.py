"""My family members: the people an account books and pays for, and what it may do for each."""

from __future__ import annotations

from datetime import date
from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from werkzeug.datastructures import MultiDict
from werkzeug.wrappers import Response as WerkzeugResponse

from hospital.accounts.guards import signed_in_account
from hospital.db import utcnow
from hospital.error_codes import ErrorCode
from hospital.errors import DomainError, InvalidInput
from hospital.patients import grants
from hospital.patients.identity import mask_id_number, mask_name, mask_phone
from hospital.patients.models import FamilyLink, IdentityType, Relationship, Sex
from hospital.patients.services import adding, links
from hospital.patients.services.person import local_today
from hospital.web.navigation import sign_in_page_required
from hospital.web.tiles import Tile, add_home_tile

bp = Blueprint("patients_pages", __name__, template_folder="templates")

Page = str | tuple[str, int] | WerkzeugResponse

RELATIONSHIPS = {
    Relationship.SELF: _l("Myself"),
    Relationship.PARENT: _l("My parent"),
    Relationship.CHILD: _l("My child"),
    Relationship.SPOUSE: _l("My spouse"),
    Relationship.OTHER: _l("Other family member"),
}
SEXES = {Sex.FEMALE: _l("Female"), Sex.MALE: _l("Male"), Sex.OTHER: _l("Other")}
ID_TYPES = {
    IdentityType.RESIDENT_ID: _l("Resident identity card"),
    IdentityType.PASSPORT: _l("Passport"),
}
PERMISSIONS = {
    "can_book": _l("Book appointments"),
    "can_pay": _l("Pay fees"),
    "can_view_reports": _l("See test reports"),
}

add_home_tile(
    Tile(
        "patients_pages.family",
        _l("My family members"),
        _l("The people you book and pay for"),
        order=90,
    )
)


def _options(labels: dict[Any, Any], *, without: tuple[Any, ...] = ()) -> list[tuple[str, str]]:
    return [(key.value, str(text)) for key, text in labels.items() if key not in without]


def permissions_text(link: FamilyLink) -> str:
    """The permissions of a link in words, e.g. "Book appointments, Pay fees"."""
    granted = [str(text) for name, text in PERMISSIONS.items() if getattr(link, name)]
    return ", ".join(granted) if granted else _("View only")


def _choice(enum_cls: type, raw: str | None, field: str, errors: dict[str, str]) -> Any:
    try:
        return enum_cls(raw)
    except ValueError:
        errors[field] = _("Choose one of the options.")
        return None


def _birth_date(raw: str | None, errors: dict[str, str], *, today: date) -> date | None:
    try:
        born = date.fromisoformat((raw or "").strip())
    except ValueError:
        errors["birth_date"] = _("Enter the date of birth as year-month-day, e.g. 1950-03-07.")
        return None
    if born > today:
        errors["birth_date"] = _("The date of birth cannot be in the future.")
        return None
    return born


def _permissions(form: MultiDict[str, str]) -> dict[str, bool]:
    return {name: name in form for name in PERMISSIONS}


def _error_fields(exc: DomainError) -> dict[str, str]:
    details = exc.details if isinstance(exc.details, dict) else {}
    return {
        key: " ".join(str(v) for v in value) if isinstance(value, list) else str(value)
        for key, value in details.items()
    }


@bp.get("/family")
@sign_in_page_required
def family() -> Page:
    return render_template(
        "patients/family.html",
        links=links.list_links(account=signed_in_account()),
        relationships=RELATIONSHIPS,
        id_types=ID_TYPES,
        permissions_text=permissions_text,
        mask_id_number=mask_id_number,
    )


def _add_form(
    values: MultiDict[str, str],
    *,
    error: Any = None,
    errors: Any = None,
    consent: bool = False,
    code_sent_to: str | None = None,
) -> str:
    return render_template(
        "patients/add.html",
        values=values,
        error=error,
        errors=errors or {},
        consent=consent,
        code_sent_to=code_sent_to,
        relationships=_options(RELATIONSHIPS, without=(Relationship.SELF,)),
        relationship_all=_options(RELATIONSHIPS),
        sexes=_options(SEXES),
        id_types=_options(ID_TYPES),
        permissions=PERMISSIONS,
    )


@bp.route("/family/add", methods=["GET", "POST"])
@sign_in_page_required
def add_member() -> Page:
    account = signed_in_account()
    if request.method == "GET":
        has_self = any(
            link.relationship == Relationship.SELF for link in links.list_links(account=account)
        )
        defaults = MultiDict(
            {
                "relationship": Relationship.PARENT.value if has_self else Relationship.SELF.value,
                "id_type": IdentityType.RESIDENT_ID.value,
                **{name: "1" for name in PERMISSIONS},
            }
        )
        return _add_form(defaults)

    form = request.form
    errors: dict[str, str] = {}
    relationship = _choice(Relationship, form.get("relationship"), "relationship", errors)
    sex = _choice(Sex, form.get("sex"), "sex", errors)
    id_type = _choice(IdentityType, form.get("id_type"), "id_type", errors)
    birth_date = _birth_date(
        form.get("birth_date"), errors, today=local_today(account, now=utcnow())
    )
    name = form.get("name", "").strip()
    id_number = form.get("id_number", "").strip()
    if not name:
        errors["name"] = _("Enter the name as written on the identity document.")
    if not id_number:
        errors["id_number"] = _("Enter the identity document number.")
    if errors:
        return _add_form(
            form, error=_("Some fields need your attention. Check them below."), errors=errors
        ), InvalidInput.status
    person = {
        "relationship": relationship,
        "sex": sex,
        "birth_date": birth_date,
        "id_type": id_type,
        "id_number": id_number,
        "phone": form.get("phone", "").strip() or None,
    }
    if "send_code" in form:
        try:
            masked, _wait = adding.request_consent_code(account=account, **person, now=utcnow())
        except DomainError as exc:
            return _add_form(
                form, error=exc.message, errors=_error_fields(exc), consent=_asks_consent(exc)
            ), exc.status
        return _add_form(form, consent=True, code_sent_to=masked)
    try:
        link = adding.add_patient(
            account=account,
            name=name,
            consent_code=form.get("consent_code", "").strip() or None,
            now=utcnow(),
            **person,
            **_permissions(form),  # type: ignore[arg-type]  # mypy spreads one dict over every keyword
        )
    except DomainError as exc:
        return _add_form(
            form, error=exc.message, errors=_error_fields(exc), consent=_asks_consent(exc)
        ), exc.status
    flash(_("%(name)s was added to your family members.", name=link.patient.name), "success")
    return redirect(url_for("patients_pages.family"))


def _asks_consent(exc: DomainError) -> bool:
    """Whether the add page should offer to text a consent code."""
    return exc.code == ErrorCode.CONSENT_REQUIRED or exc.code.startswith("code_")


@bp.route("/family/<int:link_id>/edit", methods=["GET", "POST"])
@sign_in_page_required
def edit_member(link_id: int) -> Page:
    account = signed_in_account()
    link = links.get_link(account=account, link_id=link_id, action="family.edit")
    context = {
        "link": link,
        "may_raise": grants.holder_may_raise(link),
        "relationships": _options(RELATIONSHIPS, without=(Relationship.SELF,)),
        "relationship_labels": RELATIONSHIPS,
        "permissions": PERMISSIONS,
    }
    if request.method == "GET":
        values = {name: getattr(link, name) for name in PERMISSIONS}
        values["relationship"] = link.relationship.value
        return render_template("patients/edit.html", values=values, error=None, **context)

    form = request.form
    errors: dict[str, str] = {}
    changes: dict[str, Any] = _permissions(form)
    if link.relationship != Relationship.SELF and "relationship" in form:
        changes["relationship"] = _choice(
            Relationship, form.get("relationship"), "relationship", errors
        )
    values = {**changes, "relationship": form.get("relationship", link.relationship.value)}
    if errors:
        return render_template(
            "patients/edit.html", values=values, error=errors["relationship"], **context
        ), InvalidInput.status
    try:
        links.update_link(account=account, link_id=link_id, now=utcnow(), **changes)
    except DomainError as exc:
        return render_template(
            "patients/edit.html", values=values, error=exc.message, **context
        ), exc.status
    flash(_("The changes for %(name)s are saved.", name=link.patient.name), "success")
    return redirect(url_for("patients_pages.family"))


@bp.route("/family/<int:link_id>/remove", methods=["GET", "POST"])
@sign_in_page_required
def remove_member(link_id: int) -> Page:
    account = signed_in_account()
    link = links.get_link(account=account, link_id=link_id, action="family.remove")
    if request.method == "GET":
        return render_template("patients/remove.html", link=link, error=None)
    name = link.patient.name
    try:
        links.remove_link(account=account, link_id=link_id, now=utcnow())
    except DomainError as exc:
        return render_template("patients/remove.html", link=link, error=exc.message), exc.status
    flash(_("%(name)s is no longer in your family members.", name=name), "success")
    return redirect(url_for("patients_pages.family"))


# ---- who can act for me: the patient's own view of the links to their record ---------------


def holder_text(holder: Any) -> str:
    """The holder account, masked: e.g. "李*华 · 139****5678"."""
    parts = [mask_name(holder.display_name)] if holder.display_name else []
    if holder.phone:
        parts.append(mask_phone(holder.phone))
    return " · ".join(parts) or _("An account without a name")


@bp.get("/family/granted")
@sign_in_page_required
def granted() -> Page:
    account = signed_in_account()
    has_own = any(
        link.relationship == Relationship.SELF for link in links.list_links(account=account)
    )
    return render_template(
        "patients/granted.html",
        grants=grants.grants_to_others(account=account),
        has_own=has_own,
        relationships=RELATIONSHIPS,
        permissions_text=permissions_text,
        holder_text=holder_text,
    )


@bp.route("/family/granted/<int:link_id>/edit", methods=["GET", "POST"])
@sign_in_page_required
def edit_grant(link_id: int) -> Page:
    account = signed_in_account()
    grant = grants.get_grant(account=account, link_id=link_id, action="family.grant_edit")
    context = {
        "grant": grant,
        "holder": holder_text(grant.holder),
        "relationships": RELATIONSHIPS,
        "permissions": PERMISSIONS,
    }
    if request.method == "GET":
        values = {name: getattr(grant.link, name) for name in PERMISSIONS}
        return render_template("patients/grant_edit.html", values=values, error=None, **context)
    changes = _permissions(request.form)
    try:
        grants.change_grant(account=account, link_id=link_id, now=utcnow(), **changes)
    except DomainError as exc:
        return render_template(
            "patients/grant_edit.html", values=changes, error=exc.message, **context
        ), exc.status
    flash(_("The changes are saved."), "success")
    return redirect(url_for("patients_pages.granted"))


@bp.route("/family/granted/<int:link_id>/revoke", methods=["GET", "POST"])
@sign_in_page_required
def revoke_grant(link_id: int) -> Page:
    account = signed_in_account()
    grant = grants.get_grant(account=account, link_id=link_id, action="family.grant_revoke")
    holder = holder_text(grant.holder)
    if request.method == "GET":
        return render_template("patients/grant_revoke.html", grant=grant, holder=holder, error=None)
    try:
        grants.revoke_grant(account=account, link_id=link_id, now=utcnow())
    except DomainError as exc:
        return render_template(
            "patients/grant_revoke.html", grant=grant, holder=holder, error=exc.message
        ), exc.status
    flash(_("%(holder)s can no longer act for you.", holder=holder), "success")
    return redirect(url_for("patients_pages.granted"))
