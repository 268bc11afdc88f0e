"""Connect patients to the application: the family consent template."""

from __future__ import annotations

from flask import Flask

from hospital.notifications.messages import register_templates
from hospital.patients import consent


def connect(app: Flask) -> None:
    """Connect the patients' templates; a second call changes nothing."""
    register_templates(consent.MESSAGE_TEMPLATES)
