"""Read HL7 v2 ORU^R01 result messages (PID, OBR, OBX segments) into incoming reports.

Pure: no Flask, no database. Every refusal names the segment (and its position in the message)
and the field, e.g. "OBX #3 (segment 6), OBX-5 observation value: ...".
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone

from reports.results import (
    IncomingReport,
    ResultDocument,
    ResultItem,
    flag_from_code,
    flag_from_range,
)

FIELD_NAMES = {
    "MSH-9": "message type",
    "MSH-12": "version",
    "PID-3": "patient identifier list",
    "OBR-2": "placer order number",
    "OBR-3": "filler order number",
    "OBR-4": "universal service identifier",
    "OBR-7": "observation date/time",
    "OBR-32": "principal result interpreter",
    "OBX-2": "value type",
    "OBX-3": "observation identifier",
    "OBX-5": "observation value",
    "OBX-6": "units",
    "OBX-7": "reference range",
    "OBX-8": "abnormal flags",
    "OBX-11": "observation result status",
}
TEXT_TYPES = {"ST", "TX", "FT", "CE", "CWE", "NM", "SN"}
MAX_ITEMS = 500


class Hl7Error(ValueError):
    """The message cannot be read; `segment` and `field` say where."""

    def __init__(self, segment: str, field: str, problem: str) -> None:
        self.segment = segment
        self.field = field
        self.problem = problem
        name = FIELD_NAMES.get(field, "")
        where = f"{segment}, {field}{' ' + name if name else ''}" if field else segment
        super().__init__(f"{where}: {problem}")


@dataclass
class _Segment:
    kind: str
    label: str  # e.g. "OBX #3 (segment 6)"
    fields: list[str]

    def field(self, n: int) -> str:
        # fields[0] is the segment id, so HL7 field n sits at index n (MSH is adjusted on parse).
        return self.fields[n] if n < len(self.fields) else ""


@dataclass
class _Encoding:
    field: str = "|"
    component: str = "^"
    repetition: str = "~"
    escape: str = "\\"
    subcomponent: str = "&"

    def unescape(self, text: str) -> str:
        if self.escape not in text:
            return text
        e = re.escape(self.escape)
        chars = {
            "F": self.field,
            "S": self.component,
            "T": self.subcomponent,
            "R": self.repetition,
            "E": self.escape,
        }
        # One pass, left to right: "\E\F\E\" is an escaped "\F\", not an escaped "|".
        return re.sub(f"{e}([FSTRE]){e}", lambda m: chars[m.group(1)], text)

    def components(self, value: str) -> list[str]:
        return [self.unescape(c) for c in value.split(self.component)]


def _split_segments(message: str) -> list[str]:
    text = message.replace("\r\n", "\r").replace("\n", "\r")
    return [s for s in text.split("\r") if s.strip()]


def _parse_msh(line: str) -> tuple[_Encoding, _Segment]:
    if not line.startswith("MSH") or len(line) < 8:
        raise Hl7Error("MSH (segment 1)", "", "a message must start with an MSH header segment")
    sep = line[3]
    chars = line[4:].split(sep, 1)[0]
    if len(chars) < 4 or sep.isalnum():
        raise Hl7Error(
            "MSH (segment 1)", "MSH-2", "the encoding characters (e.g. ^~\\&) are missing"
        )
    encoding = _Encoding(sep, chars[0], chars[1], chars[2], chars[3])
    parts = line.split(sep)
    # MSH-1 is the separator itself, so MSH field n is parts[n-1]; shift to keep field(n) uniform.
    fields = ["MSH", sep, *parts[1:]]
    return encoding, _Segment("MSH", "MSH (segment 1)", fields)


def parse_hl7_datetime(value: str, *, segment: str, field: str) -> datetime | None:
    """Read an HL7 DTM (YYYY[MM[DD[HH[MM[SS]]]]][+/-ZZZZ]) as an aware UTC datetime."""
    value = value.strip()
    if not value:
        return None
    offset = UTC
    for sign in ("+", "-"):
        if sign in value[4:]:
            idx = value.rindex(sign)
            tz = value[idx + 1 :]
            value = value[:idx]
            # isascii: "²" is a digit to str.isdigit but not to int(); offsets end below 24 h.
            if (
                len(tz) != 4
                or not (tz.isascii() and tz.isdigit())
                or int(tz[:2]) > 23
                or int(tz[2:]) > 59
            ):
                raise Hl7Error(segment, field, f"time zone offset {sign}{tz!r} is not +HHMM")
            delta = timedelta(hours=int(tz[:2]), minutes=int(tz[2:]))
            offset = timezone(delta if sign == "+" else -delta)
    value = value.split(".", 1)[0]
    formats = {
        4: "%Y",
        6: "%Y%m",
        8: "%Y%m%d",
        10: "%Y%m%d%H",
        12: "%Y%m%d%H%M",
        14: "%Y%m%d%H%M%S",
    }
    fmt = formats.get(len(value))
    try:
        if fmt is None or not (value.isascii() and value.isdigit()):
            raise ValueError
        parsed = datetime.strptime(value, fmt).replace(tzinfo=offset)
    except ValueError:
        raise Hl7Error(
            segment, field, f"{value!r} is not a date/time like 20261128093000+0800"
        ) from None
    return parsed.astimezone(UTC)


def _mrn(encoding: _Encoding, pid: _Segment) -> str:
    raw = pid.field(3)
    if not raw.strip():
        raise Hl7Error(pid.label, "PID-3", "the patient's medical record number is missing")
    first = ""
    for repetition in raw.split(encoding.repetition):
        parts = encoding.components(repetition)
        number = parts[0].strip()
        kind = parts[4].strip().upper() if len(parts) > 4 else ""
        if number and kind == "MR":
            return number
        first = first or number
    if not first:
        raise Hl7Error(pid.label, "PID-3", "the patient's medical record number is missing")
    return first


def _item(encoding: _Encoding, obx: _Segment) -> ResultItem | ResultDocument:
    value_type = obx.field(2).strip().upper()
    identifier = encoding.components(obx.field(3))
    raw_value = obx.field(5)
    if value_type == "ED":
        parts = encoding.components(raw_value)
        if len(parts) < 5 or parts[3].strip().upper() != "BASE64":
            raise Hl7Error(
                obx.label, "OBX-5", "an ED value must be source^type^subtype^Base64^data"
            )
        subtype = parts[2].strip().upper()
        if subtype != "PDF":
            raise Hl7Error(obx.label, "OBX-5", f"only PDF documents are accepted, not {subtype!r}")
        try:
            data = base64.b64decode(parts[4], validate=True)
        except (binascii.Error, ValueError):
            raise Hl7Error(obx.label, "OBX-5", "the document is not valid Base64") from None
        if not data.startswith(b"%PDF-"):
            raise Hl7Error(obx.label, "OBX-5", "the document is not a PDF file")
        return ResultDocument("application/pdf", data)
    if value_type and value_type not in TEXT_TYPES:
        raise Hl7Error(obx.label, "OBX-2", f"value type {value_type!r} is not supported")
    code = identifier[0].strip()
    name = (identifier[1] if len(identifier) > 1 else "").strip() or code
    if not name:
        raise Hl7Error(obx.label, "OBX-3", "the observation has neither a code nor a name")
    if value_type in ("CE", "CWE"):
        parts = encoding.components(raw_value)
        value = (parts[1] if len(parts) > 1 and parts[1] else parts[0]).strip()
    else:
        value = encoding.unescape(raw_value).strip()
    if not value:
        raise Hl7Error(obx.label, "OBX-5", "the observation value is empty")
    if value_type == "NM":
        try:
            float(value)
        except ValueError:
            raise Hl7Error(
                obx.label, "OBX-5", f"{value[:40]!r} is not a number (value type NM)"
            ) from None
    units = encoding.components(obx.field(6))
    unit = (units[0] or (units[1] if len(units) > 1 else "")).strip()
    reference_range = encoding.unescape(obx.field(7)).strip()
    try:
        flag = flag_from_code(obx.field(8).split(encoding.repetition)[0])
    except ValueError as exc:
        raise Hl7Error(obx.label, "OBX-8", str(exc)) from None
    if flag is None:
        flag = flag_from_range(value, reference_range)
    for text, limit, fld in (
        (name, 200, "OBX-3"),
        (value, 200, "OBX-5"),
        (unit, 40, "OBX-6"),
        (reference_range, 80, "OBX-7"),
    ):
        if len(text) > limit:
            raise Hl7Error(obx.label, fld, f"longer than {limit} characters")
    return ResultItem(
        name=name,
        value=value,
        code=code[:40],
        unit=unit,
        reference_range=reference_range,
        flag=flag,
    )


def parse_oru_r01(message: str) -> list[IncomingReport]:
    """Read an ORU^R01 message: one incoming report per OBR segment, for the PID's patient."""
    lines = _split_segments(message)
    if not lines:
        raise Hl7Error("MSH (segment 1)", "", "the message is empty")
    encoding, msh = _parse_msh(lines[0])
    message_type = encoding.components(msh.field(9))
    if message_type[:2] != ["ORU", "R01"]:
        raise Hl7Error(msh.label, "MSH-9", f"expected ORU^R01, got {'^'.join(message_type[:2])!r}")

    counts: dict[str, int] = {}
    pid: _Segment | None = None
    reports: list[IncomingReport] = []
    current: IncomingReport | None = None
    for index, line in enumerate(lines[1:], start=2):
        kind = line[:3]
        counts[kind] = counts.get(kind, 0) + 1
        segment = _Segment(
            kind, f"{kind} #{counts[kind]} (segment {index})", line.split(encoding.field)
        )
        if len(kind) != 3 or not kind.isalnum() or (len(line) > 3 and line[3] != encoding.field):
            raise Hl7Error(f"segment {index}", "", f"{line[:10]!r} is not a segment")
        if kind == "PID":
            if pid is not None:
                raise Hl7Error(
                    segment.label, "", "one message may hold results for one patient only"
                )
            pid = segment
        elif kind == "OBR":
            if pid is None:
                raise Hl7Error(segment.label, "", "an OBR segment must follow the PID segment")
            service = encoding.components(segment.field(4))
            code = service[0].strip()
            if not code:
                raise Hl7Error(segment.label, "OBR-4", "the test code is missing")
            interpreter = encoding.components(segment.field(32))
            signer = " ".join(p for p in interpreter[:3] if p).strip()
            current = IncomingReport(
                medical_record_number=_mrn(encoding, pid),
                test_code=code[:40],
                test_name=(service[1] if len(service) > 1 else "").strip()[:200] or code,
                order_reference=(
                    encoding.components(segment.field(2))[0]
                    or encoding.components(segment.field(3))[0]
                ).strip()[:64],
                observed_at=parse_hl7_datetime(
                    segment.field(7), segment=segment.label, field="OBR-7"
                ),
                signed_by=signer[:100],
            )
            reports.append(current)
        elif kind == "OBX":
            if current is None:
                raise Hl7Error(segment.label, "", "an OBX segment must follow an OBR segment")
            entry = _item(encoding, segment)
            if isinstance(entry, ResultDocument):
                if current.document is not None:
                    raise Hl7Error(segment.label, "OBX-5", "a report may carry one document only")
                current.document = entry
            else:
                current.items.append(entry)
                if len(current.items) > MAX_ITEMS:
                    raise Hl7Error(
                        segment.label, "", f"a report may hold at most {MAX_ITEMS} results"
                    )
        elif kind == "NTE" and current is not None:
            note = encoding.unescape(segment.field(3)).strip()
            current.conclusion = (current.conclusion + "\n" + note).strip()
        # Other segments (PV1, ORC, NTE before OBR, SPM ...) carry nothing this system keeps.
    if pid is None:
        raise Hl7Error("PID", "", "the message has no PID (patient) segment")
    if not reports:
        raise Hl7Error("OBR", "", "the message has no OBR (order) segment")
    for report in reports:
        if not report.items and report.document is None:
            raise Hl7Error(
                "OBR", "", f"the report for test {report.test_code!r} has no OBX results"
            )
    return reports


def acknowledgement(message: str, *, accepted: bool, text: str = "", now: datetime) -> str:
    """Build an ACK^R01 for the message (AA accepted, AE refused) with MSA-3 text."""
    lines = _split_segments(message)
    control_id = ""
    sep = "|"
    if lines and lines[0].startswith("MSH") and len(lines[0]) > 3:
        sep = lines[0][3]
        parts = lines[0].split(sep)
        control_id = parts[9] if len(parts) > 9 else ""
    clean = text.replace(sep, " ").replace("\r", " ").replace("\n", " ")[:200]
    stamp = now.astimezone(UTC).strftime("%Y%m%d%H%M%S+0000")
    return "\r".join(
        [
            f"MSH{sep}^~\\&{sep}HOSPITAL{sep}{sep}{sep}{sep}{stamp}{sep}{sep}ACK^R01{sep}{control_id}{sep}P{sep}2.5",
            f"MSA{sep}{'AA' if accepted else 'AE'}{sep}{control_id}{sep}{clean}",
        ]
    )
