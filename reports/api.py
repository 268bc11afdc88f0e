"""REST endpoints for lab and exam reports (/api/v1/reports)."""

from __future__ import annotations

import json
from typing import Any

from flask import Response, jsonify, request
from flask_babel import gettext as _
from flask_smorest import Blueprint

from hospital.accounts.guards import (
    current_device,
    require_device,
    require_roles,
    require_signed_in,
    signed_in_account,
)
from hospital.accounts.models import DeviceKind, Role
from hospital.db import db, utcnow
from hospital.error_codes import ErrorCode
from hospital.errors import InvalidInput, NotFound
from hospital.organisation.models import Hospital
from hospital.web.api_docs import file_response
from reports import fhir, hl7, stats
from reports.models import LabReport, ReportSource, TestType
from reports.schemas import (
    PatientReportOut,
    PatientReportSummaryOut,
    ReportAmendmentArgs,
    ReportArgs,
    ReportDownloadArgs,
    ReportFhirResultOut,
    ReportHl7ResultOut,
    ReportListArgs,
    ReportTestTypeArgs,
    ReportTestTypeOut,
    StaffReportOut,
    StatsOut,
)
from reports.services import download as reports_download
from reports.services import intake, reading, release, test_types
from reports.stats import StatsQueryArgs

blp = Blueprint(
    "reports_api",
    __name__,
    description="Lab and exam results: intake from staff and laboratory systems, release, downloads.",
)


@blp.after_request
def _no_store(response: Response) -> Response:
    # Every answer here may hold health data: never keep it in a browser or proxy cache.
    response.headers["Cache-Control"] = "no-store"
    response.headers["Pragma"] = "no-cache"
    return response


def _device_hospital() -> Hospital:
    device = current_device()
    assert device is not None, "only called behind require_device"
    return db.session.get_one(Hospital, device.hospital_id)


@blp.route("/", methods=["GET"])
@require_signed_in
@blp.arguments(ReportListArgs, location="query")
@blp.doc(
    responses={
        "200": {
            "description": "A patient's own and family's reports; staff: the record's reports.",
            "content": {
                "application/json": {
                    "schema": {
                        "anyOf": [
                            {"type": "array", "items": PatientReportSummaryOut},
                            {"type": "array", "items": StaffReportOut},
                        ]
                    }
                }
            },
        }
    }
)
def list_reports(args: dict[str, Any]) -> Any:
    """Your released reports and your family's; staff: one patient's reports by record number."""
    account = signed_in_account()
    if "medical_record_number" in args:
        if not reading.is_staff_reader(account=account):
            raise NotFound(
                _("No patient with this medical record number."), code=ErrorCode.PATIENT_NOT_FOUND
            )
        reports = reading.staff_search(args["medical_record_number"], account=account)
        return jsonify(StaffReportOut(many=True).dump(reports))
    return jsonify(PatientReportSummaryOut(many=True).dump(reading.reports_for(account=account)))


@blp.route("/", methods=["POST"])
@require_roles(Role.LAB, Role.ADMIN)
@blp.arguments(ReportArgs)
@blp.response(201, StaffReportOut)
def enter_results(incoming: Any) -> LabReport:
    """Lab staff: enter a report's results (or attach a document) for a patient by record number."""
    account = signed_in_account()
    hospital = db.session.get_one(Hospital, account.hospital_id)
    (report,) = intake.receive_results(
        hospital, [incoming], source=ReportSource.STAFF, now=utcnow(), actor=account
    )
    return report


@blp.route("/hl7", methods=["POST"])
@require_device(DeviceKind.LAB_SYSTEM)
@blp.response(201, ReportHl7ResultOut)
@blp.doc(
    requestBody={
        "required": True,
        "description": "An HL7 v2.5 ORU^R01 message: MSH, one PID, then OBR segments each "
        "followed by its OBX results (segments end with carriage returns).",
        "content": {
            media_type: {"schema": {"type": "string", "pattern": r"^MSH\S"}}
            for media_type in ("x-application/hl7-v2+er7", "text/plain")
        },
    }
)
def receive_hl7() -> Any:
    """Laboratory system: post an HL7 v2 ORU^R01 message (pipe-delimited text)."""
    message = request.get_data(as_text=True)
    now = utcnow()
    try:
        incoming = hl7.parse_oru_r01(message)
    except hl7.Hl7Error as exc:
        raise InvalidInput(
            _("The HL7 message was refused: %(problem)s", problem=str(exc)),
            code=ErrorCode.HL7_INVALID,
            details={
                "segment": exc.segment,
                "field": exc.field,
                "acknowledgement": hl7.acknowledgement(
                    message, accepted=False, text=str(exc), now=now
                ),
            },
        ) from None
    reports = intake.receive_results(
        _device_hospital(), incoming, source=ReportSource.HL7, now=now, device=current_device()
    )
    numbers = [r.report_number for r in reports]
    return {
        "acknowledgement": hl7.acknowledgement(
            message, accepted=True, text=" ".join(numbers), now=now
        ),
        "reports": numbers,
    }


