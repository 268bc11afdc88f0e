"""Hypothesis strategies for whole, valid laboratory messages: HL7 v2.5 ORU^R01 and FHIR R4 Bundles.

"Valid" means what the intake (reports/hl7.py, reports/fhir.py) accepts for a patient who exists:
the contract test registers these as schemathesis media-type strategies, so every generated
"valid" body must be answered 201 by a laboratory system (and refused 401/403 to anyone else).
The messages vary what the grammar allows: several orders per message, every value type the
intake reads (numbers, text, coded values, PDF documents), escape sequences, repeated patient
identifiers, notes and segments the intake skips, three segment terminators; bundles reference
patients and observations by id or by fullUrl, or name the patient inline.
"""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from hypothesis import strategies as st

from reports.results import FLAG_CODES
from tests.support.reports_factories import TINY_PDF

# The record numbers of the patients the contract test's hospital holds (its fixture makes them).
CONTRACT_MRNS = ("CT0000001", "CT0000002")

# Printable text in any script (no control characters: a segment cannot hold a line break).
_CHARS = st.characters(codec="utf-8", exclude_categories=("Cc", "Cs", "Co", "Cn"))
_ID_CHARS = st.sampled_from("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-.")


def _text(max_size: int) -> st.SearchStrategy[str]:
    """Text that is not blank once stripped (the intake strips and refuses empty values)."""
    return st.text(_CHARS, min_size=1, max_size=max_size).filter(lambda s: s.strip() != "")


def _code(max_size: int = 12) -> st.SearchStrategy[str]:
    return st.text(_ID_CHARS, min_size=1, max_size=max_size)


_NUMBER = st.one_of(
    st.integers(min_value=-100_000, max_value=100_000),
    st.floats(min_value=-1e6, max_value=1e6, allow_nan=False, allow_infinity=False).map(
        lambda f: round(f, 3)
    ),
)
_ZONE = st.builds(
    lambda minutes: timezone(timedelta(minutes=minutes)),
    st.integers(min_value=-12 * 60, max_value=14 * 60).map(lambda m: m - m % 15),
)
# Hypothesis takes naive bounds and attaches the zone it draws.
_MOMENT = st.datetimes(
    min_value=datetime(2000, 1, 1),  # noqa: DTZ001
    max_value=datetime(2035, 12, 31),  # noqa: DTZ001
    timezones=_ZONE,
)


def _reference_range() -> st.SearchStrategy[str]:
    bounds = st.tuples(_NUMBER, _NUMBER).map(sorted)
    return st.one_of(
        st.just(""),
        bounds.map(lambda b: f"{b[0]:g}-{b[1]:g}"),
        st.tuples(st.sampled_from(["<", "<=", ">", ">="]), _NUMBER).map(
            lambda t: f"{t[0]}{t[1]:g}"
        ),
        _text(40),
    )


# --- HL7 v2 ---------------------------------------------------------------------------------


def _escape(text: str) -> str:
    """Escape the standard encoding characters (HL7 v2 section 2.7)."""
    out = []
    for char in text:
        out.append(
            {"\\": "\\E\\", "|": "\\F\\", "^": "\\S\\", "&": "\\T\\", "~": "\\R\\"}.get(char, char)
        )
    return "".join(out)


def _hl7_datetime(moment: datetime, precision: int) -> str:
    digits = moment.strftime("%Y%m%d%H%M%S")[:precision]
    offset = moment.utcoffset() or timedelta()
    minutes = int(offset.total_seconds()) // 60
    sign = "-" if minutes < 0 else "+"
    return f"{digits}{sign}{abs(minutes) // 60:02d}{abs(minutes) % 60:02d}"


@st.composite
def _obx(draw: st.DrawFn, set_id: int) -> str:
    code = draw(_code())
    name = draw(st.one_of(st.just(""), _text(30)))
    kind = draw(st.sampled_from(["NM", "ST", "TX", "FT", "CE", "CWE", "SN", ""]))
    if kind == "NM":
        value = f"{draw(_NUMBER):g}"
    elif kind in ("CE", "CWE"):
        value = f"{draw(_code())}^{_escape(draw(_text(30)))}"
    else:
        value = _escape(draw(_text(60)))
    unit = _escape(draw(st.one_of(st.just(""), _text(10))))
    reference = _escape(draw(_reference_range()))
    flag = draw(st.sampled_from(["", *FLAG_CODES]))
    return (
        f"OBX|{set_id}|{kind}|{code}^{_escape(name)}^LN||{value}|{unit}|{reference}|{flag}"
        f"|||{draw(st.sampled_from(['F', 'C', 'P']))}"
    )


