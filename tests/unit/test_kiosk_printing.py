"""The ESC/POS slip reaches a (local) network printer; printer problems become plain failures."""

from __future__ import annotations

import pytest

from kiosk.printing.escpos import (
    KANJI_ON,
    NetworkPrinter,
    PrinterError,
    PrintFailure,
    desk_slip_bytes,
    ticket_bytes,
)
from kiosk.printing.slip import DeskSlip, TicketSlip, desk_slip_lines, slip_lines
from tests.support.kiosk_printer import closed_port, thermal_printer

URL = "http://hospital.test/q/Zx3kP0aQw9LmN2bV7cR1tY"


def _slip(**kw: object) -> TicketSlip:
    values: dict[str, object] = {
        "hospital_name_zh": "示范人民医院",
        "hospital_name_en": "Demo People's Hospital",
        "code": "A012",
        "masked_name": "张*明",
        "queue_zh": "内科2诊室",
        "queue_en": "Internal Medicine room 2",
        "building": "A",
        "floor": "2",
        "room": "203",
        "directions_zh": "出电梯右转",
        "directions_en": "Turn right out of the lift",
        "ahead": 4,
        "issued_at": "2026-12-01 10:05",
        "url": URL,
    }
    values.update(kw)
    return TicketSlip(**values)  # type: ignore[arg-type]


def test_the_printer_receives_the_ticket_number_chinese_text_and_the_qr_payload() -> None:
    with thermal_printer() as printer:
        NetworkPrinter(printer.host, printer.port, timeout_s=3).print_job(ticket_bytes(_slip()))
        assert printer.done.wait(10)
    data = bytes(printer.received)
    assert data.startswith(b"\x10\x04\x04")  # asked for paper status first
    assert b"A012" in data
    assert "张*明".encode("gb18030") in data
    assert "出电梯右转".encode("gb18030") in data
    assert KANJI_ON in data
    # The QR is the printer's own (GS ( k ... P0 <payload>): the ticket page URL is in the store command.
    store = b"\x1d(k" + (len(URL) + 3).to_bytes(2, "little") + b"1P0" + URL.encode()
    assert store in data
    assert data.rstrip(b"\x00").endswith(b"\x1dVA\x00") or b"\x1dV" in data  # cut


def test_the_slip_never_carries_the_full_name() -> None:
    text = "\n".join(t for _s, t in slip_lines(_slip()))
    assert "张*明" in text
    assert "张三明" not in text


def test_a_printer_that_is_off_is_reported_offline() -> None:
    with pytest.raises(PrinterError) as caught:
        NetworkPrinter("127.0.0.1", closed_port(), timeout_s=2).print_job(b"x")
    assert caught.value.failure is PrintFailure.OFFLINE


def test_a_printer_without_paper_is_reported_and_prints_nothing() -> None:
    with thermal_printer(status=b"\x72") as printer:  # bits 5 and 6: paper end
        with pytest.raises(PrinterError) as caught:
            NetworkPrinter(printer.host, printer.port, timeout_s=3).print_job(ticket_bytes(_slip()))
        assert printer.done.wait(10)
    assert caught.value.failure is PrintFailure.PAPER_OUT
    assert b"A012" not in bytes(printer.received)


def test_a_printer_that_never_answers_times_out() -> None:
    with thermal_printer(answer=False) as printer, pytest.raises(PrinterError) as caught:
        NetworkPrinter(printer.host, printer.port, timeout_s=0.5).print_job(b"x")
    assert caught.value.failure is PrintFailure.TIMEOUT


def _desk_slip(fee: str = "8.00") -> DeskSlip:
    return DeskSlip(
        hospital_name_zh="示范人民医院",
        hospital_name_en="Demo People's Hospital",
        department_zh="急诊发热门诊",
        department_en="Emergency and fever clinic",
        fee=fee,
        issued_at="2026-12-01 10:05",
    )


def test_a_desk_slip_says_where_to_pay_in_both_languages_and_carries_no_qr() -> None:
    job = desk_slip_bytes(_desk_slip())
    assert "急诊发热门诊".encode("gb18030") in job
    assert "请持此单到挂号窗口缴费取号".encode("gb18030") in job
    assert b"Registration fee 8.00 yuan" in job
    assert b"\x1d(k" not in job  # no QR: there is no ticket to follow yet
    texts = [text for _style, text in desk_slip_lines(_desk_slip(fee=""))]
    assert "挂号费请到窗口询问 / The desk tells you the fee" in texts
