"""Language, time zone and elder mode for the current request."""

from __future__ import annotations

from flask import current_app, g, request
from flask_login import current_user

LANGUAGES = ("zh", "en")
LANGUAGE_COOKIE = "lang"
ELDER_COOKIE = "elder"


def select_locale() -> str:
    chosen = request.args.get("lang") or request.cookies.get(LANGUAGE_COOKIE)
    if chosen in LANGUAGES:
        return chosen
    if current_user and getattr(current_user, "is_authenticated", False):
        return current_user.language.value
    return request.accept_languages.best_match(LANGUAGES) or current_app.config["DEFAULT_LANGUAGE"]


def select_timezone() -> str:
    hospital = g.get("hospital")
    return hospital.timezone if hospital is not None else "Asia/Shanghai"


def elder_mode_on() -> bool:
    cookie = request.cookies.get(ELDER_COOKIE)
    if cookie in ("1", "0"):
        return cookie == "1"
    if current_user and getattr(current_user, "is_authenticated", False):
        return bool(current_user.elder_mode)
    return False