def _document_obx(set_id: int) -> str:
    data = base64.b64encode(TINY_PDF).decode()
    return f"OBX|{set_id}|ED|PDF^Report^L||LAB^AP^PDF^Base64^{data}||||||F"


@st.composite
def _order(draw: st.DrawFn, number: int) -> list[str]:
    code = draw(_code())
    name = _escape(draw(st.one_of(st.just(""), _text(30))))
    observed = draw(
        st.one_of(
            st.just(""),
            st.builds(_hl7_datetime, _MOMENT, st.sampled_from([8, 12, 14])),
        )
    )
    placer = draw(st.one_of(st.just(""), _code(20)))
    interpreter = draw(
        st.one_of(
            st.just(""),
            st.builds(lambda i, n: f"{i}^{_escape(n)}", _code(6), _text(12)),
        )
    )
    fields = ["OBR", str(number), placer, f"F{number}", f"{code}^{name}", "", "", observed]
    fields += [""] * (32 - len(fields)) + [interpreter]
    segments = ["|".join(fields)]
    if draw(st.booleans()):
        segments.append(f"NTE|1|L|{_escape(draw(_text(40)))}")
    results = draw(st.integers(min_value=0, max_value=4))
    segments += [draw(_obx(i)) for i in range(1, results + 1)]
    if results == 0 or draw(st.integers(0, 4)) == 0:
        segments.append(_document_obx(results + 1))
    return segments


@st.composite
def oru_r01_messages(draw: st.DrawFn, mrns: tuple[str, ...] = CONTRACT_MRNS) -> str:
    """A whole ORU^R01 message for one of `mrns`: MSH, PID, then 1-3 orders with results."""
    control_id = draw(_code(20))
    sent = _hl7_datetime(draw(_MOMENT), 14)
    mrn = draw(st.sampled_from(mrns))
    identifiers = f"{mrn}^^^HOSP^MR"
    if draw(st.booleans()):  # another identifier first: the one typed MR is the record number
        identifiers = f"{draw(_code(18))}^^^INS^NI~{identifiers}"
    segments = [
        f"MSH|^~\\&|LIS|LAB|HOSPITAL|HOSP|{sent}||ORU^R01^ORU_R01|{control_id}|P|2.5",
        f"PID|1||{identifiers}||{_escape(draw(_text(20)))}",
    ]
    if draw(st.booleans()):
        segments.append("PV1|1|O")
    for number in range(1, draw(st.integers(min_value=1, max_value=3)) + 1):
        if draw(st.booleans()):
            segments.append(f"ORC|RE|{number}")
        segments += draw(_order(number))
    terminator = draw(st.sampled_from(["\r", "\r\n", "\n"]))
    return terminator.join(segments) + draw(st.sampled_from(["", terminator]))


# --- FHIR R4 ---------------------------------------------------------------------------------


def _concept(code: str, display: str) -> dict[str, Any]:
    coding: dict[str, Any] = {"system": "http://loinc.org", "code": code}
    if display:
        coding["display"] = display
    return {"coding": [coding]}


@st.composite
def _observation(draw: st.DrawFn, rid: str) -> dict[str, Any]:
    if draw(st.booleans()):
        code_concept = _concept(draw(_code()), draw(st.one_of(st.just(""), _text(30))))
    else:
        code_concept = {"text": draw(_text(30))}
    resource: dict[str, Any] = {
        "resourceType": "Observation",
        "id": rid,
        "status": "final",
        "code": code_concept,
    }
    kind = draw(st.sampled_from(["quantity", "string", "concept", "integer"]))
    if kind == "quantity":
        quantity: dict[str, Any] = {"value": draw(_NUMBER)}
        if draw(st.booleans()):
            quantity["unit"] = draw(_text(10))
        resource["valueQuantity"] = quantity
    elif kind == "string":
        resource["valueString"] = draw(_text(60))
    elif kind == "concept":
        resource["valueCodeableConcept"] = _concept(draw(_code()), draw(_text(30)))
    else:
        resource["valueInteger"] = draw(st.integers(min_value=-1000, max_value=100_000))
    limits = draw(st.sampled_from(["none", "text", "low", "high", "both"]))
    if limits == "text":
        resource["referenceRange"] = [{"text": draw(_text(40))}]
    elif limits != "none":
        low, high = sorted(draw(st.tuples(_NUMBER, _NUMBER)))
        bounds = {"low": {"value": low}, "high": {"value": high}}
        resource["referenceRange"] = [{k: v for k, v in bounds.items() if limits in (k, "both")}]
    flag = draw(st.sampled_from(["", *FLAG_CODES]))
    if flag:
        resource["interpretation"] = [
            {
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation",
                        "code": flag,
                    }
                ]
            }
        ]
    return resource


