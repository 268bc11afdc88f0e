"""Photos and PDFs sent with a question: checked, images re-encoded, kept outside the web root,
and handed only to the patient's accounts and the clinician."""

from __future__ import annotations

import contextlib
import io
import os
import secrets
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from flask import current_app
from flask_babel import lazy_gettext as _l
from PIL import Image, UnidentifiedImageError

from consult.models import Consultation, ConsultAttachment, ConsultStatus
from consult.services import access
from hospital.accounts.models import Account
from hospital.audit.service import record
from hospital.db import db
from hospital.error_codes import ErrorCode
from hospital.errors import Conflict, InvalidInput, NotFound
from hospital.unit_of_work import after_rollback

PDF = "application/pdf"
JPEG = "image/jpeg"
IMAGE_FORMATS = {"JPEG", "PNG", "WEBP", "GIF", "BMP"}
LONGEST_SIDE = 2400  # pixels: enough to read a report photographed on a phone
MAX_PIXELS = 40_000_000  # refuse decompression bombs before decoding
ACCEPTING = (ConsultStatus.AWAITING_PAYMENT, ConsultStatus.OPEN, ConsultStatus.ANSWERED)


def attachment_dir() -> str:
    configured = str(current_app.config.get("CONSULT_ATTACHMENT_DIR") or "")
    return configured or os.path.join(current_app.instance_path, "consult_attachments")


def _wrong_type() -> InvalidInput:
    return InvalidInput(
        _l("Send a photo (JPEG, PNG, WebP) or a PDF."), code=ErrorCode.CONSULT_ATTACHMENT_TYPE
    )


def clean_file(data: bytes) -> tuple[bytes, str]:
    """The bytes to keep and their type: a PDF as sent, an image re-encoded as JPEG (no metadata)."""
    if data.startswith(b"%PDF-"):
        if b"%%EOF" not in data[-1024:]:
            raise _wrong_type()
        return data, PDF
    try:
        with Image.open(io.BytesIO(data)) as probe:
            if probe.format not in IMAGE_FORMATS:
                raise _wrong_type()
            if probe.width * probe.height > MAX_PIXELS:
                raise _wrong_type()
            probe.verify()
        with Image.open(io.BytesIO(data)) as image:
            image.load()
            picture = image.convert("RGB")
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        raise _wrong_type() from None
    picture.thumbnail((LONGEST_SIDE, LONGEST_SIDE))
    out = io.BytesIO()
    picture.save(out, format="JPEG", quality=85, optimize=True)
    return out.getvalue(), JPEG


def attach(
    consultation_id: int, *, actor: Account, data: bytes, now: datetime
) -> ConsultAttachment:
    """Add a photo or PDF to the patient's consultation (the patient's side only)."""
    consultation = access.for_patient_side(
        consultation_id, actor=actor, action="consult.attach", lock=True
    )
    if consultation.status not in ACCEPTING:
        raise Conflict(
            _l("This consultation is not open for that any more."),
            code=ErrorCode.CONSULT_WRONG_STATE,
        )
    limit = int(current_app.config["CONSULT_ATTACHMENT_MAX_BYTES"])
    if not data:
        raise _wrong_type()
    if len(data) > limit:
        raise InvalidInput(
            _l("The file is too large: send one of at most {size} KB.").format(size=limit // 1000),
            code=ErrorCode.CONSULT_ATTACHMENT_TOO_LARGE,
        )
    held = db.session.scalar(
        sa.select(sa.func.count(ConsultAttachment.id)).where(
            ConsultAttachment.consultation_id == consultation.id
        )
    )
    if int(held or 0) >= int(current_app.config["CONSULT_ATTACHMENTS_MAX"]):
        raise Conflict(
            _l("This consultation holds as many files as it can."),
            code=ErrorCode.CONSULT_ATTACHMENTS_FULL,
        )
    kept, content_type = clean_file(data)
    name = secrets.token_hex(16) + (".pdf" if content_type == PDF else ".jpg")
    folder = os.path.join(attachment_dir(), str(consultation.hospital_id))
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, name)
    with open(path, "xb") as handle:
        handle.write(kept)
    # A request that fails after this point leaves no file behind.
    after_rollback(lambda _session: _remove(path))
    row = ConsultAttachment(
        hospital_id=consultation.hospital_id,
        consultation_id=consultation.id,
        uploaded_by_account_id=actor.id,
        content_type=content_type,
        size_bytes=len(kept),
        storage_name=name,
        created_at=now,
    )
    db.session.add(row)
    db.session.flush()
    return row


def _remove(path: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.remove(path)


def attachments_of(consultation: Consultation) -> list[ConsultAttachment]:
    return list(
        db.session.scalars(
            sa.select(ConsultAttachment)
            .where(ConsultAttachment.consultation_id == consultation.id)
            .order_by(ConsultAttachment.id)
        )
    )


@dataclass(frozen=True)
class StoredFile:
    path: str
    content_type: str


def open_attachment(attachment_id: int, *, actor: Account) -> StoredFile:
    """The file, for the patient's accounts or the clinician; anyone else: NotFound, audited."""
    row = db.session.get(ConsultAttachment, attachment_id)
    if row is None or row.hospital_id != actor.hospital_id:
        record(
            action="consult.attachment.read",
            outcome="denied",
            actor=actor,
            object_type="consult_attachment",
            object_id=str(attachment_id),
            hospital_id=actor.hospital_id,
        )
        raise NotFound(_l("No such file."), code=ErrorCode.NOT_FOUND)
    # Refuses (and audits) any account that is neither the patient's nor the clinician's.
    access.for_reader(row.consultation_id, actor=actor)
    return StoredFile(
        os.path.join(attachment_dir(), str(row.hospital_id), row.storage_name), row.content_type
    )
