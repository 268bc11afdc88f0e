"""Message templates: each package registers its own from its connect(); rendered per recipient language."""

from __future__ import annotations

import logging
import string
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from flask_babel import force_locale

log = logging.getLogger("hospital.notifications")
SOURCE_LANGUAGE = "en"  # msgids are English


@dataclass(frozen=True)
class MessageTemplate:
    subject: Any  # a lazy_gettext string with str.format placeholders
    body: Any


class MissingPlaceholder(ValueError):
    """The context lacks a value a template needs: a programming error caught at enqueue time."""


TEMPLATES: dict[str, MessageTemplate] = {}


def register_template(key: str, *, subject: Any, body: Any) -> None:
    """Make a template known under key."""
    TEMPLATES[key] = MessageTemplate(subject=subject, body=body)


def register_templates(templates: Mapping[str, MessageTemplate]) -> None:
    """Make a package's templates known; registering the same ones again changes nothing.

    Two packages claiming one key is a programming error, refused here rather than one
    message silently replacing the other.
    """
    for key, template in templates.items():
        known = TEMPLATES.get(key)
        if known is not None and known is not template:
            raise ValueError(f"message template {key!r} is already registered by another module")
        TEMPLATES[key] = template


def placeholders(text: str) -> set[str]:
    """The top-level field names a str.format string uses."""
    names: set[str] = set()
    for _literal, field, _spec, _conversion in string.Formatter().parse(text):
        if field is None:
            continue
        name = field.split(".", 1)[0].split("[", 1)[0]
        if name == "" or name.isdigit():
            raise MissingPlaceholder(f"positional placeholder in message template: {text!r}")
        names.add(name)
    return names


def _fill(key: str, part: str, text: str, context: dict[str, Any]) -> str:
    missing = placeholders(text) - context.keys()
    if missing:
        raise MissingPlaceholder(
            f"message template {key!r} ({part}) needs {', '.join(sorted(missing))} "
            f"in its context; got {', '.join(sorted(context)) or 'nothing'}"
        )
    return text.format(**context)


def _render(
    key: str, template: MessageTemplate, context: dict[str, Any], language: str
) -> tuple[str, str]:
    with force_locale(language):
        subject = _fill(key, "subject", str(template.subject), context)
        body = _fill(key, "body", str(template.body), context)
    return subject, body


def render(key: str, context: dict[str, Any], language: str) -> tuple[str, str]:
    """Return (subject, body) of template key in language; KeyError if the key is unknown.

    A context that does not fit the English source raises MissingPlaceholder (a bug in the
    caller). A translation that does not fit (a translator's typo in a placeholder) must not
    stop a booking: the message goes out in English and the error is logged.
    """
    template = TEMPLATES[key]
    try:
        return _render(key, template, context, language)
    except (ValueError, IndexError):
        if language == SOURCE_LANGUAGE:
            raise
        english = _render(key, template, context, SOURCE_LANGUAGE)
        log.error(
            "message template %r: the %r translation does not fit its context; sent in English",
            key,
            language,
        )
        return english
