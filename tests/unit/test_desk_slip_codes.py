"""The desk slip's code: signed, to the minute, read back only when genuine."""

from __future__ import annotations

from datetime import UTC, datetime

from queueing.desk_slips import desk_slip_code, looks_like_desk_slip_code, read_desk_slip_code

KEY = "test-key"
AT = datetime(2026, 12, 5, 3, 40, 27, tzinfo=UTC)


def test_a_code_reads_back_to_its_hospital_queue_and_minute() -> None:
    code = desk_slip_code(KEY, 3, 41, AT)
    assert looks_like_desk_slip_code(code)
    claim = read_desk_slip_code(KEY, code)
    assert claim is not None
    assert (claim.hospital_id, claim.service_point_id) == (3, 41)
    assert claim.printed_at == AT.replace(second=0)


def test_a_slip_without_a_queue_names_point_zero() -> None:
    claim = read_desk_slip_code(KEY, desk_slip_code(KEY, 3, None, AT))
    assert claim is not None and claim.service_point_id == 0


def test_edited_foreign_key_or_other_text_is_refused() -> None:
    code = desk_slip_code(KEY, 3, 41, AT)
    assert read_desk_slip_code("other-key", code) is None
    assert read_desk_slip_code(KEY, code.replace(".41.", ".42.")) is None
    assert read_desk_slip_code(KEY, "110101199003070011") is None
    assert not looks_like_desk_slip_code("V1.abc")
    assert read_desk_slip_code(KEY, "  " + code.upper() + "\n") is not None  # caps lock, a newline
