"""FHIR R4 DiagnosticReport bundles: what is read, and refusals that name the JSON path."""

from __future__ import annotations

import base64
import contextlib
import copy
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reports.fhir import FhirError, parse_bundle
from tests.support.reports_factories import TINY_PDF, fhir_bundle


def test_reads_report_observations_and_patient_mrn() -> None:
    (report,) = parse_bundle(fhir_bundle("10000007"))
    assert report.medical_record_number == "10000007"
    assert (report.test_code, report.test_name) == ("LFT", "肝功能")
    assert report.order_reference == "ORD-F-1"
    assert report.signed_by == "王审核"
    assert report.conclusion == "肝功能轻度异常"
    assert report.observed_at == datetime(2026, 11, 28, 0, 0, tzinfo=UTC)
    alt, alb = report.items
    assert (alt.code, alt.value, alt.unit, alt.reference_range, alt.flag) == (
        "ALT",
        "88",
        "U/L",
        "9-50",
        "high",
    )
    assert (alb.value, alb.reference_range, alb.flag) == ("42.5", "40-55", "normal")


def test_reads_subject_identifier_without_patient_resource() -> None:
    bundle = fhir_bundle("1")
    bundle["entry"][1]["resource"]["subject"] = {
        "identifier": {"type": {"coding": [{"code": "MR"}]}, "value": "99"}
    }
    assert parse_bundle(bundle)[0].medical_record_number == "99"


def test_reads_presented_form_pdf() -> None:
    bundle = fhir_bundle("1")
    bundle["entry"][1]["resource"]["presentedForm"] = [
        {"contentType": "application/pdf", "data": base64.b64encode(TINY_PDF).decode()}
    ]
    assert parse_bundle(bundle)[0].document.data == TINY_PDF


def _broken(path_setter) -> dict:
    bundle = fhir_bundle("1")
    path_setter(bundle)
    return bundle


@pytest.mark.parametrize(
    ("setter", "path"),
    [
        (lambda b: b.update(resourceType="Patient"), "resourceType"),
        (
            lambda b: b["entry"][2]["resource"]["valueQuantity"].update(value="88"),
            "entry[2].resource.valueQuantity.value",
        ),
        (
            lambda b: b["entry"][1]["resource"]["result"][1].update(reference="Observation/zzz"),
            "entry[1].resource.result[1].reference",
        ),
        (
            lambda b: b["entry"][1]["resource"].update(subject={"reference": "Patient/none"}),
            "entry[1].resource.subject.reference",
        ),
        (
            lambda b: b["entry"][1]["resource"].update(effectiveDateTime="2026-11-28T08:00:00"),
            "entry[1].resource.effectiveDateTime",
        ),
        (
            lambda b: b["entry"][1]["resource"].update(code={"text": "x"}),
            "entry[1].resource.code.coding[0].code",
        ),
        (
            lambda b: b["entry"][3]["resource"].update(
                interpretation=[{"coding": [{"code": "ZZ"}]}]
            ),
            "entry[3].resource.interpretation[0].coding[0].code",
        ),
        (lambda b: b["entry"][3]["resource"].pop("valueQuantity"), "entry[3].resource"),
        (lambda b: b["entry"][0]["resource"].update(identifier=[]), "entry[1].resource.subject"),
        (lambda b: b.update(entry="nope"), "entry"),
    ],
)
def test_refusals_name_the_json_path(setter, path: str) -> None:
    with pytest.raises(FhirError) as caught:
        parse_bundle(_broken(setter))
    assert caught.value.path == path
    assert str(caught.value).startswith(path)


def test_refuses_a_bundle_without_a_report() -> None:
    bundle = fhir_bundle("1")
    bundle["entry"] = [bundle["entry"][0]]
    with pytest.raises(FhirError, match="no DiagnosticReport"):
        parse_bundle(bundle)


def test_refuses_a_non_pdf_presented_form() -> None:
    bundle = copy.deepcopy(fhir_bundle("1"))
    bundle["entry"][1]["resource"]["presentedForm"] = [{"contentType": "text/html", "data": "PGI+"}]
    with pytest.raises(FhirError) as caught:
        parse_bundle(bundle)
    assert caught.value.path == "entry[1].resource.presentedForm[0].contentType"


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3)
    ),
    max_leaves=10,
)


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from(
        [
            "entry",
            "resource",
            "code",
            "subject",
            "result",
            "valueQuantity",
            "referenceRange",
            "interpretation",
            "presentedForm",
            "identifier",
        ]
    ),
    JSON,
)
def test_any_damage_is_refused_with_a_fhir_error(key: str, value: object) -> None:
    bundle = fhir_bundle("1")

    def damage(node: object) -> None:
        if isinstance(node, dict):
            for k in list(node):
                if k == key:
                    node[k] = value
                    return
                damage(node[k])
        elif isinstance(node, list):
            for child in node:
                damage(child)

    damage(bundle)
    with contextlib.suppress(FhirError):
        parse_bundle(bundle)
