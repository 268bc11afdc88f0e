"""HL7 v2 ORU^R01 parsing: what is read, and refusals that name the segment and field."""

from __future__ import annotations

import base64
import contextlib
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reports.hl7 import Hl7Error, acknowledgement, parse_hl7_datetime, parse_oru_r01
from tests.support.reports_factories import TINY_PDF, hl7_message


def test_reads_patient_order_and_every_result() -> None:
    (report,) = parse_oru_r01(hl7_message("10000042"))
    assert report.medical_record_number == "10000042"
    assert report.test_code == "CBC" and report.test_name == "血常规"
    assert report.order_reference == "ORD1001"
    assert report.signed_by == "李 检验 师"
    assert report.observed_at == datetime(2026, 11, 28, 0, 0, tzinfo=UTC)
    assert [i.code for i in report.items] == ["WBC", "RBC", "HGB", "PLT"]
    wbc, rbc, hgb, plt = report.items
    assert (wbc.value, wbc.unit, wbc.reference_range, wbc.flag) == (
        "11.2",
        "10*9/L",
        "3.5-9.5",
        "high",
    )
    assert rbc.flag == "normal"
    assert hgb.flag == "low"  # no flag sent: judged from the range
    assert plt.flag == "normal"


def test_accepts_newline_separated_segments() -> None:
    (report,) = parse_oru_r01(hl7_message("1").replace("\r", "\n"))
    assert len(report.items) == 4


def test_picks_the_mr_identifier_among_several() -> None:
    message = hl7_message("555").replace("PID|1||555^^^HOSP^MR", "PID|1||X9^^^INS^PI~555^^^HOSP^MR")
    assert parse_oru_r01(message)[0].medical_record_number == "555"


def test_unescapes_hl7_escape_sequences() -> None:
    rows = [("NOTE", "备注", "ST", "A\\F\\B \\S\\ C", "", "", "")]
    (report,) = parse_oru_r01(hl7_message("1", rows=rows))
    assert report.items[0].value == "A|B ^ C"


def test_reads_an_attached_pdf_document() -> None:
    (report,) = parse_oru_r01(hl7_message("1", document=TINY_PDF))
    assert report.document is not None and report.document.data == TINY_PDF


@pytest.mark.parametrize(
    ("mutate", "segment", "field"),
    [
        (lambda m: m.replace("ORU^R01", "ADT^A01"), "MSH (segment 1)", "MSH-9"),
        (lambda m: m.replace("PID|1||1^^^HOSP^MR", "PID|1||"), "PID #1 (segment 2)", "PID-3"),
        (lambda m: m.replace("|CBC^血常规^L|", "|^血常规^L|"), "OBR #1 (segment 3)", "OBR-4"),
        (
            lambda m: m.replace("|NM|HGB^血红蛋白^L||98|", "|NM|HGB^血红蛋白^L||ninety|"),
            "OBX #3 (segment 6)",
            "OBX-5",
        ),
        (lambda m: m.replace("|3.5-9.5|H|", "|3.5-9.5|Q|"), "OBX #1 (segment 4)", "OBX-8"),
        (lambda m: m.replace("|NM|RBC", "|XX|RBC"), "OBX #2 (segment 5)", "OBX-2"),
        (lambda m: m.replace("20261128080000+0800", "2026-11-28"), "OBR #1 (segment 3)", "OBR-7"),
    ],
)
def test_refusals_name_segment_and_field(mutate, segment: str, field: str) -> None:
    with pytest.raises(Hl7Error) as caught:
        parse_oru_r01(mutate(hl7_message("1")))
    assert caught.value.segment == segment
    assert caught.value.field == field
    assert segment in str(caught.value) and field in str(caught.value)


def test_refuses_a_message_without_msh() -> None:
    with pytest.raises(Hl7Error, match="MSH"):
        parse_oru_r01("PID|1||1^^^H^MR\r")


def test_refuses_obx_before_obr() -> None:
    message = "\r".join(
        ["MSH|^~\\&|LIS|LAB|H|H|20261128||ORU^R01|1|P|2.5", "PID|1||1^^^H^MR", "OBX|1|NM|A^B||1|||"]
    )
    with pytest.raises(Hl7Error, match="OBX #1 .*must follow an OBR"):
        parse_oru_r01(message)


def test_refuses_a_report_without_results() -> None:
    message = "\r".join(
        ["MSH|^~\\&|LIS|LAB|H|H|20261128||ORU^R01|1|P|2.5", "PID|1||1^^^H^MR", "OBR|1|O1||CBC^x"]
    )
    with pytest.raises(Hl7Error, match="no OBX"):
        parse_oru_r01(message)


def test_refuses_a_document_that_is_not_pdf() -> None:
    message = hl7_message("1", document=b"<html>not a pdf</html>")
    with pytest.raises(Hl7Error) as caught:
        parse_oru_r01(message)
    assert caught.value.field == "OBX-5"


def test_refuses_broken_base64() -> None:
    message = hl7_message("1", document=TINY_PDF).replace(
        base64.b64encode(TINY_PDF).decode(), "***"
    )
    with pytest.raises(Hl7Error, match="Base64"):
        parse_oru_r01(message)


def test_refuses_two_patients_in_one_message() -> None:
    message = hl7_message("1") + "PID|2||2^^^HOSP^MR\r"
    with pytest.raises(Hl7Error, match="one patient"):
        parse_oru_r01(message)


def test_datetime_with_offset_becomes_utc() -> None:
    assert parse_hl7_datetime("202611280930+0800", segment="OBR", field="OBR-7") == datetime(
        2026, 11, 28, 1, 30, tzinfo=UTC
    )


def test_acknowledgement_echoes_the_control_id() -> None:
    ack = acknowledgement(
        hl7_message("1"), accepted=False, text="OBX|bad", now=datetime(2026, 1, 1, tzinfo=UTC)
    )
    msh, msa = ack.split("\r")
    assert msh.split("|")[8] == "ACK^R01"
    assert msa.split("|")[:3] == ["MSA", "AE", "MSG0001"]
    assert "OBX bad" in msa


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from("MSHPIDOBRX|^~\\&\r\n0123456789ABC-+. 张"), max_size=300))
def test_any_text_is_read_or_refused_with_an_hl7_error(text: str) -> None:
    with contextlib.suppress(Hl7Error):
        parse_oru_r01(text)


@settings(max_examples=200, deadline=None)
@given(st.integers(min_value=0, max_value=400), st.text(max_size=5))
def test_a_damaged_real_message_is_read_or_refused_with_an_hl7_error(cut: int, junk: str) -> None:
    message = hl7_message("1", document=TINY_PDF)
    with contextlib.suppress(Hl7Error):
        parse_oru_r01(message[:cut] + junk + message[cut + len(junk) :])


@pytest.mark.parametrize(
    "value", ["2026112809²000", "20261128+2400", "20261128-0960", "20261128+08³0"]
)
def test_a_date_time_with_a_non_ascii_digit_or_an_impossible_offset_is_refused(value: str) -> None:
    with pytest.raises(Hl7Error):
        parse_hl7_datetime(value, segment="OBR", field="7")


def test_escape_sequences_are_read_in_one_pass() -> None:
    # An escaped "\F\" (the text itself, not a field separator) stays as written.
    message = hl7_message("1").replace("|3.5-9.5|H|", "|\\E\\F\\E\\ \\F\\ \\S\\|H|", 1)
    (report,) = parse_oru_r01(message)
    assert report.items[0].reference_range == "\\F\\ | ^"
