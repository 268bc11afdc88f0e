"""Marshmallow schemas: separate input (…Args) and output schemas for patients and staff."""

from __future__ import annotations

import base64
import binascii
from typing import Any

from flask_babel import lazy_gettext as _l
from marshmallow import Schema, ValidationError, fields, post_load, validate, validates_schema

from reports.models import AbnormalFlag
from reports.release import ReleaseRule
from reports.results import IncomingReport, ResultDocument, ResultItem, flag_from_range

CODE = validate.Regexp(r"^[A-Za-z0-9._\-]+$", error="Use letters, digits, dot, dash or underscore.")


class ReportItemArgs(Schema):
    code = fields.Str(load_default="", validate=validate.Length(max=40))
    name = fields.Str(required=True, validate=validate.Length(min=1, max=200))
    value = fields.Str(required=True, validate=validate.Length(min=1, max=200))
    unit = fields.Str(load_default="", validate=validate.Length(max=40))
    reference_range = fields.Str(load_default="", validate=validate.Length(max=80))
    flag = fields.Str(
        load_default=None, allow_none=True, validate=validate.OneOf([f.value for f in AbnormalFlag])
    )


class ReportDocumentArgs(Schema):
    content_type = fields.Str(required=True, validate=validate.OneOf(["application/pdf"]))
    data = fields.Str(required=True, metadata={"description": "The file, Base64-encoded."})

    @post_load
    def decode(self, data: dict[str, Any], **_kw: Any) -> ResultDocument:
        try:
            raw = base64.b64decode(data["data"], validate=True)
        except (binascii.Error, ValueError):
            raise ValidationError(str(_l("Not valid Base64.")), "data") from None
        if not raw.startswith(b"%PDF-"):
            raise ValidationError(str(_l("The document is not a PDF file.")), "data")
        return ResultDocument(data["content_type"], raw)


class ReportContentArgs(Schema):
    observed_at = fields.AwareDateTime(load_default=None, allow_none=True)
    signed_by = fields.Str(required=True, validate=validate.Length(min=1, max=100))
    conclusion = fields.Str(load_default="", validate=validate.Length(max=4000))
    items = fields.List(
        fields.Nested(ReportItemArgs), load_default=list, validate=validate.Length(max=500)
    )
    document = fields.Nested(ReportDocumentArgs, load_default=None, allow_none=True)

    @validates_schema
    def has_content(self, data: dict[str, Any], **_kw: Any) -> None:
        if not data.get("items") and data.get("document") is None:
            raise ValidationError(str(_l("Give at least one result item or a document.")), "items")


def _incoming(data: dict[str, Any], **fixed: Any) -> IncomingReport:
    items = [ResultItem(**item) for item in data.get("items", [])]
    for item in items:
        if item.flag is None:
            item.flag = flag_from_range(item.value, item.reference_range)
    return IncomingReport(
        items=items,
        document=data.get("document"),
        observed_at=data.get("observed_at"),
        signed_by=data["signed_by"],
        conclusion=data.get("conclusion", ""),
        **fixed,
    )


class ReportArgs(ReportContentArgs):
    medical_record_number = fields.Str(required=True, validate=validate.Length(min=1, max=20))
    test_code = fields.Str(required=True, validate=[validate.Length(min=1, max=40), CODE])
    test_name = fields.Str(load_default="", validate=validate.Length(max=200))
    order_reference = fields.Str(load_default="", validate=validate.Length(max=64))

    @post_load
    def build(self, data: dict[str, Any], **_kw: Any) -> IncomingReport:
        return _incoming(
            data,
            medical_record_number=data["medical_record_number"],
            test_code=data["test_code"],
            test_name=data["test_name"],
            order_reference=data["order_reference"],
        )


class ReportAmendmentArgs(ReportContentArgs):
    reason = fields.Str(required=True, validate=validate.Length(min=1, max=500))

    @post_load
    def build(self, data: dict[str, Any], **_kw: Any) -> dict[str, Any]:
        return {
            "reason": data["reason"],
            "incoming": _incoming(data, medical_record_number="", test_code=""),
        }


class ReportTestTypeArgs(Schema):
    name_zh = fields.Str(required=True, validate=validate.Length(min=1, max=100))
    name_en = fields.Str(required=True, validate=validate.Length(min=1, max=100))
    release_rule = fields.Enum(ReleaseRule, by_value=True, required=True)
    release_delay_minutes = fields.Int(load_default=0, validate=validate.Range(min=0, max=10080))

    @validates_schema
    def delay_needs_rule(self, data: dict[str, Any], **_kw: Any) -> None:
        if (
            data.get("release_delay_minutes")
            and data.get("release_rule") is not ReleaseRule.DELAYED
        ):
            raise ValidationError(
                str(_l('A delay applies only to the rule "delayed".')), "release_delay_minutes"
            )


