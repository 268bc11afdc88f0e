"""The appointment QR a kiosk scans: only the server's key makes one; edits are refused."""

from __future__ import annotations

import pytest

from scheduling.appointment_codes import (
    AppointmentCodeError,
    CodeProblem,
    appointment_code,
    read_appointment_code,
)

KEY = "k" * 40


def test_a_code_reads_back_to_its_hospital_and_appointment() -> None:
    assert read_appointment_code(KEY, appointment_code(KEY, 3, 1234)) == (3, 1234)


def test_a_code_with_another_appointment_number_is_refused() -> None:
    code = appointment_code(KEY, 3, 1234).replace(".1234.", ".1235.")
    with pytest.raises(AppointmentCodeError) as caught:
        read_appointment_code(KEY, code)
    assert caught.value.problem is CodeProblem.FORGED


def test_a_code_made_with_another_key_is_refused() -> None:
    with pytest.raises(AppointmentCodeError):
        read_appointment_code(KEY, appointment_code("other" * 8, 3, 1234))


@pytest.mark.parametrize("text", ["", "hello", "https://example.com/q/abc", "HQA1.1.2.zz"])
def test_anything_else_is_not_an_appointment_code(text: str) -> None:
    with pytest.raises(AppointmentCodeError) as caught:
        read_appointment_code(KEY, text)
    assert caught.value.problem is CodeProblem.UNKNOWN
