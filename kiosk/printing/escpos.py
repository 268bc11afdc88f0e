"""Raw ESC/POS to a network thermal printer (TCP 9100), with printer errors in plain words.

Chinese is sent as GB18030 text in the printer's Kanji mode (FS &), which printers sold in
China understand; the QR code is the printer's own (GS ( k), so the payload travels as text.
"""

from __future__ import annotations

import enum
import socket
from dataclasses import dataclass
from typing import Protocol

from escpos.printer import Dummy

from kiosk.printing.slip import DeskSlip, TicketSlip, desk_slip_lines, slip_lines

KANJI_ON = b"\x1c\x26"  # FS &: two-byte (GB18030) characters
KANJI_OFF = b"\x1c\x2e"  # FS .
STATUS_PAPER = b"\x10\x04\x04"  # DLE EOT 4: paper roll sensor status
PAPER_END_BITS = 0x60  # bits 5 and 6: paper end detected


class PrintFailure(enum.StrEnum):
    OFFLINE = "offline"
    PAPER_OUT = "paper_out"
    TIMEOUT = "timeout"


class PrinterError(Exception):
    """The slip was not printed; failure says why."""

    def __init__(self, failure: PrintFailure, detail: str = "") -> None:
        super().__init__(f"{failure.value}: {detail}")
        self.failure = failure


def _text(printer: Dummy, text: str) -> None:
    printer._raw(KANJI_ON + text.encode("gb18030", errors="replace") + b"\n" + KANJI_OFF)


def _lines(printer: Dummy, lines: list[tuple[str, str]]) -> None:
    for style, text in lines:
        if style == "number":
            printer.set(align="center", bold=True, custom_size=True, width=4, height=4)
        elif style == "title":
            printer.set(align="center", bold=True, double_height=True, double_width=True)
        elif style == "bold":
            printer.set(align="center", bold=True, normal_textsize=True)
        else:
            printer.set(align="center", bold=False, normal_textsize=True)
        _text(printer, text)


def ticket_bytes(slip: TicketSlip) -> bytes:
    """The ESC/POS job for one slip: text lines, a native QR of the ticket page, a cut."""
    printer = Dummy()
    printer.hw("INIT")
    _lines(printer, slip_lines(slip))
    printer.set(align="center", normal_textsize=True)
    printer.qr(slip.url, native=True, size=6, center=False)
    if slip.visit_code:
        printer.ln(1)
        _text(printer, "就诊码 / Visit code")
        printer.qr(slip.visit_code, native=True, size=8, center=False)
        _text(printer, slip.visit_code)
    printer.ln(2)
    printer.cut()
    return bytes(printer.output)


def desk_slip_bytes(slip: DeskSlip) -> bytes:
    """The ESC/POS job for a desk slip: text lines, the QR the desk scans, a cut."""
    printer = Dummy()
    printer.hw("INIT")
    _lines(printer, desk_slip_lines(slip))
    if slip.code:
        printer.set(align="center", normal_textsize=True)
        _text(printer, "窗口扫码 / The desk scans this code")
        printer.qr(slip.code, native=True, size=6, center=False)
        _text(printer, slip.code)
    printer.ln(2)
    printer.cut()
    return bytes(printer.output)


class Printer(Protocol):
    def print_job(self, job: bytes) -> None: ...


@dataclass
class NetworkPrinter:
    """A thermal printer on TCP port 9100 (raw): asks for paper status, then sends the job."""

    host: str
    port: int = 9100
    timeout_s: float = 3.0

    def print_job(self, job: bytes) -> None:
        # The socket is ours (not escpos.printer.Network's) so that it is closed on every path.
        try:
            connection = socket.create_connection((self.host, self.port), timeout=self.timeout_s)
        except TimeoutError as exc:
            raise PrinterError(PrintFailure.TIMEOUT, str(exc)) from exc
        except OSError as exc:
            raise PrinterError(PrintFailure.OFFLINE, str(exc)) from exc
        with connection:
            try:
                connection.sendall(STATUS_PAPER)
                status = connection.recv(1)
                if not status:
                    raise PrinterError(PrintFailure.OFFLINE, "the printer closed the connection")
                if status[0] & PAPER_END_BITS:
                    raise PrinterError(PrintFailure.PAPER_OUT, f"status byte {status[0]:#04x}")
                connection.sendall(job)
            except TimeoutError as exc:
                raise PrinterError(PrintFailure.TIMEOUT, str(exc)) from exc
            except OSError as exc:
                raise PrinterError(PrintFailure.OFFLINE, str(exc)) from exc
