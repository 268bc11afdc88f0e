"""Every registered message template renders in every language with the context it expects."""

from __future__ import annotations

import pytest
from flask import Flask
from flask_babel import force_locale

from hospital.notifications.messages import TEMPLATES, placeholders
from hospital.web.i18n import LANGUAGES


def test_templates_are_registered(app: Flask) -> None:
    assert TEMPLATES, "no module registered a message template"


@pytest.mark.parametrize("language", [lang for lang in LANGUAGES if lang != "en"])
def test_translations_use_only_the_placeholders_of_the_english_source(
    app: Flask, language: str
) -> None:
    broken = []
    with app.app_context():
        for key, template in sorted(TEMPLATES.items()):
            for part in ("subject", "body"):
                text = getattr(template, part)
                with force_locale("en"):
                    source = placeholders(str(text))
                with force_locale(language):
                    translated = placeholders(str(text))
                if not translated <= source:
                    broken.append(f"{key} {part}: {sorted(translated - source)}")
    assert broken == [], "translations name placeholders the code never sends"
