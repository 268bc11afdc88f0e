"""Report pages: the patient's inbox, a readable report view, downloads, the public QR check, statistics."""

from __future__ import annotations

import base64
import hashlib
from typing import Any

from flask import (
    Blueprint,
    Response,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from marshmallow import ValidationError
from werkzeug.wrappers import Response as WerkzeugResponse

from hospital.accounts.guards import require_roles, signed_in_account, token_access
from hospital.accounts.models import Role
from hospital.audit.service import record_staff_read
from hospital.db import db, utcnow
from hospital.error_codes import ErrorCode
from hospital.errors import DomainError, InvalidInput
from hospital.organisation.models import Hospital
from hospital.patients.identity import mask_name
from hospital.pdf import PdfRenderError
from hospital.web.navigation import sign_in_page_required
from hospital.web.page_slots import render_statistics_sections
from hospital.zones import zone_for
from reports import charts, productivity, satisfaction, stats, wait_accuracy
from reports.export import to_csv
from reports.models import AbnormalFlag, ReportSource, ReportStatus
from reports.schemas import ReportArgs
from reports.services import download as reports_download
from reports.services import intake, lab_patient, reading, release, test_types, verification

bp = Blueprint("reports_pages", __name__, template_folder="templates")

Page = str | tuple[str, int] | WerkzeugResponse

# Abnormal values are marked in words and arrows, never by colour alone.
FLAG_LABELS = {
    AbnormalFlag.NORMAL: _l("Normal"),
    AbnormalFlag.LOW: _l("↓ Low"),
    AbnormalFlag.HIGH: _l("↑ High"),
    AbnormalFlag.CRITICAL_LOW: _l("↓↓ Critically low"),
    AbnormalFlag.CRITICAL_HIGH: _l("↑↑ Critically high"),
    AbnormalFlag.ABNORMAL: _l("* Abnormal"),
}
STATUS_LABELS = {
    ReportStatus.ORDERED: _l("Not released yet"),
    ReportStatus.READY: _l("New"),
    ReportStatus.VIEWED: _l("Viewed"),
    ReportStatus.AMENDED: _l("Corrected"),
}
MAX_VERIFY_UPLOAD = 1024 * 1024


@bp.after_request
def _no_store(response: Response) -> Response:
    # Reports, downloads and statistics hold health or business data: never cache them.
    response.headers["Cache-Control"] = "no-store"
    response.headers["Pragma"] = "no-cache"
    return response


def _language() -> str:
    locale = get_locale()
    return locale.language if locale else "zh"


def _local(moment: Any, hospital: Hospital) -> str:
    return moment.astimezone(zone_for(hospital)).strftime("%Y-%m-%d %H:%M") if moment else ""


@bp.get("/")
@sign_in_page_required
def inbox() -> Page:
    account = signed_in_account()
    hospital = db.session.get_one(Hospital, account.hospital_id)
    return render_template(
        "reports/inbox.html",
        reports=reading.reports_for(account=account),
        status_labels=STATUS_LABELS,
        local=lambda m: _local(m, hospital),
    )


@bp.get("/<string:public_id>")
@sign_in_page_required
def show(public_id: str) -> Page:
    account = signed_in_account()
    report = reading.open_report(public_id, account=account, now=utcnow())
    hospital = db.session.get_one(Hospital, report.hospital_id)
    versions = reading.visible_versions(report, account=account)
    return render_template(
        "reports/report.html",
        report=report,
        versions=versions,
        latest=versions[0] if versions else None,
        flag_labels=FLAG_LABELS,
        status_labels=STATUS_LABELS,
        local=lambda m: _local(m, hospital),
        staff=reading.is_staff_reader(account=account),
    )


def _version_arg() -> int | None:
    raw = request.args.get("version")
    if raw is None:
        return None
    if not raw.isdigit() or not 1 <= int(raw) <= 10_000:
        raise InvalidInput(
            _("The version must be a whole number such as 1 or 2."), code=ErrorCode.BAD_VERSION
        )
    return int(raw)


def _send(public_id: str, *, document: bool) -> Response:
    download = reports_download.download(
        public_id,
        account=signed_in_account(),
        version=_version_arg(),
        document=document,
        now=utcnow(),
    )
    response = Response(download.content, mimetype=download.mimetype)
    response.headers["Content-Disposition"] = f'attachment; filename="{download.filename}"'
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


@bp.get("/<string:public_id>/pdf")
@sign_in_page_required
def download_pdf(public_id: str) -> Page:
    return _send(public_id, document=False)


@bp.get("/<string:public_id>/document")
@sign_in_page_required
def download_document(public_id: str) -> Page:
    return _send(public_id, document=True)


# ---- lab staff: enter results in a page -----------------------------------------------------


def _rows_from_text(text: str) -> list[dict[str, str]]:
    """One result per line: name | value | unit | reference range (unit and range optional)."""
    rows = []
    for line in text.splitlines():
        if not line.strip():
            continue
        parts = [p.strip() for p in (line.split("|") if "|" in line else line.split("\t"))]
        parts += [""] * (4 - len(parts))
        rows.append(
            {"name": parts[0], "value": parts[1], "unit": parts[2], "reference_range": parts[3]}
        )
    return rows


@bp.route("/lab/new", methods=["GET", "POST"])
@sign_in_page_required
@require_roles(Role.LAB, Role.ADMIN)
def enter_results() -> Page:
    """Lab staff: type or paste results, or upload a document, for a patient's record number."""
    form = request.form
    errors: dict[str, Any] = {}
    account = signed_in_account()
    if request.method == "POST":
        body: dict[str, Any] = {
            key: form.get(key, "").strip()
            for key in (
                "test_code",
                "test_name",
                "order_reference",
                "signed_by",
                "conclusion",
            )
        }
        body["items"] = _rows_from_text(form.get("results", ""))
        upload = request.files.get("document")
        if upload is not None and upload.filename:
            body["document"] = {
                "content_type": "application/pdf",
                "data": base64.b64encode(upload.read()).decode(),
            }
        # The patient by record number, ID number or visit code (the last two audited).
        try:
            patient = lab_patient.patient_for_results(
                actor=account, text=form.get("patient", ""), now=utcnow()
            )
        except DomainError as exc:
            # An unknown visit code is a mistyped field here (its refusal is audited anyway).
            if exc.is_refusal and exc.code not in VISIT_REFUSALS:
                raise
            errors["patient"] = [str(exc.message)]
            body["medical_record_number"] = ""
        else:
            body["medical_record_number"] = patient.medical_record_number
        try:
            incoming = ReportArgs().load(body)
        except ValidationError as exc:
            errors = {**exc.messages_dict, **errors}
            if "patient" in errors:
                errors.pop("medical_record_number", None)
        if not errors:
            hospital = db.session.get_one(Hospital, account.hospital_id)
            try:
                (report,) = intake.receive_results(
                    hospital, [incoming], source=ReportSource.STAFF, now=utcnow(), actor=account
                )
            except DomainError as exc:
                errors = {"patient": [str(exc.message)]}
            else:
                return redirect(url_for("reports_pages.show", public_id=report.public_id))
    return (
        render_template(
            "reports/enter.html",
            values=form,
            errors=errors,
            test_types=test_types.all_test_types(account.hospital_id),
        ),
        422 if errors else 200,
    )


VISIT_REFUSALS = (ErrorCode.VISIT_NOT_FOUND, ErrorCode.VISIT_NOT_HERE, ErrorCode.VISIT_OTHER_DAY)


@bp.get("/lab/awaiting-release")
@sign_in_page_required
@require_roles(Role.CLINICIAN, Role.LAB, Role.ADMIN)
def awaiting_release() -> Page:
    """Reports held for a clinician: the doctor releases each to the patient with one button."""
    account = signed_in_account()
    reports = lab_patient.awaiting_clinician(account.hospital_id)
    if reports:
        record_staff_read(
            actor=account,
            action="report.awaiting_release.list",
            object_type="lab_report",
            reads=[(r.id, r.patient_id) for r in reports],
        )
    return render_template(
        "reports/awaiting.html",
        reports=reports,
        can_release=account.has_role(Role.CLINICIAN, Role.ADMIN),
        mask_name=mask_name,
    )


@bp.post("/lab/<string(length=22):public_id>/release")
@sign_in_page_required
@require_roles(Role.CLINICIAN, Role.ADMIN)
def release_from_list(public_id: str) -> WerkzeugResponse:
    """The clinician's release button: publish the report and notify the patient and family."""
    account = signed_in_account()
    report = reading.find_report(public_id, account=account, action="report.release")
    release.release_by_clinician(report, actor=account, now=utcnow())
    flash(
        _("Report %(number)s released: the patient is notified.", number=report.report_number),
        "success",
    )
    return redirect(url_for("reports_pages.awaiting_release"), 303)


@bp.route("/verify/<string:code>", methods=["GET", "POST"])
@token_access("the verification code printed on the report")
def verify(code: str) -> Page:
    """Public: anyone handed a report checks it here; no clinical data is shown."""
    offered_file = None
    offered_sha = request.values.get("sha256", "").strip() or None
    error = None
    if request.method == "POST":
        upload = request.files.get("file")
        if upload is not None and upload.filename:
            data = upload.read(MAX_VERIFY_UPLOAD + 1)
            if len(data) > MAX_VERIFY_UPLOAD:
                error = _("The file is larger than 1 MB; it cannot be the issued report.")
            else:
                offered_file = data
    if offered_sha and (
        len(offered_sha) != 64 or any(c not in "0123456789abcdefABCDEF" for c in offered_sha)
    ):
        error = _("A SHA-256 fingerprint has 64 characters 0-9 and a-f.")
        offered_sha = None
    result = verification.verify(code, offered_sha256=offered_sha, offered_file=offered_file)
    return render_template(
        "reports/verify.html",
        result=result,
        code=code,
        error=error,
        offered_sha=offered_sha
        or (hashlib.sha256(offered_file).hexdigest() if offered_file else None),
        issued=result.issued_at.astimezone(zone_for(result)).strftime("%Y-%m-%d"),
    )


# ---- operations statistics (admins) -----------------------------------------------------------


def _stats_args() -> dict[str, Any]:
    default_start, default_end = stats.default_range(
        now=utcnow().astimezone(
            zone_for(db.session.get_one(Hospital, signed_in_account().hospital_id))
        )
    )
    raw = {
        "start": request.args.get("start") or default_start.isoformat(),
        "end": request.args.get("end") or default_end.isoformat(),
        "group_by": request.args.get("group_by") or "day",
    }
    try:
        args: dict[str, Any] = stats.ReportStatsArgs().load(raw)
        return args
    except ValidationError as exc:
        raise InvalidInput(
            _(
                "Check the dates: %(problems)s",
                problems="; ".join(
                    f"{k}: {' '.join(map(str, v))}" for k, v in exc.messages_dict.items()
                ),
            ),
            code=ErrorCode.BAD_STATISTICS_RANGE,
        ) from None


def _table() -> tuple[stats.StatsTable, Hospital]:
    args = _stats_args()
    hospital = db.session.get_one(Hospital, signed_in_account().hospital_id)
    return stats.operations(hospital, **args, language=_language()), hospital


def _charts(table: stats.StatsTable) -> list[str]:
    labels = [r.label for r in table.rows]
    return [
        charts.bar_chart(
            _("Appointments"),
            labels,
            [
                charts.Series(_("Booked"), [r.booked for r in table.rows]),
                charts.Series(_("Checked in"), [r.checked_in for r in table.rows]),
                charts.Series(_("Cancelled"), [r.cancellations for r in table.rows]),
            ],
        ),
        charts.line_chart(
            _("Waiting time, check-in to call (minutes)"),
            labels,
            [
                charts.Series(_("Median (p50)"), [r.wait_p50_min for r in table.rows]),
                charts.Series(_("90th percentile (p90)"), [r.wait_p90_min for r in table.rows]),
            ],
        ),
        charts.bar_chart(
            _("Physical queues avoided"),
            labels,
            [
                charts.Series(_("Online bookings"), [r.online_bookings for r in table.rows]),
                charts.Series(_("Online payments"), [r.online_payments for r in table.rows]),
                charts.Series(
                    _("Reports picked up online"), [r.report_pickups for r in table.rows]
                ),
            ],
        ),
    ]


COLUMNS = (
    ("label", _l("Day / department / clinician")),
    ("booked", _l("Booked")),
    ("checked_in", _l("Checked in")),
    ("no_show_rate", _l("No-show rate")),
    ("wait_p50_min", _l("Wait p50 (min)")),
    ("wait_p90_min", _l("Wait p90 (min)")),
    ("service_avg_min", _l("Service time (min)")),
    ("patients_per_hour", _l("Patients per hour")),
    ("cancellations", _l("Cancellations")),
    ("revenue_fen", _l("Revenue (yuan)")),
    ("queues_avoided", _l("Queues avoided")),
    ("visits", _l("Visits")),
    ("stops_avoided", _l("Stops replaced (per visit events)")),
    ("stops_per_visit", _l("Stops replaced per visit")),
)


def cell(row: stats.StatsRow, name: str) -> Any:
    value = getattr(row, name)
    if value is None:
        return ""
    if name == "revenue_fen":
        return f"{value / 100:.2f}"
    if name == "no_show_rate":
        return f"{value * 100:.1f}%"
    return value


@bp.get("/statistics")
@sign_in_page_required
@require_roles(Role.ADMIN)
def statistics() -> Page:
    table, hospital = _table()
    accuracy = wait_accuracy.wait_accuracy(
        hospital, start=table.start, end=table.end, language=_language()
    )
    return render_template(
        "reports/statistics.html",
        table=table,
        charts=_charts(table),
        accuracy=accuracy,
        accuracy_chart=charts.line_chart(
            _("Share called inside the wait range shown, by hour shown (%)"),
            [f"{h:02d}:00" for h in accuracy.hours],
            [
                charts.Series(_("Coverage"), list(accuracy.coverage_by_hour)),
                charts.Series(
                    _("Target"),
                    [current_app.config["QUEUE_ETA_TARGET_COVERAGE"] * 100] * len(accuracy.hours),
                ),
            ],
        )
        if accuracy.hours
        else "",
        columns=COLUMNS,
        cell=cell,
        hospital=hospital,
        panels=render_statistics_sections(hospital.id, table.start, table.end),
        staff_rows=productivity.staff_productivity(
            hospital, start=table.start, end=table.end, language=_language()
        ),
        heatmap=productivity.queue_heatmap(
            hospital, start=table.start, end=table.end, language=_language()
        ),
        satisfaction=satisfaction.satisfaction(
            hospital, start=table.start, end=table.end, language=_language()
        ),
        heat_arrivals=lambda row: row.arrivals,
        heat_waits=lambda row: row.waits,
    )


@bp.get("/statistics.csv")
@sign_in_page_required
@require_roles(Role.ADMIN)
def statistics_csv() -> Page:
    table, _hospital = _table()
    rows = [[cell(r, name) for name, _label in COLUMNS] for r in [*table.rows, table.total]]
    body = to_csv([str(label) for _name, label in COLUMNS], rows)
    response = Response(body, mimetype="text/csv")
    response.headers["Content-Disposition"] = (
        f'attachment; filename="statistics-{table.start}-{table.end}-{table.group_by.value}.csv"'
    )
    return response


@bp.get("/statistics.pdf")
@sign_in_page_required
@require_roles(Role.ADMIN)
def statistics_pdf() -> Page:
    from hospital.pdf import render_pdf

    table, hospital = _table()
    html = render_template(
        "reports/statistics_pdf.html",
        table=table,
        charts=_charts(table),
        columns=COLUMNS,
        cell=cell,
        hospital=hospital,
        generated=_local(utcnow(), hospital),
    )
    try:
        pdf = render_pdf(html, timeout_s=30)
    except PdfRenderError as exc:
        raise release.RenderFailed(
            _("The statistics could not be rendered just now. Try a shorter range.")
        ) from exc
    response = Response(pdf, mimetype="application/pdf")
    response.headers["Content-Disposition"] = (
        f'attachment; filename="statistics-{table.start}-{table.end}.pdf"'
    )
    return response
