"""Photos and PDFs: type and size limits, images re-encoded, kept outside the web root, served
only to the patient's accounts and the clinician, never cached; a stranger's try is audited."""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from PIL import Image

from consult.models import ConsultAttachment
from consult.services import attachments
from hospital.audit.models import AuditEntry
from hospital.db import db
from hospital.errors import Conflict, InvalidInput, NotFound
from tests.support.auth import sign_in
from tests.support.consult_factories import ConsultWorld
from tests.support.consult_flow import paid_question

PDF_BYTES = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def _png(width: int = 40, height: int = 30) -> bytes:
    out = io.BytesIO()
    image = Image.new("RGB", (width, height), (200, 30, 30))
    image.save(out, format="PNG", pnginfo=None)
    return out.getvalue()


@pytest.fixture(autouse=True)
def _files_in_tmp(app: Flask, tmp_path: Any) -> Iterator[str]:
    saved = app.config["CONSULT_ATTACHMENT_DIR"]
    app.config["CONSULT_ATTACHMENT_DIR"] = str(tmp_path / "files")
    yield str(tmp_path / "files")
    app.config["CONSULT_ATTACHMENT_DIR"] = saved


def test_a_photo_is_re_encoded_as_jpeg_and_kept_outside_the_web_root(
    world: ConsultWorld, _files_in_tmp: str
):
    consultation = paid_question(world)
    row = attachments.attach(consultation.id, actor=world.daughter, data=_png(), now=world.now)
    assert row.content_type == "image/jpeg"
    path = os.path.join(_files_in_tmp, str(world.hospital.id), row.storage_name)
    with open(path, "rb") as handle:
        kept = handle.read()
    assert kept.startswith(b"\xff\xd8")  # a JPEG, not the PNG that was sent
    with Image.open(io.BytesIO(kept)) as image:
        assert image.size == (40, 30)


def test_a_pdf_is_kept_as_sent(world: ConsultWorld):
    consultation = paid_question(world)
    row = attachments.attach(consultation.id, actor=world.daughter, data=PDF_BYTES, now=world.now)
    assert row.content_type == "application/pdf"


def test_wrong_types_and_large_files_are_refused(world: ConsultWorld, app: Flask):
    consultation = paid_question(world)
    for data in (b"MZ\x90\x00 not an image", b"<svg xmlns='http://www.w3.org/2000/svg'/>", b""):
        with pytest.raises(InvalidInput) as refused:
            attachments.attach(consultation.id, actor=world.daughter, data=data, now=world.now)
        assert refused.value.code == "consult_attachment_type"
    too_large = b"%PDF-1.4\n" + b"0" * app.config["CONSULT_ATTACHMENT_MAX_BYTES"] + b"%%EOF"
    with pytest.raises(InvalidInput) as refused:
        attachments.attach(consultation.id, actor=world.daughter, data=too_large, now=world.now)
    assert refused.value.code == "consult_attachment_too_large"
    assert db.session.scalar(sa.select(sa.func.count(ConsultAttachment.id))) == 0


def test_a_consultation_holds_only_a_few_files(world: ConsultWorld, app: Flask):
    consultation = paid_question(world)
    for _ in range(app.config["CONSULT_ATTACHMENTS_MAX"]):
        attachments.attach(consultation.id, actor=world.daughter, data=PDF_BYTES, now=world.now)
    with pytest.raises(Conflict):
        attachments.attach(consultation.id, actor=world.daughter, data=PDF_BYTES, now=world.now)


def test_a_stranger_cannot_attach_to_the_fathers_question(world: ConsultWorld):
    consultation = paid_question(world)
    with pytest.raises(NotFound):
        attachments.attach(consultation.id, actor=world.stranger, data=PDF_BYTES, now=world.now)


def test_files_are_served_to_the_family_and_the_doctor_only_and_never_cached(
    client: Any, world: ConsultWorld
):
    consultation = paid_question(world)
    db.session.commit()
    sign_in(client, world.daughter)
    uploaded = client.post(
        f"/consult/{consultation.id}/attachments",
        data={"file": (io.BytesIO(_png()), "report.png")},
        content_type="multipart/form-data",
    )
    assert uploaded.status_code == 302
    row = db.session.scalar(sa.select(ConsultAttachment))
    assert row is not None
    for reader in (world.daughter, world.father_account, world.doctor_account):
        sign_in(client, reader)
        got = client.get(f"/consult/files/{row.id}")
        assert got.status_code == 200, reader
        assert got.headers["Cache-Control"] == "no-store"
        assert got.mimetype == "image/jpeg"
        assert got.get_data().startswith(b"\xff\xd8")
        got.close()
    sign_in(client, world.stranger)
    assert client.get(f"/consult/files/{row.id}").status_code == 404
    denied = db.session.scalar(
        sa.select(AuditEntry).where(
            AuditEntry.actor_account_id == world.stranger.id, AuditEntry.outcome == "denied"
        )
    )
    assert denied is not None and denied.patient_id == world.father.id