@blp.route("/fhir", methods=["POST"])
@require_device(DeviceKind.LAB_SYSTEM)
@blp.response(201, ReportFhirResultOut)
@blp.doc(
    requestBody={
        "required": True,
        "description": "A FHIR R4 Bundle holding a DiagnosticReport, its Observations and "
        "optionally the report's PDF (presentedForm). Sent as application/fhir+json (FHIR's "
        "own media type); the same body as application/json is read alike.",
        "content": {
            "application/fhir+json": {
                "schema": {
                    "type": "object",
                    "required": ["resourceType", "entry"],
                    "properties": {
                        "resourceType": {"type": "string", "enum": ["Bundle"]},
                        "entry": {"type": "array", "minItems": 1, "items": {"type": "object"}},
                    },
                }
            }
        },
    }
)
def receive_fhir() -> Any:
    """Laboratory system: post a FHIR R4 Bundle with DiagnosticReport and Observations."""
    try:
        document = json.loads(request.get_data(as_text=True) or "null")
    except ValueError:
        raise InvalidInput(
            _("The body is not valid JSON."), code=ErrorCode.FHIR_INVALID, details={"path": "$"}
        ) from None
    try:
        incoming = fhir.parse_bundle(document)
    except fhir.FhirError as exc:
        raise InvalidInput(
            _("The FHIR bundle was refused: %(problem)s", problem=str(exc)),
            code=ErrorCode.FHIR_INVALID,
            details={"path": exc.path},
        ) from None
    reports = intake.receive_results(
        _device_hospital(),
        incoming,
        source=ReportSource.FHIR,
        now=utcnow(),
        device=current_device(),
    )
    return {"reports": [r.report_number for r in reports]}


@blp.route("/test-types/<string:code>", methods=["PUT"])
@require_roles(Role.ADMIN)
@blp.arguments(ReportTestTypeArgs)
@blp.response(200, ReportTestTypeOut)
def save_test_type(args: dict[str, Any], code: str) -> TestType:
    """Admin: set a test type's names and release rule (immediate, delayed, clinician)."""
    if (
        not (1 <= len(code) <= 40)
        or not code.replace(".", "").replace("-", "").replace("_", "").isalnum()
    ):
        raise InvalidInput(
            _("A test code has 1 to 40 letters, digits, dots, dashes or underscores."),
            code=ErrorCode.BAD_TEST_CODE,
        )
    account = signed_in_account()
    return test_types.save_test_type(account.hospital_id, code, **args, actor=account)


@blp.route("/statistics", methods=["GET"])
@require_roles(Role.ADMIN)
@blp.arguments(StatsQueryArgs, location="query")
@blp.response(200, StatsOut)
def statistics(args: dict[str, Any]) -> Any:
    """Admin: operations statistics per day, department or clinician."""
    account = signed_in_account()
    hospital = db.session.get_one(Hospital, account.hospital_id)
    table = stats.operations(hospital, **args)
    return jsonify(stats.as_json(table))


@blp.route("/<string(length=22):public_id>", methods=["GET"])
@require_signed_in
@blp.doc(
    responses={
        "200": {
            "description": "The report as its reader may see it.",
            "content": {
                "application/json": {"schema": {"anyOf": [PatientReportOut, StaffReportOut]}}
            },
        }
    }
)
def show_report(public_id: str) -> Any:
    """One report: the patient and family see released versions; staff reads are audited."""
    account = signed_in_account()
    report = reading.open_report(public_id, account=account, now=utcnow())
    schema = StaffReportOut() if reading.is_staff_reader(account=account) else PatientReportOut()
    return jsonify(schema.dump(report))


def _file(public_id: str, args: dict[str, Any], *, document: bool) -> Response:
    download = reports_download.download(
        public_id,
        account=signed_in_account(),
        version=args["version"],
        document=document,
        now=utcnow(),
    )
    response = Response(download.content, mimetype=download.mimetype)
    response.headers["Content-Disposition"] = f'attachment; filename="{download.filename}"'
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


@blp.route("/<string(length=22):public_id>/pdf", methods=["GET"])
@require_signed_in
@blp.arguments(ReportDownloadArgs, location="query")
@blp.doc(**file_response("The report (PDF).", "application/pdf"))
def download_pdf(args: dict[str, Any], public_id: str) -> Response:
    """Download the issued PDF of a report (its SHA-256 is checked first)."""
    return _file(public_id, args, document=False)


@blp.route("/<string(length=22):public_id>/document", methods=["GET"])
@require_signed_in
@blp.arguments(ReportDownloadArgs, location="query")
@blp.doc(**file_response("The attached document, in the type it was sent in.", "*/*"))
def download_document(args: dict[str, Any], public_id: str) -> Response:
    """Download the document attached to a report (e.g. an imaging report PDF)."""
    return _file(public_id, args, document=True)


@blp.route("/<string(length=22):public_id>/release", methods=["POST"])
@require_roles(Role.CLINICIAN, Role.ADMIN)
@blp.response(200, StaffReportOut)
def release_report(public_id: str) -> LabReport:
    """Clinician: release a report held for review; the patient and family are notified."""
    account = signed_in_account()
    report = reading.find_report(public_id, account=account, action="report.release")
    return release.release_by_clinician(report, actor=account, now=utcnow())


@blp.route("/<string(length=22):public_id>/amendments", methods=["POST"])
@require_roles(Role.LAB, Role.ADMIN)
@blp.arguments(ReportAmendmentArgs)
@blp.response(201, StaffReportOut)
def amend_report(args: dict[str, Any], public_id: str) -> LabReport:
    """Lab staff: issue a corrected version; every earlier version is kept."""
    account = signed_in_account()
    report = reading.find_report(public_id, account=account, action="report.amend")
    return intake.amend(
        report, args["incoming"], reason=args["reason"], now=utcnow(), actor=account
    )