class ReportListArgs(Schema):
    medical_record_number = fields.Str(validate=validate.Length(min=1, max=20))


class ReportDownloadArgs(Schema):
    version = fields.Int(load_default=None, validate=validate.Range(min=1, max=10_000))


class ReportTestTypeOut(Schema):
    code = fields.Str()
    name_zh = fields.Str()
    name_en = fields.Str()
    release_rule = fields.Enum(ReleaseRule, by_value=True)
    release_delay_minutes = fields.Int()


class ReportItemOut(Schema):
    code = fields.Str()
    name = fields.Str()
    value = fields.Str()
    unit = fields.Str()
    reference_range = fields.Str()
    flag = fields.Function(lambda item: item.flag.value if item.flag else None)
    abnormal = fields.Function(
        lambda item: item.flag is not None and item.flag is not AbnormalFlag.NORMAL
    )


class ReportVersionOut(Schema):
    version = fields.Int()
    issued_at = fields.AwareDateTime()
    signed_by = fields.Str()
    conclusion = fields.Str()
    amendment_reason = fields.Str()
    has_document = fields.Function(lambda v: bool(v.document_sha256))
    pdf_sha256 = fields.Str()
    items = fields.List(fields.Nested(ReportItemOut))


class PatientReportOut(Schema):
    """What the patient and family see: released versions only."""

    id = fields.Str(attribute="public_id")
    report_number = fields.Str()
    test_name = fields.Str()
    status = fields.Function(lambda r: r.status.value)
    released_at = fields.AwareDateTime()
    patient_name = fields.Function(lambda r: r.patient.name)
    versions = fields.Method("_versions")

    def _versions(self, report: Any) -> list[dict[str, Any]]:
        dumped: list[dict[str, Any]] = ReportVersionOut(many=True).dump(report.released_versions)
        return dumped


class PatientReportSummaryOut(Schema):
    id = fields.Str(attribute="public_id")
    report_number = fields.Str()
    test_name = fields.Str()
    status = fields.Function(lambda r: r.status.value)
    released_at = fields.AwareDateTime()
    amended = fields.Function(lambda r: (r.released_version or 0) > 1)


class StaffReportOut(Schema):
    id = fields.Str(attribute="public_id")
    report_number = fields.Str()
    test_code = fields.Str()
    test_name = fields.Str()
    order_reference = fields.Str()
    billing_order_id = fields.Int(allow_none=True)
    source = fields.Function(lambda r: r.source.value)
    status = fields.Function(lambda r: r.status.value)
    release_rule = fields.Function(lambda r: r.release_rule.value)
    release_due_at = fields.AwareDateTime()
    received_at = fields.AwareDateTime()
    released_at = fields.AwareDateTime()
    current_version = fields.Int()
    released_version = fields.Int(allow_none=True)
    versions = fields.Method("_versions")

    def _versions(self, report: Any) -> list[dict[str, Any]]:
        newest_first = sorted(report.versions, key=lambda v: -v.version)
        dumped: list[dict[str, Any]] = ReportVersionOut(many=True).dump(newest_first)
        return dumped


class ReportHl7ResultOut(Schema):
    acknowledgement = fields.Str()
    reports = fields.List(fields.Str())


class ReportFhirResultOut(Schema):
    reports = fields.List(fields.Str())


class StatsRowOut(Schema):
    """One row of the operations statistics (a day, a department or a clinician, or the total)."""

    key = fields.Str(required=True)
    label = fields.Str(required=True)
    booked = fields.Int(required=True)
    checked_in = fields.Int(required=True)
    no_shows = fields.Int(required=True)
    cancellations = fields.Int(required=True)
    completed = fields.Int(required=True)
    no_show_rate = fields.Float(required=True, allow_none=True)
    wait_p50_min = fields.Float(required=True, allow_none=True)
    wait_p90_min = fields.Float(required=True, allow_none=True)
    service_avg_min = fields.Float(required=True, allow_none=True)
    patients_per_hour = fields.Float(required=True, allow_none=True)
    revenue_fen = fields.Int(required=True)
    online_bookings = fields.Int(required=True)
    online_payments = fields.Int(required=True)
    report_pickups = fields.Int(required=True)
    queues_avoided = fields.Int(required=True)


class StatsOut(Schema):
    start = fields.Date(required=True)
    end = fields.Date(required=True)
    group_by = fields.Str(
        required=True, validate=validate.OneOf(["day", "department", "clinician"])
    )
    rows = fields.List(fields.Nested(StatsRowOut), required=True)
    total = fields.Nested(StatsRowOut, required=True)
