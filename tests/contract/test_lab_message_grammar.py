"""The other half of the laboratory bodies' contract: a broken message is refused, nothing stored.

The contract test generates HL7 v2 and FHIR bodies whole (media-type strategies, so "valid" data
is a message the intake accepts); schemathesis cannot derive schema-violating variants of a
grammar JSON Schema does not state. Here each generated message is sent as is (stored: 201, one
report per order) and then broken in each way listed below that the grammar forbids: refused with a 422 naming
where, and nothing stored.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings

from hospital.db import db
from reports.models import LabReport, LabReportVersion
from tests.integration.reports.conftest import add_lab_device
from tests.support import factories
from tests.support.lab_messages import CONTRACT_MRNS, fhir_bundles, oru_r01_messages

SETTINGS = settings(
    max_examples=2,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def _stored() -> tuple[int, int]:
    return (
        db.session.scalar(sa.select(sa.func.count(LabReport.id))) or 0,
        db.session.scalar(sa.select(sa.func.count(LabReportVersion.id))) or 0,
    )


@pytest.fixture
def lab_token(hospital: Any, db_session: Any) -> str:
    for mrn in CONTRACT_MRNS:
        factories.create_patient(hospital).medical_record_number = mrn
    return add_lab_device(hospital)  # commits


def _segments(message: str) -> list[str]:
    return [s for s in message.replace("\r\n", "\r").replace("\n", "\r").split("\r") if s]


def _replace(kind: str, new: str) -> Callable[[list[str]], list[str]]:
    def mutate(segments: list[str]) -> list[str]:
        index = next(i for i, s in enumerate(segments) if s.startswith(kind + "|"))
        return [*segments[:index], new, *segments[index + 1 :]]

    return mutate


def _after(kind: str, new: str) -> Callable[[list[str]], list[str]]:
    def mutate(segments: list[str]) -> list[str]:
        index = next(i for i, s in enumerate(segments) if s.startswith(kind + "|"))
        return [*segments[: index + 1], new, *segments[index + 1 :]]

    return mutate


def _without(kind: str) -> Callable[[list[str]], list[str]]:
    return lambda segments: [s for s in segments if not s.startswith(kind + "|")]


# (what breaks, where the refusal points: the segment kind and the field)
HL7_BREAKS: list[tuple[Callable[[list[str]], list[str]], str, str]] = [
    (lambda s: [s[0].replace("ORU^R01", "ADT^A01"), *s[1:]], "MSH", "MSH-9"),
    (lambda s: s[1:], "MSH", ""),
    (_without("PID"), "", ""),
    (_replace("PID", "PID|1||"), "PID", "PID-3"),
    (_after("PID", "PID|2||CT0000001^^^HOSP^MR"), "PID", ""),
    (_after("PID", "OBX|1|ST|A^B||x"), "OBX", ""),
    (_without("OBX"), "OBR", ""),
    (_after("OBR", "OBX|1|NM|HGB^Hb||ninety|g/L||"), "OBX", "OBX-5"),
    (_after("OBR", "OBX|1|NM|HGB^Hb||98|g/L|130-175|Q"), "OBX", "OBX-8"),
    (_after("OBR", "OBX|1|XX|HGB^Hb||98|||"), "OBX", "OBX-2"),
    (_after("OBR", "OBX|1|ST|HGB^Hb||   |||"), "OBX", "OBX-5"),
    (_after("OBR", "OBX|1|ED|PDF^R||LAB^AP^PNG^Base64^iVBORw0K|||"), "OBX", "OBX-5"),
    (_after("PID", "OBR|9||F9|^no code|||2026-11-28"), "OBR", "OBR-4"),
    (_after("PID", "OBR|9||F9|CBC^x|||2026-11-28\rOBX|1|ST|A^B||x"), "OBR", "OBR-7"),
    (_after("PID", "Z!!|1"), "segment", ""),
]


@SETTINGS
@given(message=oru_r01_messages())
def test_hl7_messages_are_stored_whole_and_broken_ones_refused(
    client: Any, lab_token: str, message: str
) -> None:
    headers = {"Authorization": f"Bearer {lab_token}", "Content-Type": "x-application/hl7-v2+er7"}
    accepted = client.post("/api/v1/reports/hl7", data=message.encode(), headers=headers)
    assert accepted.status_code == 201, (message, accepted.json)
    orders = sum(1 for s in _segments(message) if s.startswith("OBR|"))
    assert len(accepted.json["reports"]) == orders
    assert "MSA|AA|" in accepted.json["acknowledgement"]

    before = _stored()
    for mutate, segment, field in HL7_BREAKS:
        bad = "\r".join(mutate(_segments(message)))
        refused = client.post("/api/v1/reports/hl7", data=bad.encode(), headers=headers)
        assert refused.status_code == 422, (bad, refused.json)
        assert refused.json["code"] == "hl7_invalid"
        assert segment in refused.json["errors"]["segment"]
        assert refused.json["errors"]["field"] == field
        assert "MSA|AE|" in refused.json["errors"]["acknowledgement"]
        assert _stored() == before


def _reports(bundle: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        e["resource"]
        for e in bundle["entry"]
        if e["resource"]["resourceType"] == "DiagnosticReport"
    ]


def _set(key: str, value: Any) -> Callable[[dict[str, Any]], None]:
    return lambda report: report.__setitem__(key, value)


def _pdf_as_png(report: dict[str, Any]) -> None:
    report["presentedForm"] = [{"contentType": "image/png", "data": "iVBORw0K"}]


# (what breaks, the JSON path the refusal names (its start), the code)
FHIR_BREAKS: list[tuple[Callable[[dict[str, Any]], None], str, str]] = [
    (lambda b: b.__setitem__("resourceType", "Parameters"), "resourceType", "fhir_invalid"),
    (
        lambda b: b.__setitem__(
            "entry",
            [e for e in b["entry"] if e["resource"]["resourceType"] != "DiagnosticReport"]
            or [{"resource": {"resourceType": "Basic"}}],
        ),
        "entry",
        "fhir_invalid",
    ),
    (lambda b: b["entry"].append("not an object"), "entry[", "fhir_invalid"),
    (lambda b: _set("code", {"text": "no code"})(_reports(b)[0]), "entry[", "fhir_invalid"),
    (lambda b: _set("subject", {})(_reports(b)[0]), "entry[", "fhir_invalid"),
    (
        lambda b: _set("subject", {"reference": "Patient/nobody"})(_reports(b)[0]),
        "entry[",
        "fhir_invalid",
    ),
    (
        lambda b: _reports(b)[0].setdefault("result", []).append({"reference": "Observation/x"}),
        "entry[",
        "fhir_invalid",
    ),
    (
        lambda b: _set("effectiveDateTime", "2026-11-28T09:30:00")(_reports(b)[0]),
        "entry[",
        "fhir_invalid",
    ),
    (lambda b: _set("effectiveDateTime", "yesterday")(_reports(b)[0]), "entry[", "fhir_invalid"),
    (lambda b: _pdf_as_png(_reports(b)[0]), "entry[", "fhir_invalid"),
    (
        lambda b: _set("subject", {"identifier": {"value": "NOBODY1"}})(_reports(b)[0]),
        "",
        "unknown_medical_record_number",
    ),
]


@SETTINGS
@given(bundle=fhir_bundles())
def test_fhir_bundles_are_stored_whole_and_broken_ones_refused(
    client: Any, lab_token: str, bundle: dict[str, Any]
) -> None:
    headers = {"Authorization": f"Bearer {lab_token}", "Content-Type": "application/fhir+json"}
    accepted = client.post("/api/v1/reports/fhir", data=json.dumps(bundle), headers=headers)
    assert accepted.status_code == 201, (bundle, accepted.json)
    assert len(accepted.json["reports"]) == len(_reports(bundle))

    before = _stored()
    for mutate, path, code in FHIR_BREAKS:
        broken = copy.deepcopy(bundle)
        mutate(broken)
        refused = client.post("/api/v1/reports/fhir", data=json.dumps(broken), headers=headers)
        assert refused.status_code == 422, (broken, refused.json)
        assert refused.json["code"] == code
        if code == "fhir_invalid":
            assert refused.json["errors"]["path"].startswith(path)
        assert _stored() == before
