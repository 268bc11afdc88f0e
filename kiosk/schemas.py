"""Input (`...Args`) and output schemas of the kiosk API."""

from __future__ import annotations

from typing import Any, ClassVar

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from hospital.accounts.otp import CODE_PATTERN
from hospital.patients.identity import PHONE_PATTERN
from hospital.web.id_fields import id_field

_PROOF = "Identify the patient: give id_number, or the confirmation from a texted code."
# An empty or null proof counts as none given (as the validation below reads them).
_GIVEN_ID = {
    "required": ["id_number"],
    "properties": {"id_number": {"type": "string", "minLength": 1}},
}
_GIVEN_CONFIRMATION = {
    "required": ["confirmation"],
    "properties": {"confirmation": {"type": "string", "minLength": 1}},
}
_ONE_PROOF = {"oneOf": [_GIVEN_ID, _GIVEN_CONFIRMATION]}
# Resident ID (18 characters) or passport number (5 to 17 letters and digits); spaces ignored.
# A family-printed patient card's code (hospital/cards, "HC-ABCD-EFGH-JKLM-NPQR") is taken too,
# and so is a medical-insurance code shown on a phone ("YB" and 16 characters).
IDENTITY_NUMBER_PATTERN = (
    r"^\s*(?:[A-Za-z0-9]\s*){5,17}$|^\s*(?:\d\s*){17}[\dXx]\s*$"
    r"|^\s*[Hh][Cc](?:[\s-]*[A-Za-z0-9]){16}[\s-]*$"
    r"|^\s*[Yy][Bb](?:[\s-]*[A-Za-z0-9]){16}[\s-]*$"
)


def _identity_number() -> fields.Str:
    return fields.Str(
        load_default=None,
        allow_none=True,
        validate=validate.Length(max=32),
        metadata={
            "pattern": rf"^$|{IDENTITY_NUMBER_PATTERN}",
            "description": "A resident ID or passport number; a resident ID whose check "
            "character or birth date is wrong names nobody (404).",
        },
    )


class KioskProofArgs(Schema):
    """Who the patient is: an identity number, or a confirmed phone."""

    OPENAPI_CONSTRAINTS: ClassVar[dict[str, Any]] = _ONE_PROOF

    id_number = _identity_number()
    confirmation = fields.Str(load_default=None, allow_none=True, validate=validate.Length(max=400))

    @validates_schema
    def _one_proof(self, data: dict[str, Any], **_kw: Any) -> None:
        if bool(data.get("id_number")) == bool(data.get("confirmation")):
            raise ValidationError(_PROOF, "id_number")


class KioskReprintArgs(Schema):
    """Who the patient is: the visit code (就诊码), an identity number, or a confirmed phone."""

    OPENAPI_CONSTRAINTS: ClassVar[dict[str, Any]] = {
        "oneOf": [
            {"required": ["code"], "properties": {"code": {"type": "string", "minLength": 1}}},
            _GIVEN_ID,
            _GIVEN_CONFIRMATION,
        ]
    }

    code = fields.Str(
        load_default=None,
        allow_none=True,
        validate=validate.Length(max=200),
        metadata={"description": "The visit code scanned from the patient's phone."},
    )
    id_number = _identity_number()
    confirmation = fields.Str(load_default=None, allow_none=True, validate=validate.Length(max=400))

    @validates_schema
    def _one_proof(self, data: dict[str, Any], **_kw: Any) -> None:
        given = [k for k in ("code", "id_number", "confirmation") if data.get(k)]
        if len(given) != 1:
            raise ValidationError(
                "Identify the patient: scan the visit code, or give id_number, or the "
                "confirmation from a texted code.",
                "code",
            )


