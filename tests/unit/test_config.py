"""Configuration: defaults, HOSPITAL_* variables, production guards, and a factory that touches nothing."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from hospital.app import create_app
from hospital.config import DEV_SECRET_KEY, SETTINGS, ConfigError, describe_database

ROOT = Path(__file__).resolve().parents[2]

# What a production start needs besides a secret key.
PRODUCTION = {
    "ENV": "production",
    "SECRET_KEY": "x" * 40,
    "DATABASE_URL": "sqlite://",
    "BILLING_PROVIDERS": "alipay",
    "SMS_URL": "https://sms.example.org/send",
    "SMTP_URL": "smtp://relay.example.org",
}


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
        create_app({**PRODUCTION, "DEBUG": True})


def test_production_starts_with_a_real_secret() -> None:
    app = create_app(PRODUCTION)
    assert app.config["SESSION_COOKIE_SECURE"] is True


@pytest.mark.parametrize("providers", ["sandbox", "alipay,sandbox", "", None])
def test_production_refuses_the_sandbox_payment_provider(providers: str | None) -> None:
    with pytest.raises(ConfigError, match="HOSPITAL_BILLING_PROVIDERS"):
        create_app({**PRODUCTION, "BILLING_PROVIDERS": providers})


def test_production_refuses_the_default_payment_providers(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = {k: v for k, v in PRODUCTION.items() if k != "BILLING_PROVIDERS"}
    with pytest.raises(ConfigError, match="HOSPITAL_BILLING_PROVIDERS.*sandbox"):
        create_app(settings)


@pytest.mark.parametrize("setting", ["SMS_URL", "SMTP_URL"])
def test_production_refuses_messages_written_to_the_log(setting: str) -> None:
    with pytest.raises(ConfigError, match=f"HOSPITAL_{setting}"):
        create_app({**PRODUCTION, setting: None})


def test_development_generates_a_private_secret_key_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOSPITAL_INSTANCE_PATH", str(tmp_path / "instance"))
    monkeypatch.delenv("HOSPITAL_SECRET_KEY", raising=False)
    first = create_app({"DATABASE_URL": "sqlite://"}).config["SECRET_KEY"]
    key_file = tmp_path / "instance" / "secret_key"
    assert key_file.read_text().strip() == first
    assert key_file.stat().st_mode & 0o777 == 0o600
    assert first != DEV_SECRET_KEY and len(first) >= 32
    # A second start (`make demo` twice) signs with the same key, so sessions survive it,
    # whichever directory it starts from.
    assert create_app({"DATABASE_URL": "sqlite://"}).config["SECRET_KEY"] == first
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")
    assert create_app({"DATABASE_URL": "sqlite://"}).config["SECRET_KEY"] == first
    # Another instance folder is another installation, with a key of its own.
    monkeypatch.setenv("HOSPITAL_INSTANCE_PATH", str(tmp_path / "other"))
    assert create_app({"DATABASE_URL": "sqlite://"}).config["SECRET_KEY"] != first


def test_only_tests_sign_with_the_fixed_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOSPITAL_INSTANCE_PATH", str(tmp_path / "instance"))
    assert (
        create_app({"TESTING": True, "DATABASE_URL": "sqlite://"}).config["SECRET_KEY"]
        == DEV_SECRET_KEY
    )
    assert not (tmp_path / "instance" / "secret_key").exists()
    assert (
        create_app({"SECRET_KEY": "y" * 40, "DATABASE_URL": "sqlite://"}).config["SECRET_KEY"]
        == "y" * 40
    )


def test_create_app_makes_no_database_connection() -> None:
    # Nothing listens on port 9; a factory that connected would raise here.
    app = create_app({"DATABASE_URL": "postgresql+psycopg://nobody@127.0.0.1:9/none"})
    assert app.config["SQLALCHEMY_DATABASE_URI"].endswith("/none")


def test_default_database_is_a_sqlite_file_in_instance() -> None:
    app = create_app()
    assert re.match(r"sqlite:///.*instance/hospital\.db$", app.config["SQLALCHEMY_DATABASE_URI"])


def test_default_database_does_not_depend_on_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("HOSPITAL_INSTANCE_PATH", raising=False)
    monkeypatch.delenv("HOSPITAL_DATABASE_URL", raising=False)
    settings = {"SECRET_KEY": "z" * 40}
    here = create_app(settings)
    monkeypatch.chdir(tmp_path)
    elsewhere = create_app(settings)
    expected = "sqlite:///" + str(ROOT / "instance" / "hospital.db")
    assert here.config["SQLALCHEMY_DATABASE_URI"] == expected
    assert elsewhere.config["SQLALCHEMY_DATABASE_URI"] == expected
    assert elsewhere.instance_path == str(ROOT / "instance")
    assert not (tmp_path / "instance").exists()


def test_instance_folder_can_be_chosen(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HOSPITAL_DATABASE_URL", raising=False)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOSPITAL_INSTANCE_PATH", "state")  # relative: made absolute once
    app = create_app({"SECRET_KEY": "z" * 40})
    assert app.instance_path == str(tmp_path / "state")
    assert app.config["INSTANCE_PATH"] == str(tmp_path / "state")
    assert app.config["SQLALCHEMY_DATABASE_URI"] == "sqlite:///" + str(
        tmp_path / "state" / "hospital.db"
    )


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        (
            "postgresql+psycopg://hospital:s3cret@db.internal:5432/hospital",
            "postgresql+psycopg://db.internal:5432/hospital",
        ),
        (
            "sqlite:////srv/hospital/instance/hospital.db",
            "sqlite:////srv/hospital/instance/hospital.db",
        ),
    ],
)
def test_database_is_described_without_credentials(url: str, shown: str) -> None:
    assert describe_database(url) == shown


def test_every_setting_is_documented_in_the_readme() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    missing = [key for key in SETTINGS if f"`HOSPITAL_{key}`" not in readme]
    assert not missing, f"document these in the README's configuration table: {missing}"
