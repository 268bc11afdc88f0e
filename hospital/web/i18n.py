"""Language, time zone and elder mode for the current request."""

from __future__ import annotations

from flask import current_app, g, has_request_context, request
from flask_login import current_user

from hospital.zones import DEFAULT_TIMEZONE

LANGUAGES = ("zh", "en")
LANGUAGE_COOKIE = "lang"
ELDER_COOKIE = "elder"
# The value of <html lang> and the voice the read-aloud button asks for, per language.
HTML_LANG = {"zh": "zh-Hans", "en": "en"}
SPEECH_LANG = {"zh": "zh-CN", "en": "en-US"}


def _signed_in() -> bool:
    return bool(current_user) and getattr(current_user, "is_authenticated", False)


def select_locale() -> str:
    """?lang=, then the `lang` cookie, the account's language, Accept-Language, the default."""
    if not has_request_context():
        return current_app.config["DEFAULT_LANGUAGE"]
    chosen = request.args.get("lang") or request.cookies.get(LANGUAGE_COOKIE)
    if chosen in LANGUAGES:
        return chosen
    if _signed_in():
        return current_user.language.value
    return request.accept_languages.best_match(LANGUAGES) or current_app.config["DEFAULT_LANGUAGE"]


def select_timezone() -> str:
    hospital = g.get("hospital")
    return hospital.timezone if hospital is not None else DEFAULT_TIMEZONE


def elder_mode_on() -> bool:
    """The `elder` cookie, else the signed-in account's setting."""
    if not has_request_context():
        return False
    cookie = request.cookies.get(ELDER_COOKIE)
    if cookie in ("1", "0"):
        return cookie == "1"
    if _signed_in():
        return bool(current_user.elder_mode)
    return False
