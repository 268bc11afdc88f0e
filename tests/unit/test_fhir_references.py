"""FHIR references and Schedule ids carry row ids: anything outside the id range is refused."""

from __future__ import annotations

import pytest

from hospital.web.id_fields import MAX_ID, parse_id
from scheduling.fhir.params import BadParameter, reference_id
from scheduling.fhir.resources import parse_schedule_id, schedule_id


@pytest.mark.parametrize("text", ["1", "42", str(MAX_ID)])
def test_parse_id_reads_ids_in_range(text: str) -> None:
    assert parse_id(text) == int(text)


@pytest.mark.parametrize(
    "text", ["", "0", "-1", "1.5", "²", "１２", str(MAX_ID + 1), "9" * 12, "9" * 5000]
)
def test_parse_id_refuses_the_rest(text: str) -> None:
    assert parse_id(text) is None


def test_reference_id_reads_relative_and_bare_references() -> None:
    assert reference_id("Patient/7", "Patient") == 7
    assert reference_id("https://h.example/fhir/r4/Patient/7", "Patient") == 7
    assert reference_id("7", "Patient") == 7


@pytest.mark.parametrize(
    "value", ["Patient/999999999999", f"Patient/{MAX_ID + 1}", "Patient/0", "Practitioner/7"]
)
def test_reference_id_refuses_out_of_range_or_wrong_kind(value: str) -> None:
    with pytest.raises(BadParameter):
        reference_id(value, "Patient")


def test_schedule_ids_round_trip_and_refuse_huge_numbers() -> None:
    assert parse_schedule_id(schedule_id(3, 5, None)) == (3, 5, None)
    assert parse_schedule_id(schedule_id(3, None, None)) == (3, None, 0)
    assert parse_schedule_id(schedule_id(3, None, 9)) == (3, None, 9)
    assert parse_schedule_id("d3-c999999999999") is None
    assert parse_schedule_id(f"d{MAX_ID + 1}-c1") is None
    assert parse_schedule_id("x3-c1") is None
