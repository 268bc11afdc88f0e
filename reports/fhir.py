"""Read a FHIR R4 Bundle holding a DiagnosticReport and its Observations into incoming reports.

Pure: no Flask, no database. Every refusal names the JSON path at fault, e.g.
"entry[2].resource.valueQuantity.value: must be a number".
"""

from __future__ import annotations

import base64
import binascii
from datetime import UTC, datetime
from typing import Any

from reports.results import (
    IncomingReport,
    ResultDocument,
    ResultItem,
    flag_from_code,
    flag_from_range,
)

MRN_TYPE_CODE = "MR"
MAX_ITEMS = 500


class FhirError(ValueError):
    """The bundle cannot be read; `path` says where."""

    def __init__(self, path: str, problem: str) -> None:
        self.path = path
        self.problem = problem
        super().__init__(f"{path}: {problem}" if path else problem)


def _obj(value: Any, path: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise FhirError(path, "must be a JSON object")
    return value


def _list(value: Any, path: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise FhirError(path, "must be a JSON array")
    return value


def _str(value: Any, path: str, *, required: bool = False, limit: int = 200) -> str:
    if value is None:
        if required:
            raise FhirError(path, "is required")
        return ""
    if not isinstance(value, str):
        raise FhirError(path, "must be a string")
    text = value.strip()
    if required and not text:
        raise FhirError(path, "must not be empty")
    if len(text) > limit:
        raise FhirError(path, f"is longer than {limit} characters")
    return text


def parse_fhir_datetime(value: Any, path: str) -> datetime | None:
    """Read a FHIR dateTime; a value with a time must carry a zone offset."""
    text = _str(value, path)
    if not text:
        return None
    try:
        if len(text) == 10:
            return datetime.fromisoformat(text).replace(tzinfo=UTC)
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise FhirError(
            path, f"{text!r} is not a FHIR dateTime like 2026-11-28T09:30:00+08:00"
        ) from None
    if parsed.tzinfo is None:
        raise FhirError(path, "a time must carry a zone offset, e.g. +08:00 or Z")
    return parsed.astimezone(UTC)


def _coding(concept: Any, path: str) -> tuple[str, str]:
    """Return (code, display) of a CodeableConcept's first coding, or its text."""
    concept = _obj(concept, path)
    codings = _list(concept.get("coding"), f"{path}.coding")
    code = display = ""
    if codings:
        first = _obj(codings[0], f"{path}.coding[0]")
        code = _str(first.get("code"), f"{path}.coding[0].code", limit=40)
        display = _str(first.get("display"), f"{path}.coding[0].display")
    display = display or _str(concept.get("text"), f"{path}.text")
    if not code and not display:
        raise FhirError(path, "needs a coding with a code, or a text")
    return code, display or code


def _number(value: Any, path: str) -> str:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise FhirError(path, "must be a number")
    return f"{value:g}" if isinstance(value, float) else str(value)


def _reference_range(observation: dict[str, Any], path: str) -> str:
    ranges = _list(observation.get("referenceRange"), f"{path}.referenceRange")
    if not ranges:
        return ""
    first = _obj(ranges[0], f"{path}.referenceRange[0]")
    text = _str(first.get("text"), f"{path}.referenceRange[0].text", limit=80)
    if text:
        return text
    low = first.get("low")
    high = first.get("high")
    low_v = (
        _number(
            _obj(low, f"{path}.referenceRange[0].low").get("value"),
            f"{path}.referenceRange[0].low.value",
        )
        if low is not None
        else ""
    )
    high_v = (
        _number(
            _obj(high, f"{path}.referenceRange[0].high").get("value"),
            f"{path}.referenceRange[0].high.value",
        )
        if high is not None
        else ""
    )
    if low_v and high_v:
        return f"{low_v}-{high_v}"
    if low_v:
        return f">={low_v}"
    if high_v:
        return f"<={high_v}"
    return ""


def _observation(resource: dict[str, Any], path: str) -> ResultItem:
    code, name = _coding(resource.get("code"), f"{path}.code")
    unit = ""
    if "valueQuantity" in resource:
        quantity = _obj(resource["valueQuantity"], f"{path}.valueQuantity")
        value = _number(quantity.get("value"), f"{path}.valueQuantity.value")
        unit = _str(
            quantity.get("unit") or quantity.get("code"), f"{path}.valueQuantity.unit", limit=40
        )
    elif "valueString" in resource:
        value = _str(resource["valueString"], f"{path}.valueString", required=True)
    elif "valueCodeableConcept" in resource:
        value = _coding(resource["valueCodeableConcept"], f"{path}.valueCodeableConcept")[1]
    elif "valueInteger" in resource:
        value = _number(resource["valueInteger"], f"{path}.valueInteger")
    else:
        raise FhirError(
            path, "needs a value: valueQuantity, valueString, valueCodeableConcept or valueInteger"
        )
    reference_range = _reference_range(resource, path)
    flag = None
    interpretations = _list(resource.get("interpretation"), f"{path}.interpretation")
    if interpretations:
        flag_code, _ = _coding(interpretations[0], f"{path}.interpretation[0]")
        try:
            flag = flag_from_code(flag_code)
        except ValueError as exc:
            raise FhirError(f"{path}.interpretation[0].coding[0].code", str(exc)) from None
    if flag is None:
        flag = flag_from_range(value, reference_range)
    return ResultItem(
        name=name, value=value, code=code, unit=unit, reference_range=reference_range, flag=flag
    )


def _mrn_from_identifiers(identifiers: Any, path: str) -> str:
    first = ""
    for i, identifier in enumerate(_list(identifiers, path)):
        identifier = _obj(identifier, f"{path}[{i}]")
        value = _str(identifier.get("value"), f"{path}[{i}].value", limit=20)
        kind = identifier.get("type")
        codes = set()
        if isinstance(kind, dict):
            for coding in kind.get("coding") or []:
                if isinstance(coding, dict):
                    codes.add(coding.get("code"))
        if value and MRN_TYPE_CODE in codes:
            return value
        first = first or value
    return first


def parse_bundle(document: Any) -> list[IncomingReport]:
    """Read each DiagnosticReport in the bundle, with the Observations its `result` points to."""
    bundle = _obj(document, "$")
    if bundle.get("resourceType") != "Bundle":
        raise FhirError("resourceType", 'must be "Bundle"')
    entries = _list(bundle.get("entry"), "entry")
    by_reference: dict[str, tuple[dict[str, Any], str]] = {}
    reports: list[tuple[dict[str, Any], str]] = []
    for i, entry in enumerate(entries):
        entry = _obj(entry, f"entry[{i}]")
        path = f"entry[{i}].resource"
        resource = _obj(entry.get("resource"), path)
        kind = _str(resource.get("resourceType"), f"{path}.resourceType", required=True)
        rid = _str(resource.get("id"), f"{path}.id", limit=64)
        if entry.get("fullUrl"):
            by_reference[_str(entry["fullUrl"], f"entry[{i}].fullUrl", limit=200)] = (
                resource,
                path,
            )
        if rid:
            by_reference[f"{kind}/{rid}"] = (resource, path)
        if kind == "DiagnosticReport":
            reports.append((resource, path))
    if not reports:
        raise FhirError("entry", "the bundle holds no DiagnosticReport")

    incoming: list[IncomingReport] = []
    for resource, path in reports:
        code, name = _coding(resource.get("code"), f"{path}.code")
        if not code:
            raise FhirError(f"{path}.code.coding[0].code", "the test code is required")
        subject = _obj(resource.get("subject"), f"{path}.subject")
        mrn = ""
        if "identifier" in subject:
            mrn = _mrn_from_identifiers([subject["identifier"]], f"{path}.subject.identifier")
        elif "reference" in subject:
            ref = _str(subject["reference"], f"{path}.subject.reference", limit=200)
            target = by_reference.get(ref)
            if target is None or target[0].get("resourceType") != "Patient":
                raise FhirError(
                    f"{path}.subject.reference", f"{ref!r} is not a Patient in this bundle"
                )
            mrn = _mrn_from_identifiers(target[0].get("identifier"), f"{target[1]}.identifier")
        if not mrn:
            raise FhirError(
                f"{path}.subject",
                "the patient's medical record number (identifier of type MR) is missing",
            )
        report = IncomingReport(
            medical_record_number=mrn,
            test_code=code,
            test_name=name,
            observed_at=parse_fhir_datetime(
                resource.get("effectiveDateTime"), f"{path}.effectiveDateTime"
            ),
            conclusion=_str(resource.get("conclusion"), f"{path}.conclusion", limit=4000),
        )
        for j, based_on in enumerate(_list(resource.get("basedOn"), f"{path}.basedOn")):
            based_on = _obj(based_on, f"{path}.basedOn[{j}]")
            identifier = based_on.get("identifier")
            if identifier is not None:
                report.order_reference = _str(
                    _obj(identifier, f"{path}.basedOn[{j}].identifier").get("value"),
                    f"{path}.basedOn[{j}].identifier.value",
                    limit=64,
                )
                break
        interpreters = _list(resource.get("resultsInterpreter"), f"{path}.resultsInterpreter")
        if interpreters:
            report.signed_by = _str(
                _obj(interpreters[0], f"{path}.resultsInterpreter[0]").get("display"),
                f"{path}.resultsInterpreter[0].display",
                limit=100,
            )
        results = _list(resource.get("result"), f"{path}.result")
        if len(results) > MAX_ITEMS:
            raise FhirError(f"{path}.result", f"a report may hold at most {MAX_ITEMS} results")
        for j, result in enumerate(results):
            ref = _str(
                _obj(result, f"{path}.result[{j}]").get("reference"),
                f"{path}.result[{j}].reference",
                required=True,
            )
            target = by_reference.get(ref)
            if target is None or target[0].get("resourceType") != "Observation":
                raise FhirError(
                    f"{path}.result[{j}].reference", f"{ref!r} is not an Observation in this bundle"
                )
            report.items.append(_observation(*target))
        for j, form in enumerate(_list(resource.get("presentedForm"), f"{path}.presentedForm")):
            form_path = f"{path}.presentedForm[{j}]"
            form = _obj(form, form_path)
            content_type = _str(form.get("contentType"), f"{form_path}.contentType", required=True)
            if content_type != "application/pdf":
                raise FhirError(
                    f"{form_path}.contentType", "only application/pdf documents are accepted"
                )
            try:
                data = base64.b64decode(
                    _str(form.get("data"), f"{form_path}.data", required=True, limit=2_000_000),
                    validate=True,
                )
            except (binascii.Error, ValueError):
                raise FhirError(f"{form_path}.data", "is not valid Base64") from None
            if not data.startswith(b"%PDF-"):
                raise FhirError(f"{form_path}.data", "is not a PDF file")
            if report.document is not None:
                raise FhirError(form_path, "a report may carry one document only")
            report.document = ResultDocument(content_type, data)
        if not report.items and report.document is None:
            raise FhirError(
                f"{path}.result", "the report has no results and no presentedForm document"
            )
        incoming.append(report)
    return incoming