class KioskCheckInArgs(Schema):
    """The appointment's QR code; or an appointment with one proof of who the patient is."""

    OPENAPI_CONSTRAINTS: ClassVar[dict[str, Any]] = {
        "anyOf": [
            {"required": ["code"], "properties": {"code": {"type": "string", "minLength": 1}}},
            {
                "required": ["appointment_id"],
                "properties": {"appointment_id": {"type": "integer"}},
                **_ONE_PROOF,
            },
        ]
    }

    code = fields.Str(load_default=None, allow_none=True, validate=validate.Length(max=200))
    appointment_id = id_field(load_default=None, allow_none=True)
    id_number = _identity_number()
    confirmation = fields.Str(load_default=None, allow_none=True, validate=validate.Length(max=400))

    @validates_schema
    def _code_or_appointment(self, data: dict[str, Any], **_kw: Any) -> None:
        if data.get("code"):
            return
        if data.get("appointment_id") is None:
            raise ValidationError(
                "Scan the appointment's QR code or choose an appointment.", "code"
            )
        if bool(data.get("id_number")) == bool(data.get("confirmation")):
            raise ValidationError(_PROOF, "id_number")


class KioskWalkInArgs(KioskProofArgs):
    OPENAPI_CONSTRAINTS: ClassVar[dict[str, Any]] = {
        "not": {
            "required": ["id_number", "confirmation"],
            "properties": {
                "id_number": {"type": "string", "minLength": 1},
                "confirmation": {"type": "string", "minLength": 1},
            },
        }
    }

    department_id = id_field(required=True)

    @validates_schema
    def _one_proof(self, data: dict[str, Any], **_kw: Any) -> None:
        # A walk-in may stay anonymous; if identified, by one proof only.
        if data.get("id_number") and data.get("confirmation"):
            raise ValidationError(_PROOF, "id_number")


class KioskSendCodeArgs(Schema):
    phone = fields.Str(
        required=True,
        validate=validate.Length(min=1, max=20),
        metadata={"pattern": PHONE_PATTERN},
    )
    language = fields.Str(load_default="zh", validate=validate.OneOf(["zh", "en"]))


class KioskVerifyCodeArgs(Schema):
    phone = fields.Str(
        required=True,
        validate=validate.Length(min=1, max=20),
        metadata={"pattern": PHONE_PATTERN},
    )
    code = fields.Str(
        required=True,
        validate=validate.Length(min=1, max=12),
        metadata={"pattern": CODE_PATTERN},
    )


class RegisterKioskArgs(Schema):
    name = fields.Str(required=True, validate=validate.Length(min=1, max=100))
    location = fields.Str(required=True, validate=validate.Length(min=1, max=200))
    printer_host = fields.Str(load_default="", validate=validate.Length(max=253))
    printer_port = fields.Int(load_default=9100, strict=True)


class KioskPrinterArgs(Schema):
    printer_host = fields.Str(required=True, validate=validate.Length(max=253))
    printer_port = fields.Int(load_default=9100, strict=True)


class KioskSentCodeOut(Schema):
    masked_phone = fields.Str()
    wait_seconds = fields.Int()


class KioskAppointmentOut(Schema):
    appointment_id = fields.Int()
    starts_at = fields.DateTime()
    time = fields.Str()
    masked_name = fields.Str()
    department = fields.Str()
    clinician = fields.Str()
    checked_in = fields.Bool()


class KioskPersonOut(Schema):
    """Someone the confirmed phone may register: masked name only, on a shared screen."""

    patient_id = fields.Int()
    masked_name = fields.Str()
    is_self = fields.Bool()


class KioskAppointmentsOut(Schema):
    confirmation = fields.Str(allow_none=True)
    appointments = fields.List(fields.Nested(KioskAppointmentOut))
    people = fields.List(fields.Nested(KioskPersonOut))


class KioskTicketOut(Schema):
    code = fields.Str()
    token = fields.Str()
    new = fields.Bool()
    ahead = fields.Int(allow_none=True)
    url = fields.Str()
    slip_html = fields.Str()
    pdf_url = fields.Str()


