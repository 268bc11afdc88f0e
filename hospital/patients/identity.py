"""Identity documents and phone numbers: validation without any database or Flask."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK_CHARS = "10X98765432"
RESIDENT_ID_SHAPE = re.compile(r"^\d{17}[\dX]$")
_PASSPORT = re.compile(r"^[A-Z0-9]{5,17}$")
_MAINLAND_MOBILE = re.compile(r"^1[3-9]\d{9}$")
_E164 = re.compile(r"^\+[1-9]\d{7,14}$")

# What normalize_phone accepts, as one pattern for the API document: separators (spaces, dashes,
# brackets) anywhere; a mainland mobile, optionally after +86 or 0086; or another country's
# number in E.164 form (a +86 number must be a mainland mobile).
_SEP = r"[\s()-]*"
_MAINLAND_TEXT = rf"(?:(?:\+|00){_SEP}8{_SEP}6{_SEP})?1{_SEP}[3-9](?:{_SEP}\d){{9}}"
_ABROAD_TEXT = rf"\+{_SEP}(?:[1-79](?:{_SEP}\d){{7,14}}|8{_SEP}[0-57-9](?:{_SEP}\d){{6,13}})"
PHONE_PATTERN = rf"^{_SEP}(?:{_MAINLAND_TEXT}|{_ABROAD_TEXT}){_SEP}$"


class IdentityError(ValueError):
    """The number is not valid; the message says how."""


@dataclass(frozen=True)
class ResidentId:
    number: str
    birth_date: date
    sex: str  # "male" or "female", from the 17th digit


def resident_id_check_char(first17: str) -> str:
    total = sum(int(d) * w for d, w in zip(first17, _WEIGHTS, strict=True))
    return _CHECK_CHARS[total % 11]


def parse_resident_id(raw: str, *, today: date | None = None) -> ResidentId:
    """Validate an 18-character mainland resident ID (GB 11643) and read its birth date and sex."""
    number = raw.strip().upper()
    if not RESIDENT_ID_SHAPE.match(number):
        raise IdentityError("A resident ID has 18 characters: 17 digits and a final digit or X.")
    if resident_id_check_char(number[:17]) != number[17]:
        raise IdentityError("This resident ID's check digit is wrong. Check the number for a typo.")
    try:
        born = date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        raise IdentityError("The birth date inside this resident ID is not a real date.") from None
    if born.year < 1890 or (today is not None and born > today):
        raise IdentityError("The birth date inside this resident ID is not plausible.")
    sex = "male" if int(number[16]) % 2 else "female"
    return ResidentId(number, born, sex)


def normalize_passport(raw: str) -> str:
    number = re.sub(r"\s", "", raw)
    # Letters and digits as typed (ASCII): upper-casing must not make one ("ß" is not "SS").
    if not number.isascii() or not _PASSPORT.match(number := number.upper()):
        raise IdentityError("A passport number has 5 to 17 letters and digits.")
    return number


def normalize_phone(raw: str) -> str:
    """Return a mainland mobile as 11 digits, or another country's number in E.164 form."""
    phone = re.sub(r"[\s\-()]", "", raw or "")
    if phone.startswith("+86"):
        phone = phone[3:]
    elif phone.startswith("0086"):
        phone = phone[4:]
    if _MAINLAND_MOBILE.match(phone) or _E164.match(phone):
        return phone
    raise IdentityError(
        "Enter a mobile number: 11 digits starting with 1 (e.g. 13800138000), "
        "or an international number starting with + and the country code."
    )


def mask_phone(phone: str) -> str:
    """138****8000: enough for a person to recognise their own number, not to dial it.

    A number shorter than eight characters is hidden whole: with three shown in front and four
    behind, nothing of it would be masked.
    """
    if len(phone) < 8:
        return "*" * len(phone)
    return phone[:3] + "*" * (len(phone) - 7) + phone[-4:]


def mask_id_number(number: str) -> str:
    """110105********0018: the first 6 and last 4 characters of a resident ID only."""
    if len(number) > 10:
        head, tail = 6, 4
    elif len(number) > 4:
        head, tail = 2, 2
    else:
        return "*" * len(number)
    return number[:head] + "*" * (len(number) - head - tail) + number[-tail:]


def mask_name(name: str) -> str:
    """张*明 / 张* / 欧阳*华 / J*** S.: never the full name on a public screen or slip."""
    name = " ".join(name.split())
    if not name:
        return ""
    if re.search(r"[\u3400-\u9fff]", name):
        chars = name.replace(" ", "")
        if len(chars) == 1:
            return chars
        if len(chars) == 2:
            return chars[0] + "*"
        if len(chars) == 3:
            return chars[0] + "*" + chars[2]
        return chars[:2] + "*" * (len(chars) - 3) + chars[-1]
    parts = name.split(" ")
    first = parts[0]
    masked_first = first[0] + "*" * max(len(first) - 1, 1) if len(first) > 1 else first + "*"
    if len(parts) == 1:
        return masked_first
    return f"{masked_first} {parts[-1][0]}."
