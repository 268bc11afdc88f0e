"""The account's own settings: language, elder mode and display name."""

from __future__ import annotations

from datetime import datetime

from flask_babel import lazy_gettext as _l

from hospital.accounts.models import Account, Language
from hospital.db import db
from hospital.error_codes import ErrorCode
from hospital.errors import InvalidInput

DISPLAY_NAME_MAX_LENGTH = 100


def parse_language(value: str | Language) -> Language:
    """Return the language chosen, or raise invalid_language."""
    try:
        return Language(value)
    except ValueError:
        raise InvalidInput(
            _l("Choose the language zh (Chinese) or en (English)."), code=ErrorCode.INVALID_LANGUAGE
        ) from None


def update_preferences(
    *,
    account: Account,
    language: str | None = None,
    elder_mode: bool | None = None,
    display_name: str | None = None,
) -> Account:
    """Change the account's language, elder mode or display name (None leaves a value as is)."""
    if language is not None:
        account.language = parse_language(language)
    if elder_mode is not None:
        account.elder_mode = bool(elder_mode)
    if display_name is not None:
        name = " ".join(display_name.split())
        if len(name) > DISPLAY_NAME_MAX_LENGTH:
            raise InvalidInput(
                _l("Keep the name to %(n)s characters or fewer.", n=DISPLAY_NAME_MAX_LENGTH),
                code=ErrorCode.DISPLAY_NAME_TOO_LONG,
            )
        account.display_name = name
    db.session.flush()
    return account


def needs_privacy_consent(account: Account) -> bool:
    """A patient account that has not yet agreed to the privacy notice (staff agree by contract)."""
    return account.privacy_accepted_at is None and not account.is_staff


def accept_privacy_notice(*, account: Account, now: datetime) -> Account:
    """Record that the account holder agreed to the privacy notice (the first time only)."""
    if account.privacy_accepted_at is None:
        account.privacy_accepted_at = now
        db.session.flush()
    return account