def _mr_identifier(mrn: str) -> dict[str, Any]:
    return {
        "type": {
            "coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0203", "code": "MR"}]
        },
        "value": mrn,
    }


@st.composite
def _report(
    draw: st.DrawFn, number: int, subject: dict[str, Any], use_full_urls: bool
) -> list[dict[str, Any]]:
    """A DiagnosticReport entry and its Observation entries."""
    observations = [draw(_observation(f"obs-{number}-{i}")) for i in range(draw(st.integers(0, 4)))]
    entries = []
    references = []
    for observation in observations:
        url = f"urn:uuid:00000000-0000-4000-8000-{number:06d}{len(entries):06d}"
        entry: dict[str, Any] = {"resource": observation}
        if use_full_urls:
            entry["fullUrl"] = url
            references.append({"reference": url})
        else:
            references.append({"reference": f"Observation/{observation['id']}"})
        entries.append(entry)
    report: dict[str, Any] = {
        "resourceType": "DiagnosticReport",
        "id": f"report-{number}",
        "status": "final",
        "code": _concept(draw(_code()), draw(st.one_of(st.just(""), _text(30)))),
        "subject": subject,
        "result": references,
    }
    if draw(st.booleans()):
        report["effectiveDateTime"] = draw(
            st.one_of(
                _MOMENT.map(lambda m: m.isoformat()),
                _MOMENT.map(lambda m: m.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")),
                _MOMENT.map(lambda m: m.date().isoformat()),
            )
        )
    if draw(st.booleans()):
        report["conclusion"] = draw(_text(100))
    if draw(st.booleans()):
        report["basedOn"] = [{"identifier": {"value": draw(_code(20))}}]
    if draw(st.booleans()):
        report["resultsInterpreter"] = [{"display": draw(_text(20))}]
    if not observations or draw(st.integers(0, 4)) == 0:
        report["presentedForm"] = [
            {"contentType": "application/pdf", "data": base64.b64encode(TINY_PDF).decode()}
        ]
    return [{"resource": report}, *entries]


@st.composite
def fhir_bundles(draw: st.DrawFn, mrns: tuple[str, ...] = CONTRACT_MRNS) -> dict[str, Any]:
    """A whole Bundle for one of `mrns`: 1-3 DiagnosticReports with their Observations."""
    mrn = draw(st.sampled_from(mrns))
    use_full_urls = draw(st.booleans())
    how = draw(st.sampled_from(["reference", "identifier"]))
    entries: list[dict[str, Any]] = []
    if how == "identifier":
        subject: dict[str, Any] = {"identifier": _mr_identifier(mrn)}
    else:
        identifiers = [_mr_identifier(mrn)]
        if draw(st.booleans()):
            identifiers.insert(0, {"system": "urn:oid:1.2.3", "value": draw(_code(18))})
        patient = {"resourceType": "Patient", "id": "p1", "identifier": identifiers}
        patient_url = "urn:uuid:00000000-0000-4000-8000-000000000001"
        entries.append({"fullUrl": patient_url, "resource": patient})
        subject = {"reference": patient_url if use_full_urls else "Patient/p1"}
    for number in range(1, draw(st.integers(min_value=1, max_value=3)) + 1):
        entries += draw(_report(number, subject, use_full_urls))
    return {
        "resourceType": "Bundle",
        "type": draw(st.sampled_from(["collection", "batch", "transaction", "message"])),
        "entry": entries,
    }


def encoded(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[bytes]:
    """Bytes on the wire: UTF-8 text, or JSON (some bodies keep non-ASCII as is)."""
    return st.tuples(strategy, st.booleans()).map(
        lambda pair: (
            pair[0] if isinstance(pair[0], str) else json.dumps(pair[0], ensure_ascii=pair[1])
        ).encode()
    )