class KioskPrintOut(Schema):
    printed = fields.Bool()
    by_browser = fields.Bool()
    printer_state = fields.Str()
    message = fields.Str()


class KioskDeskSlipArgs(Schema):
    department_id = id_field(required=True)


class KioskDeskSlipOut(KioskPrintOut):
    department = fields.Str(metadata={"description": "The department, in the page's language."})
    department_zh = fields.Str()
    department_en = fields.Str()
    fee = fields.Str(metadata={"description": "Walk-in fee in yuan; empty: the desk says."})
    issued_at = fields.Str(metadata={"description": "Local time, YYYY-MM-DD HH:MM."})
    code = fields.Str(
        metadata={"description": "The slip's code: the desk scans it to give the walk-in a number."}
    )
    code_qr = fields.Str(metadata={"description": "The code as an SVG QR image, for the screen."})


class KioskDepartmentOut(Schema):
    department_id = fields.Int()
    name = fields.Str()
    waiting = fields.Int()
    queue = fields.Bool()
    slot_today = fields.Bool()
    fee = fields.Str(metadata={"description": "Walk-in fee of the queue in yuan; empty: free."})
    initial = fields.Str(
        metadata={
            "description": "A-Z index letter: the pinyin initial of the Chinese name (#: none)."
        }
    )


class KioskHeartbeatOut(Schema):
    ok = fields.Bool()
    printer_state = fields.Str()


class KioskHelpRequestOut(Schema):
    id = fields.Int()
    device_id = fields.Int()
    kiosk_name = fields.Str()
    location = fields.Str()
    created_at = fields.DateTime()
    resolved_at = fields.DateTime(allow_none=True)


class KioskOut(Schema):
    device_id = fields.Int()
    name = fields.Str()
    location = fields.Str()
    is_active = fields.Bool()
    printer = fields.Str()
    printer_state = fields.Str()
    printer_checked_at = fields.DateTime(allow_none=True)
    last_contact_at = fields.DateTime(allow_none=True)
    open_help_requests = fields.Int()


class RegisteredKioskOut(KioskOut):
    token = fields.Str()


class KioskBookArgs(Schema):
    department_id = id_field(required=True)
    confirmation = fields.Str(required=True, validate=validate.Length(min=1, max=400))
    patient_id = id_field(
        load_default=None,
        allow_none=True,
        metadata={"description": "A family member the phone books for; default its owner."},
    )


class KioskBookingStatusArgs(Schema):
    confirmation = fields.Str(required=True, validate=validate.Length(min=1, max=400))


class KioskBookingOut(Schema):
    appointment_id = fields.Int()
    time = fields.Str()
    fee = fields.Str()
    pay_url = fields.Str()
    pay_qr = fields.Str()


class KioskWalkInPaymentOut(Schema):
    walk_in_id = fields.Int()
    fee = fields.Str()
    pay_url = fields.Str()
    pay_qr = fields.Str()


class KioskBookingStatusOut(Schema):
    paid = fields.Bool()
    ticket = fields.Nested(KioskTicketOut, allow_none=True)


class KioskReportOut(Schema):
    public_id = fields.Str()
    title = fields.Str()
    masked_name = fields.Str()
    released = fields.Str()


class SameDayNumberArgs(Schema):
    department_id = id_field(required=True)
    patient_id = id_field(
        required=True,
        metadata={"description": "Whom the number is for: you, or a family member you book for."},
    )


class SameDayChoiceOut(Schema):
    department_id = fields.Int()
    name_zh = fields.Str()
    name_en = fields.Str()
    waiting = fields.Int()
    fee = fields.Str(metadata={"description": 'The walk-in fee in yuan ("0.00": free).'})
    left = fields.Int(metadata={"description": "Same-day numbers still to be had from phones."})


class SameDayNumberOut(Schema):
    walk_in_id = fields.Int()
    fee = fields.Str()
    pay_url = fields.Str(
        metadata={"description": "Where to pay the fee; empty when free (the number is issued)."}
    )
