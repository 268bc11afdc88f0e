"""What an 80 mm ticket slip says: one set of fields for the PDF, the page and the thermal printer."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class TicketSlip:
    hospital_name_zh: str
    hospital_name_en: str
    code: str
    masked_name: str
    queue_zh: str
    queue_en: str
    building: str
    floor: str
    room: str
    directions_zh: str
    directions_en: str
    ahead: int | None
    issued_at: str  # already in the hospital's zone, e.g. "2026-12-01 10:05"
    url: str  # the ticket page; the only thing the QR carries
    # The patient's visit code (就诊码), printed as a second QR to show at every station.
    visit_code: str = ""
    # The way from the entrance, step by step (hospital/guide), when the hospital has a map.
    route_zh: tuple[str, ...] = ()
    route_en: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def slip_lines(slip: TicketSlip) -> list[tuple[str, str]]:
    """The slip as (style, text) lines, Chinese first then English, for a text printer.

    Styles: "title", "number", "bold", "text", "small".
    """
    lines: list[tuple[str, str]] = [
        ("title", slip.hospital_name_zh),
        ("small", slip.hospital_name_en),
        ("text", "排队号 / Your number"),
        ("number", slip.code),
    ]
    if slip.masked_name:
        lines.append(("bold", slip.masked_name))
    lines.append(("bold", f"{slip.queue_zh} / {slip.queue_en}"))
    place = []
    if slip.building:
        place.append(f"{slip.building}楼 Building {slip.building}")
    if slip.floor:
        place.append(f"{slip.floor}层 Floor {slip.floor}")
    if slip.room:
        place.append(f"{slip.room}室 Room {slip.room}")
    if place:
        lines.append(("text", "  ".join(place)))
    if slip.directions_zh:
        lines.append(("text", slip.directions_zh))
    if slip.directions_en:
        lines.append(("small", slip.directions_en))
    for n, (zh, en) in enumerate(zip(slip.route_zh, slip.route_en, strict=False), start=1):
        lines.append(("text", f"{n}. {zh}"))
        lines.append(("small", f"   {en}"))
    if slip.ahead is not None:
        lines.append(("text", f"前面还有 {slip.ahead} 人 / {slip.ahead} ahead of you"))
    lines.append(("small", slip.issued_at))
    lines.append(("small", "扫码查看排队进度 / Scan to follow your place"))
    return lines


@dataclass(frozen=True)
class DeskSlip:
    """A walk-in without a phone, sent to the registration desk to pay: no number yet."""

    hospital_name_zh: str
    hospital_name_en: str
    department_zh: str
    department_en: str
    fee: str  # yuan, e.g. "8.00"; empty: the desk says what is due
    issued_at: str  # already in the hospital's zone
    code: str = ""  # the desk scans it (queueing.desk_slips): the department's queue, signed

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def desk_slip_lines(slip: DeskSlip) -> list[tuple[str, str]]:
    """The desk slip as (style, text) lines, Chinese first then English, for a text printer."""
    fee = (
        ("bold", f"挂号费 {slip.fee} 元 / Registration fee {slip.fee} yuan")
        if slip.fee
        else ("text", "挂号费请到窗口询问 / The desk tells you the fee")
    )
    return [
        ("title", slip.hospital_name_zh),
        ("small", slip.hospital_name_en),
        ("bold", "挂号单 / Registration slip"),
        ("title", slip.department_zh),
        ("small", slip.department_en),
        fee,
        ("text", "请持此单到挂号窗口缴费取号"),
        ("small", "Take this slip to the registration desk to pay and get your number"),
        ("small", slip.issued_at),
    ]
