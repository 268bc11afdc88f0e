"""Parse FHIR search and operation parameters; anything unknown or malformed is refused (400)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from flask_babel import lazy_gettext as _l

from hospital.error_codes import ErrorCode
from hospital.errors import DomainError
from hospital.web.id_fields import parse_id

DEFAULT_COUNT = 50
MAX_COUNT = 500
CONTROL = frozenset({"_count", "_offset", "_format", "_pretty"})
_DATE = re.compile(r"^(\d{4})(-(\d{2})(-(\d{2}))?)?$")
_PREFIXES = ("eq", "ge", "gt", "le", "lt")


class BadParameter(DomainError):
    status = 400
    code = ErrorCode.INVALID_PARAMETER


def unknown(names: set[str]) -> BadParameter:
    return BadParameter(
        _l("Unknown parameter: %(names)s.", names=", ".join(sorted(names))),
        code=ErrorCode.UNKNOWN_PARAMETER,
    )


def check_known(given: set[str], known: frozenset[str]) -> None:
    extra = given - known - CONTROL
    if extra:
        raise unknown(extra)


def count_and_offset(args: Any, *, default: int = DEFAULT_COUNT) -> tuple[int, int]:
    return (
        _int(args.get("_count"), "_count", default, 1, MAX_COUNT),
        _int(args.get("_offset"), "_offset", 0, 0, 10**7),
    )


def _int(raw: Any, name: str, default: int, low: int, high: int) -> int:
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except (TypeError, ValueError):
        value = low - 1
    if not low <= value <= high:
        raise BadParameter(
            _l(
                "%(name)s must be a whole number from %(low)d to %(high)d.",
                name=name,
                low=low,
                high=high,
            ),
            code=ErrorCode.INVALID_PARAMETER,
        )
    return value


@dataclass(frozen=True)
class Range:
    """Half-open instant range [lower, upper); None means unbounded."""

    lower: datetime | None = None
    upper: datetime | None = None

    def meet(self, other: Range) -> Range:
        lower = max((x for x in (self.lower, other.lower) if x is not None), default=None)
        upper = min((x for x in (self.upper, other.upper) if x is not None), default=None)
        return Range(lower, upper)

    def contains(self, moment: datetime) -> bool:
        return (self.lower is None or moment >= self.lower) and (
            self.upper is None or moment < self.upper
        )


def _bad_date(raw: str) -> BadParameter:
    return BadParameter(
        _l(
            "%(value)s is not a FHIR date. Use for example ge2026-12-01 or "
            "2026-12-01T08:00:00+08:00.",
            value=raw[:60],
        ),
        code=ErrorCode.INVALID_DATE,
    )


def _period(text: str, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """The instants a FHIR date or dateTime value covers: [start, end)."""
    match = _DATE.match(text)
    if match:
        year = int(match.group(1))
        month = int(match.group(3) or 1)
        day = int(match.group(5) or 1)
        try:
            first = date(year, month, day)
        except ValueError:
            raise _bad_date(text) from None
        if match.group(5):
            last = first + timedelta(days=1)
        elif match.group(3):
            last = date(year + month // 12, month % 12 + 1, 1)
        else:
            last = date(year + 1, 1, 1)
        return _midnight(first, zone), _midnight(last, zone)
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise _bad_date(text) from None
    if moment.tzinfo is None:
        raise _bad_date(text)
    moment = moment.astimezone(UTC)
    return moment, moment + timedelta(seconds=1)


def _midnight(day: date, zone: ZoneInfo) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=zone).astimezone(UTC)


def date_range(values: list[str], zone: ZoneInfo) -> Range:
    """The range named by repeated FHIR date search values such as ge2026-12-01&lt2026-12-05."""
    result = Range()
    for raw in values:
        if not raw:
            raise _bad_date(raw)
        prefix, text = ("eq", raw)
        if raw[:2] in _PREFIXES and not raw[:2].isdigit():
            prefix, text = raw[:2], raw[2:]
        elif raw[:2].isalpha():
            raise _bad_date(raw)
        start, end = _period(text, zone)
        bound = {
            "eq": Range(start, end),
            "ge": Range(start, None),
            "gt": Range(end, None),
            "le": Range(None, end),
            "lt": Range(None, start),
        }[prefix]
        result = result.meet(bound)
    return result


def reference_id(value: Any, resource: str) -> int:
    """The integer id in "Resource/123" or "123"."""
    text = str(value or "").strip()
    if "/" in text:
        kind, _, text = text.rpartition("/")
        if kind.rsplit("/", 1)[-1] != resource:
            raise BadParameter(
                _l("Expected a reference to a %(kind)s.", kind=resource),
                code=ErrorCode.INVALID_REFERENCE,
            )
    number = parse_id(text)
    if number is None:
        raise BadParameter(
            _l("%(value)s is not a %(kind)s id.", value=text[:40], kind=resource),
            code=ErrorCode.INVALID_REFERENCE,
        )
    return number


def token_code(value: str) -> str:
    """The code of a token search value ("system|code" or "code")."""
    return value.rpartition("|")[2].strip()
