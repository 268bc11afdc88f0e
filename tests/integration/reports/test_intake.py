"""Results come in from lab staff (REST), HL7 v2 and FHIR; bad input is refused, nothing half-stored."""

from __future__ import annotations

import base64
import copy
from typing import Any

import sqlalchemy as sa
from flask import g

from hospital.accounts.models import DeviceKind
from hospital.db import db
from reports.models import LabReport, LabReportItem, LabReportVersion, ReportStatus
from tests.integration.reports.conftest import add_lab_device, sign_in_as
from tests.support.reports_factories import TINY_PDF, fhir_bundle, hl7_message, report_args


def _count() -> int:
    return db.session.scalar(sa.select(sa.func.count(LabReport.id)))


def _versions() -> int:
    return db.session.scalar(sa.select(sa.func.count(LabReportVersion.id)))


def _hl7(client: Any, ward: Any, message: str) -> Any:
    return client.post(
        "/api/v1/reports/hl7",
        data=message.encode(),
        headers={
            "Authorization": f"Bearer {ward.device_token}",
            "Content-Type": "application/hl7-v2",
        },
    )


def test_lab_staff_enter_results_for_a_patient_by_record_number(client: Any, ward: Any) -> None:
    sign_in_as(client, ward.lab)
    response = client.post("/api/v1/reports/", json=report_args(ward.patient.medical_record_number))
    assert response.status_code == 201, response.json
    body = response.json
    assert body["status"] == "ready"  # GLU releases immediately
    items = body["versions"][0]["items"]
    assert [i["flag"] for i in items] == ["high", "normal"]
    report = db.session.scalar(sa.select(LabReport).where(LabReport.public_id == body["id"]))
    assert report.patient_id == ward.patient.id
    assert len(body["id"]) >= 20  # random, not the patient or report id


def test_lab_staff_may_attach_a_document(client: Any, ward: Any) -> None:
    sign_in_as(client, ward.lab)
    args = report_args(
        ward.patient.medical_record_number,
        items=[],
        document={"content_type": "application/pdf", "data": base64.b64encode(TINY_PDF).decode()},
    )
    response = client.post("/api/v1/reports/", json=args)
    assert response.status_code == 201, response.json
    assert response.json["versions"][0]["has_document"] is True


def test_unknown_record_number_is_refused_and_nothing_is_stored(client: Any, ward: Any) -> None:
    sign_in_as(client, ward.lab)
    response = client.post("/api/v1/reports/", json=report_args("99999999"))
    assert response.status_code == 422
    assert response.json["code"] == "unknown_medical_record_number"
    assert "99999999" in response.json["message"]
    assert _count() == 0


def test_bad_rest_input_names_the_field(client: Any, ward: Any) -> None:
    sign_in_as(client, ward.lab)
    cases = [
        (report_args("1", items=[{"name": "x"}]), "items"),
        (report_args("1", items=[]), "items"),
        (report_args("1", test_code="../../etc"), "test_code"),
        (report_args("1", items=[{"name": "a", "value": "1", "flag": "purple"}]), "items"),
        (report_args("1", document={"content_type": "application/pdf", "data": "@@@"}), "document"),
        (
            report_args(
                "1",
                document={
                    "content_type": "application/pdf",
                    "data": base64.b64encode(b"<html>").decode(),
                },
            ),
            "document",
        ),
        ({**report_args("1"), "status": "ready"}, "status"),
        (report_args("1", observed_at="2026-11-28T08:00:00"), "observed_at"),
    ]
    for body, field in cases:
        response = client.post("/api/v1/reports/", json=body)
        assert response.status_code == 422, (field, response.json)
        assert field in response.json["message"], (field, response.json)
    assert (
        client.post(
            "/api/v1/reports/", data="not json", content_type="application/json"
        ).status_code
        == 400
    )
    assert _count() == 0


def test_only_lab_staff_enter_results(client: Any, ward: Any) -> None:
    for account in (ward.nurse, ward.patient_account, ward.clinician):
        sign_in_as(client, account)
        response = client.post(
            "/api/v1/reports/", json=report_args(ward.patient.medical_record_number)
        )
        assert response.status_code == 403
    assert _count() == 0


