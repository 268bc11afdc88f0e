"""Connect patient cards to the application: the "card used" message."""

from __future__ import annotations

from flask import Flask

from hospital.cards.service import MESSAGE_TEMPLATES
from hospital.notifications.messages import register_templates


def connect(app: Flask) -> None:
    """Register the card's message template; a second call changes nothing."""
    register_templates(MESSAGE_TEMPLATES)
