"""Messages and rows for report tests: HL7 ORU^R01 text, FHIR bundles, test types, reports."""

from __future__ import annotations

import base64
import copy
from typing import Any

# A tiny but valid PDF, as an imaging system would attach.
TINY_PDF = (
    b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
    b"2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"
)

CBC_ROWS = [
    ("WBC", "白细胞计数", "NM", "11.2", "10*9/L", "3.5-9.5", "H"),
    ("RBC", "红细胞计数", "NM", "4.5", "10*12/L", "4.3-5.8", "N"),
    ("HGB", "血红蛋白", "NM", "98", "g/L", "130-175", ""),
    ("PLT", "血小板计数", "NM", "210", "10*9/L", "125-350", ""),
]


def hl7_message(
    mrn: str,
    *,
    rows: list[tuple[str, ...]] | None = None,
    test_code: str = "CBC",
    test_name: str = "血常规",
    order: str = "ORD1001",
    document: bytes | None = None,
    msh_type: str = "ORU^R01",
) -> str:
    """An ORU^R01 message with one OBR and an OBX per row (code, name, type, value, unit, range, flag)."""
    segments = [
        f"MSH|^~\\&|LIS|LAB|HOSPITAL|H|20261128093000+0800||{msh_type}|MSG0001|P|2.5",
        f"PID|1||{mrn}^^^HOSP^MR||张^三明||19500307|M",
        f"OBR|1|{order}|F{order}|{test_code}^{test_name}^L|||20261128080000+0800"
        + "|" * 25
        + "李^检验^师",
    ]
    for i, (code, name, kind, value, unit, ref, flag) in enumerate(rows or CBC_ROWS, start=1):
        segments.append(f"OBX|{i}|{kind}|{code}^{name}^L||{value}|{unit}|{ref}|{flag}|||F")
    if document is not None:
        data = base64.b64encode(document).decode()
        segments.append(f"OBX|{len(segments)}|ED|PDF^影像报告^L||LIS^AP^PDF^Base64^{data}||||||F")
    return "\r".join(segments) + "\r"


FHIR_BUNDLE: dict[str, Any] = {
    "resourceType": "Bundle",
    "type": "collection",
    "entry": [
        {
            "fullUrl": "urn:uuid:patient-1",
            "resource": {
                "resourceType": "Patient",
                "id": "p1",
                "identifier": [
                    {"type": {"coding": [{"code": "MR"}]}, "value": "MRN"},
                ],
            },
        },
        {
            "fullUrl": "urn:uuid:report-1",
            "resource": {
                "resourceType": "DiagnosticReport",
                "id": "r1",
                "status": "final",
                "code": {"coding": [{"code": "LFT", "display": "肝功能"}]},
                "subject": {"reference": "urn:uuid:patient-1"},
                "basedOn": [{"identifier": {"value": "ORD-F-1"}}],
                "effectiveDateTime": "2026-11-28T08:00:00+08:00",
                "resultsInterpreter": [{"display": "王审核"}],
                "conclusion": "肝功能轻度异常",
                "result": [{"reference": "Observation/o1"}, {"reference": "Observation/o2"}],
            },
        },
        {
            "resource": {
                "resourceType": "Observation",
                "id": "o1",
                "code": {"coding": [{"code": "ALT", "display": "丙氨酸氨基转移酶"}]},
                "valueQuantity": {"value": 88, "unit": "U/L"},
                "referenceRange": [{"low": {"value": 9}, "high": {"value": 50}}],
            },
        },
        {
            "resource": {
                "resourceType": "Observation",
                "id": "o2",
                "code": {"coding": [{"code": "ALB", "display": "白蛋白"}]},
                "valueQuantity": {"value": 42.5, "unit": "g/L"},
                "referenceRange": [{"text": "40-55"}],
                "interpretation": [{"coding": [{"code": "N"}]}],
            },
        },
    ],
}


def fhir_bundle(mrn: str) -> dict[str, Any]:
    bundle = copy.deepcopy(FHIR_BUNDLE)
    bundle["entry"][0]["resource"]["identifier"][0]["value"] = mrn
    return bundle


def report_args(mrn: str, **overrides: Any) -> dict[str, Any]:
    """A JSON body for POST /api/v1/reports."""
    body: dict[str, Any] = {
        "medical_record_number": mrn,
        "test_code": "GLU",
        "test_name": "空腹血糖",
        "signed_by": "李检验",
        "items": [
            {
                "name": "葡萄糖 Glucose",
                "value": "7.9",
                "unit": "mmol/L",
                "reference_range": "3.9-6.1",
            },
            {"name": "糖化血红蛋白 HbA1c", "value": "5.6", "unit": "%", "reference_range": "4-6"},
        ],
    }
    body.update(overrides)
    return body