def test_lab_system_posts_hl7_and_gets_an_acknowledgement(client: Any, ward: Any) -> None:
    response = _hl7(client, ward, hl7_message(ward.patient.medical_record_number))
    assert response.status_code == 201, response.json
    assert response.json["acknowledgement"].split("\r")[1].startswith("MSA|AA|MSG0001")
    report = db.session.scalar(sa.select(LabReport))
    assert report.source.value == "hl7" and report.order_reference == "ORD1001"
    assert len(report.current.items) == 4
    assert report.status is ReportStatus.READY


def test_malformed_hl7_names_segment_and_field_and_stores_nothing(client: Any, ward: Any) -> None:
    message = hl7_message(ward.patient.medical_record_number).replace("||98|", "||ninety|")
    response = _hl7(client, ward, message)
    assert response.status_code == 422
    assert response.json["code"] == "hl7_invalid"
    assert "OBX #3" in response.json["message"] and "OBX-5" in response.json["message"]
    assert response.json["errors"]["field"] == "OBX-5"
    assert "MSA|AE" in response.json["errors"]["acknowledgement"]
    assert _count() == 0 and db.session.scalar(sa.select(sa.func.count(LabReportItem.id))) == 0


def test_a_bundle_whose_second_report_fails_stores_neither(client: Any, ward: Any) -> None:
    bundle = fhir_bundle(ward.patient.medical_record_number)
    second = copy.deepcopy(bundle["entry"][1])
    second["fullUrl"] = "urn:uuid:report-2"
    second["resource"]["id"] = "r2"
    second["resource"]["subject"] = {"identifier": {"value": "77777777"}}  # nobody has it
    bundle["entry"].append(second)
    response = client.post(
        "/api/v1/reports/fhir",
        json=bundle,
        headers={"Authorization": f"Bearer {ward.device_token}"},
    )
    assert response.status_code == 422
    assert response.json["code"] == "unknown_medical_record_number"
    assert _count() == 0 and _versions() == 0


def test_a_message_with_a_bad_second_order_stores_nothing(client: Any, ward: Any) -> None:
    good = hl7_message(ward.patient.medical_record_number).rstrip("\r")
    bad_order = ["OBR|2|ORD2||GLU^血糖", "OBX|1|NM|GLU^葡萄糖||high|mmol/L|3.9-6.1||||F"]
    response = _hl7(client, ward, "\r".join([good, *bad_order]))
    assert response.status_code == 422
    assert "OBX #5" in response.json["message"]
    assert _count() == 0


def test_hl7_needs_a_lab_system_token(client: Any, ward: Any) -> None:
    message = hl7_message(ward.patient.medical_record_number)
    assert (
        client.post(
            "/api/v1/reports/hl7", data=message, headers={"Authorization": "Bearer wrong"}
        ).status_code
        == 401
    )
    kiosk = add_lab_device(ward.hospital, DeviceKind.KIOSK)
    g.pop("device", None)  # the test shares one app context (and its g) across requests
    response = client.post(
        "/api/v1/reports/hl7", data=message, headers={"Authorization": f"Bearer {kiosk}"}
    )
    assert response.status_code == 403
    assert _count() == 0


def test_resent_order_becomes_an_amendment_keeping_the_first_version(
    client: Any, ward: Any
) -> None:
    mrn = ward.patient.medical_record_number
    assert _hl7(client, ward, hl7_message(mrn)).status_code == 201
    corrected = hl7_message(mrn).replace("||98|", "||128|")
    assert _hl7(client, ward, corrected).status_code == 201
    report = db.session.scalar(sa.select(LabReport))
    assert _count() == 1 and [v.version for v in report.versions] == [1, 2]
    assert report.version(1).items[2].value == "98" and report.version(2).items[2].value == "128"
    assert report.status is ReportStatus.AMENDED and report.released_version == 2


def test_a_retried_identical_message_issues_nothing_new(client: Any, ward: Any) -> None:
    message = hl7_message(ward.patient.medical_record_number)
    first = _hl7(client, ward, message)
    again = _hl7(client, ward, message)
    assert again.status_code == 201 and again.json["reports"] == first.json["reports"]
    assert _count() == 1 and _versions() == 1


