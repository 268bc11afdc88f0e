"""Configuration: defaults, HOSPITAL_* variables, production guards, and a factory that touches nothing."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from hospital.app import create_app
from hospital.config import SETTINGS, ConfigError

ROOT = Path(__file__).resolve().parents[2]


def test_environment_variables_override_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOSPITAL_FAMILY_LIMIT", "3")
    monkeypatch.setenv("HOSPITAL_DEFAULT_LANGUAGE", "en")
    app = create_app({"DATABASE_URL": "sqlite://"})
    assert app.config["FAMILY_LIMIT"] == 3
    assert app.config["DEFAULT_LANGUAGE"] == "en"


def test_production_refuses_the_development_secret_key() -> None:
    with pytest.raises(ConfigError, match="SECRET_KEY"):
        create_app({"ENV": "production", "DATABASE_URL": "sqlite://"})


def test_production_refuses_debug() -> None:
    with pytest.raises(ConfigError, match="DEBUG"):
        create_app(
            {
                "ENV": "production",
                "SECRET_KEY": "x" * 40,
                "DEBUG": True,
                "DATABASE_URL": "sqlite://",
            }
        )


def test_production_starts_with_a_real_secret() -> None:
    app = create_app({"ENV": "production", "SECRET_KEY": "x" * 40, "DATABASE_URL": "sqlite://"})
    assert app.config["SESSION_COOKIE_SECURE"] is True


def test_create_app_makes_no_database_connection() -> None:
    # Nothing listens on port 9; a factory that connected would raise here.
    app = create_app({"DATABASE_URL": "postgresql+psycopg://nobody@127.0.0.1:9/none"})
    assert app.config["SQLALCHEMY_DATABASE_URI"].endswith("/none")


def test_default_database_is_a_sqlite_file_in_instance() -> None:
    app = create_app()
    assert re.match(r"sqlite:///.*instance/hospital\.db$", app.config["SQLALCHEMY_DATABASE_URI"])


def test_every_setting_is_documented_in_the_readme() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    missing = [key for key in SETTINGS if f"`HOSPITAL_{key}`" not in readme]
    assert not missing, f"document these in the README's configuration table: {missing}"