def test_lab_system_posts_a_fhir_bundle(client: Any, ward: Any) -> None:
    response = client.post(
        "/api/v1/reports/fhir",
        json=fhir_bundle(ward.patient.medical_record_number),
        headers={"Authorization": f"Bearer {ward.device_token}"},
    )
    assert response.status_code == 201, response.json
    report = db.session.scalar(sa.select(LabReport))
    assert report.test_code == "LFT" and report.order_reference == "ORD-F-1"
    assert report.status is ReportStatus.ORDERED  # LFT waits 60 minutes
    assert [i.flag.value for i in report.current.items] == ["high", "normal"]


def test_malformed_fhir_names_the_json_path_and_stores_nothing(client: Any, ward: Any) -> None:
    bundle = fhir_bundle(ward.patient.medical_record_number)
    bundle["entry"][2]["resource"]["valueQuantity"]["value"] = "eighty"
    response = client.post(
        "/api/v1/reports/fhir",
        json=bundle,
        headers={"Authorization": f"Bearer {ward.device_token}"},
    )
    assert response.status_code == 422
    assert response.json["errors"]["path"] == "entry[2].resource.valueQuantity.value"
    assert "entry[2].resource.valueQuantity.value" in response.json["message"]
    response = client.post(
        "/api/v1/reports/fhir",
        data="{nope",
        headers={"Authorization": f"Bearer {ward.device_token}"},
    )
    assert response.status_code == 422 and response.json["errors"]["path"] == "$"
    assert _count() == 0 and _versions() == 0


def test_lab_staff_enter_results_in_a_page(client: Any, ward: Any) -> None:
    sign_in_as(client, ward.nurse)
    assert client.get("/reports/lab/new").status_code == 403
    sign_in_as(client, ward.lab)
    assert client.get("/reports/lab/new").status_code == 200
    form = {
        "patient": ward.patient.medical_record_number,
        "test_code": "GLU",
        "test_name": "血糖",
        "signed_by": "李检验",
        "results": "葡萄糖 | 7.9 | mmol/L | 3.9-6.1\n糖化血红蛋白 | 5.6 | % | 4-6\n",
    }
    bad = client.post("/reports/lab/new", data={**form, "results": "葡萄糖"})
    assert bad.status_code == 422 and 'data-error="items"' in bad.get_data(as_text=True)
    unknown = client.post("/reports/lab/new", data={**form, "patient": "424242"})
    assert unknown.status_code == 422 and "424242" in unknown.get_data(as_text=True)
    assert _count() == 0
    response = client.post("/reports/lab/new", data=form)
    assert response.status_code == 302
    report = db.session.scalar(sa.select(LabReport))
    assert response.headers["Location"].endswith(f"/reports/{report.public_id}")
    assert [(i.name, i.flag.value) for i in report.current.items] == [
        ("葡萄糖", "high"),
        ("糖化血红蛋白", "normal"),
    ]


def test_results_are_matched_to_the_patients_billing_order(client: Any, ward: Any) -> None:
    from hospital.billing.models import Order, OrderPurpose

    order = Order(
        hospital_id=ward.hospital.id,
        patient_id=ward.patient.id,
        purpose=OrderPurpose.VISIT,
        reference="LAB-77",
    )
    theirs = Order(
        hospital_id=ward.hospital.id,
        patient_id=ward.stranger_patient.id,
        purpose=OrderPurpose.VISIT,
        reference="LAB-78",
    )
    db.session.add_all([order, theirs])
    db.session.commit()
    mrn = ward.patient.medical_record_number
    for reference, expected in (
        ("LAB-77", order.id),
        (f"order:{order.id}", order.id),
        ("LAB-78", None),
        (f"order:{theirs.id}", None),
    ):
        response = _hl7(client, ward, hl7_message(mrn, order=reference))
        assert response.status_code == 201, response.json
        report = db.session.scalar(
            sa.select(LabReport).where(LabReport.order_reference == reference)
        )
        assert report.billing_order_id == expected, reference
