"""Configuration: defaults, then HOSPITAL_* environment variables, then a test override.

Every key is documented in the README's configuration table (a test keeps them in step).
"""

from __future__ import annotations

import contextlib
import os
import secrets
import tempfile
from datetime import timedelta
from typing import Any

from flask import Flask

# Only tests sign with a fixed key; a development start without HOSPITAL_SECRET_KEY generates one.
DEV_SECRET_KEY = "dev-only-secret-change-me"
SECRET_KEY_FILE = "secret_key"
# The vendored copy under hospital/web/static/vendor/ (npm swagger-ui-dist).
SWAGGER_UI_VERSION = "5.35.0"

# key -> (default, one-line description for the README)
SETTINGS: dict[str, tuple[Any, str]] = {
    "ENV": (
        "development",
        "`production` refuses to start without a real secret key, with debug on, with the sandbox payment provider, or with SMS or e-mail written to the log.",
    ),
    "SECRET_KEY": (
        None,
        "Signs session cookies, one-time codes, kiosk confirmations and sandbox notifications. Required in production (a long random value, the same on every instance). Unset elsewhere: a random key generated on first start into `secret_key` (mode 0600) in the instance folder and reused.",
    ),
    "DATABASE_URL": (
        None,
        "SQLAlchemy URL; default a SQLite file `hospital.db` in the instance folder (an absolute path, whatever the working directory). PostgreSQL: `postgresql+psycopg://user:pw@host/db`. `/healthz` and `hospital serve` name the database in use, without credentials.",
    ),
    "INSTANCE_PATH": (
        None,
        "The instance folder (default database, generated secret key), read from the environment only. Default: `instance/` in the project folder (a source checkout), else Flask's `<prefix>/var/hospital-instance`; never the working directory.",
    ),
    "DEBUG": (False, "Flask debug mode (never in production)."),
    "HOSPITAL_CODE": (
        None,
        "Which hospital anonymous pages serve when the database holds several; default the first.",
    ),
    "DEFAULT_LANGUAGE": (
        "zh",
        "Language for visitors who have not chosen one: `zh` (Simplified Chinese) or `en`.",
    ),
    "FAMILY_LIMIT": (
        5,
        "How many family members one account may act for, besides its own profile.",
    ),
    "FAMILY_LOOKUPS_PER_HOUR": (
        10,
        "Family members one account may add, or ask consent codes for, per hour (identity number lookups).",
    ),
    "OTP_TTL_SECONDS": (300, "How long a one-time sign-in code stays valid."),
    "OTP_MAX_ATTEMPTS": (5, "Wrong tries after which a one-time code is locked."),
    "OTP_SENDS_PER_HOUR": (
        5,
        "One-time codes sent to one phone number per hour, across all server instances.",
    ),
    "OTP_RESEND_SECONDS": (60, "Minimum wait between two codes to the same phone."),
    "STAFF_IDLE_MINUTES": (30, "Staff sessions end after this many minutes without a request."),
    "SESSION_DAYS": (
        30,
        "Patient sessions last this many days, across browser restarts (a persistent cookie).",
    ),
    "SESSION_IDLE_DAYS": (
        7,
        "Patient sessions end after this many days without a request.",
    ),
    "RATELIMIT_STORAGE_URI": (
        "memory://",
        "flask-limiter storage for per-address limits; default `HOSPITAL_REDIS_URL` when that is set, else memory (each process counts alone).",
    ),
    "PROXY_HOPS": (
        0,
        "Reverse proxies in front of the instances whose `X-Forwarded-For/-Proto/-Host/-Port` are trusted (werkzeug's ProxyFix). 0: none, the headers are ignored. Behind one HAProxy: 1. Never more than really stand in front: a client could forge the client address the per-address limits count.",
    ),
    "REDIS_URL": (
        None,
        "Redis for state shared by every instance (`redis://host:6379/0`): the per-address rate limits count there. Unreachable: sign-in and code sending answer 503 with Retry-After, other limits let requests through.",
    ),
    "RATELIMIT_ENABLED": (True, "Turn the per-address rate limits on or off."),
    "SIGN_IN_RATE_LIMIT": ("10 per minute", "Sign-in attempts per client address."),
    "SEND_CODE_RATE_LIMIT": ("5 per minute", "One-time code requests per client address."),
    "PASSWORD_FREE_FAILURES": (
        5,
        "Wrong passwords for one account before each further try must wait (across all instances).",
    ),
    "PASSWORD_DELAY_SECONDS": (
        60,
        "First wait after those wrong passwords; it doubles with each further wrong one.",
    ),
    "PASSWORD_MAX_DELAY_SECONDS": (900, "Longest wait between password tries for one account."),
    "SMS_URL": (
        None,
        "HTTP SMS gateway: JSON POST `{to, text}` to this URL, with an `Idempotency-Key` header that stays the same when a message is retried. Unset: SMS are written to the log (development only; production refuses to start), with names and numbers masked.",
    ),
    "SMS_SECRET": (None, "Shared secret sent to the SMS gateway in the `X-Gateway-Secret` header."),
    "SMTP_URL": (
        None,
        "SMTP server for e-mail, `smtp://user:pw@host:port` (`smtps://` for TLS). Unset: mail is written to the log (development only; production refuses to start), masked.",
    ),
    "MAIL_FROM": ("hospital@localhost", "Sender address of e-mail."),
    "OUTBOX_MAX_ATTEMPTS": (8, "Delivery attempts per message before it is marked failed."),
    "OUTBOX_RETRY_SECONDS": (
        30,
        "Wait after a message's first failed delivery; it doubles with each further failure, up to an hour.",
    ),
    "OUTBOX_LEASE_SECONDS": (
        900,
        "How long a dispatcher holds the messages it claimed; a dispatcher that dies hands them back after this.",
    ),
    "PUBLIC_URL": (
        "http://127.0.0.1:8000",
        "The address patients reach the site at; used in links in messages and QR codes.",
    ),
    "LOG_LEVEL": ("INFO", "Logging level."),
    "LOG_FORMAT": (
        "text",
        "`text` lines for a terminal, or `json`: one JSON object a line, and one line per request (request id, endpoint, method, status, duration; never a path, query or personal data), which then replaces gunicorn's access log.",
    ),
    "METRICS_TOKEN": (
        None,
        "Bearer token a Prometheus scraper sends to `/metrics`. Unset: `/metrics` answers only requests from the machine itself (loopback).",
    ),
    "KIOSK_IDLE_SECONDS": (60, "Kiosk: seconds without a touch before the idle warning."),
    "KIOSK_IDLE_WARNING_SECONDS": (
        20,
        "Kiosk: countdown of the idle warning before the screen resets and forgets everything.",
    ),
    "KIOSK_HEARTBEAT_SECONDS": (
        30,
        "Kiosk: how often the screen checks that the server is reachable.",
    ),
    "KIOSK_RETRY_SECONDS": (
        5,
        'Kiosk: retry interval on the "please go to the registration desk" screen.',
    ),
    "KIOSK_REQUEST_TIMEOUT_SECONDS": (
        8,
        "Kiosk: a request slower than this counts as the server being unreachable.",
    ),
    "KIOSK_PAY_POLL_SECONDS": (
        3,
        "Kiosk: how often the walk-in payment screen checks for the payment.",
    ),
    "KIOSK_TICKETS_PER_MINUTE": (30, "Kiosk: tickets one kiosk may issue per minute."),
    "KIOSK_CODES_PER_MINUTE": (6, "Kiosk: one-time codes one kiosk may send per minute."),
    "KIOSK_PRINTS_PER_MINUTE": (30, "Kiosk: slips one kiosk may print per minute."),
    "KIOSK_ID_LOOKUPS_PER_MINUTE": (
        10,
        "Kiosk: identity-number lookups one kiosk may make per minute (stops probing who is a patient).",
    ),
    "KIOSK_PRINTER_TIMEOUT_SECONDS": (3, "Kiosk: network (ESC/POS, port 9100) printer timeout."),
    "CONSULT_RECENT_VISIT_DAYS": (
        30,
        "Consultations: a clinician who saw the patient within these days may be asked.",
    ),
    "CONSULT_DEFAULT_FEE_FEN": (
        2000,
        "Consultations: fee (fen) of a clinician who has not set one.",
    ),
    "CONSULT_DEFAULT_ANSWER_HOURS": (
        24,
        "Consultations: promised answer time (hours) of a clinician who has not set one.",
    ),
    "CONSULT_DEFAULT_DAILY_CAP": (
        20,
        "Consultations: questions a day of a clinician who has not set a cap.",
    ),
    "CONSULT_PAY_MINUTES": (
        30,
        "Consultations: minutes to pay the fee before the question lapses.",
    ),
    "CONSULT_CONVERSATION_HOURS": (
        48,
        "Consultations: hours the conversation stays open after the first answer.",
    ),
    "CONSULT_ATTACHMENT_DIR": (
        "",
        "Consultations: folder of the photos and PDFs patients send (outside the web root); "
        "empty: consult_attachments in the instance folder.",
    ),
    "CONSULT_ATTACHMENT_MAX_BYTES": (
        900_000,
        "Consultations: largest photo or PDF accepted (a request is at most 1 MB in all).",
    ),
    "CONSULT_ATTACHMENTS_MAX": (4, "Consultations: photos or PDFs one consultation may hold."),
    "CONSULT_MAX_FOLLOW_UPS": (
        3,
        "Consultations: follow-up messages the patient may send after the first answer.",
    ),
    "KIOSK_WALK_IN_FEE_CLASS": (
        "general",
        "Kiosk: fee class (billing's registration fees) of a walk-in ticket; no fee: free.",
    ),
    "KIOSK_WALK_IN_PAY_MINUTES": (
        10,
        "Kiosk: minutes a walk-in has to pay its fee before the registration lapses.",
    ),
    "KIOSK_PHONE_SAME_DAY_CAP": (
        20,
        "Same-day numbers a queue gives out from patients' phones each day (paid or being paid).",
    ),
    "KIOSK_CONFIRM_SECONDS": (
        300,
        "Kiosk: how long a phone confirmation at the kiosk stays valid.",
    ),
    "REQUEST_SLOTS": (
        0,
        "Ordinary requests one worker process runs at once (0: no limit); the rest wait their turn. `hospital serve --threads` sets it.",
    ),
    "REQUEST_SLOT_WAIT_SECONDS": (
        30,
        'How long a request waits for a slot before a 503 "busy, try again".',
    ),
    "QUEUE_STREAM_SLOTS": (
        1000,
        "Live event streams (boards, ticket pages, consoles) one worker holds open; beyond it screens poll. `hospital serve --stream-slots` sets it.",
    ),
    "QUEUE_HEARTBEAT_SECONDS": (15.0, "Seconds between heartbeats on live event streams."),
    "QUEUE_UNDO_SECONDS": (
        120,
        "How long a counter's last call, miss, completion or transfer can be undone.",
    ),
    "QUEUE_ETA_TARGET_COVERAGE": (
        0.8,
        "Share of patients the wait range on the ticket page should hold for; each queue's range is calibrated to it from its recent estimates.",
    ),
    "QUEUE_SURVEY_DELAY_MINUTES": (
        30,
        "Minutes after a consultation ends before the satisfaction survey's message goes out (0: at once); the outbox job sends it when due.",
    ),
    "BILLING_PROVIDERS": (
        "sandbox",
        "Payment providers offered, comma-separated: `sandbox`, `alipay`. Production refuses to start with `sandbox` (a patient would approve their own payment).",
    ),
    "BILLING_SANDBOX_WEBHOOK_SECRETS": (
        None,
        "Sandbox notification signing secrets, comma-separated, newest first (default: derived from the secret key).",
    ),
    "BILLING_SANDBOX_MAX_DELAY_S": (
        5,
        "Longest delay before the sandbox provider sends its (sometimes duplicated, sometimes late) notification.",
    ),
    "BILLING_SANDBOX_DUPLICATE_RATE": (
        0.3,
        "Share of sandbox notifications sent twice, as real providers do.",
    ),
    "BILLING_ALIPAY_APP_ID": (
        None,
        "Alipay open-platform app id (with `alipay` in BILLING_PROVIDERS).",
    ),
    "BILLING_ALIPAY_SELLER_ID": (None, "Alipay seller id that notifications must name."),
    "BILLING_ALIPAY_APP_PRIVATE_KEY": (
        None,
        "PEM private key that signs requests to Alipay (RSA2).",
    ),
    "BILLING_ALIPAY_PUBLIC_KEY": (None, "Alipay's PEM public key that verifies its notifications."),
    "BILLING_ALIPAY_GATEWAY": (None, "Alipay gateway URL (default the production gateway)."),
    "BILLING_INSURANCE_COVERAGE": (
        None,
        'Insurance sandbox: covered percent by item category, JSON (e.g. `{"lab": 70}`).',
    ),
    "BILLING_INSURANCE_DEDUCTIBLE_FEN": (1000, "Insurance sandbox: per-visit deductible in fen."),
    "BILLING_INSURANCE_SANDBOX_BALANCE_FEN": (
        50000,
        "Insurance sandbox: opening personal-account balance of a newly activated person, in fen.",
    ),
    "BILLING_RECONCILE_AFTER_MINUTES": (
        5,
        "Payments pending longer than this are queried at the provider and settled.",
    ),
    "BILLING_LATE_CANCEL_REFUND_PERCENT": (
        50,
        "Refund share when a patient cancels after the cut-off.",
    ),
    "WAITLIST_CLAIM_MINUTES": (
        15,
        "Waitlist: minutes a patient has to claim an offered place (shorter close to the start).",
    ),
    "WAITLIST_MIN_CLAIM_MINUTES": (
        5,
        "Waitlist: shortest claim window; a place whose booking cut-off is closer is not offered.",
    ),
    "WAITLIST_QUIET_HOURS": (
        "22:00-07:00",
        "Waitlist: local hours without offers; places freed then are offered when they end, the window starting then.",
    ),
    "WAITLIST_MAX_ENTRIES": (
        3,
        "Waitlist: active waitlist entries one patient may hold.",
    ),
    "WAITLIST_MAX_LAPSES": (
        3,
        "Waitlist: offers a waiter may let lapse before leaving the list.",
    ),
    "WAITLIST_KEEP_OR_RELEASE_HOURS": (
        48,
        "Hours before a booking when the patient is asked to keep or release it (0: never).",
    ),
}


def instance_folder(override: dict[str, Any] | None = None) -> str | None:
    """The instance folder as an absolute path, never derived from the working directory.

    From the test override's INSTANCE_PATH, else HOSPITAL_INSTANCE_PATH, else `instance/` in the
    project folder when running from a source checkout; None lets Flask choose
    (`<prefix>/var/hospital-instance` for an installed package).
    """
    chosen = (override or {}).get("INSTANCE_PATH") or os.environ.get("HOSPITAL_INSTANCE_PATH")
    if chosen:
        return os.path.abspath(os.path.expanduser(chosen))
    project = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    if os.path.exists(os.path.join(project, "setup.cfg")):
        return os.path.join(project, "instance")
    return None


def describe_database(url: str) -> str:
    """The database URL without user name or password, for /healthz and start-up messages."""
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    return parsed._replace(username=None, password=None).render_as_string(hide_password=True)


def load_config(app: Flask, override: dict[str, Any] | None) -> None:
    for key, (default, _help) in SETTINGS.items():
        app.config[key] = default
    app.config.from_prefixed_env("HOSPITAL")
    if override:
        app.config.update(override)
    app.config["INSTANCE_PATH"] = app.instance_path
    if not app.config["SECRET_KEY"]:
        app.config["SECRET_KEY"] = _default_secret_key(app)

    url = app.config["DATABASE_URL"]
    if not url:
        os.makedirs(app.instance_path, exist_ok=True)
        url = "sqlite:///" + os.path.join(app.instance_path, "hospital.db")
    app.config["SQLALCHEMY_DATABASE_URI"] = url
    engine_options: dict[str, Any] = {"pool_pre_ping": True}
    if url.startswith("postgresql"):
        engine_options.update(pool_size=10, max_overflow=20)
    app.config.setdefault("SQLALCHEMY_ENGINE_OPTIONS", engine_options)

    app.config.update(
        MAX_CONTENT_LENGTH=1024 * 1024,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_NAME="hospital_session",
        SESSION_COOKIE_SECURE=app.config["ENV"] == "production",
        REMEMBER_COOKIE_DURATION=0,
        # Only a patient's session is permanent (hospital/accounts/web_session.py:start); the
        # server-side session ends it earlier on sign-out, idleness or SESSION_DAYS.
        PERMANENT_SESSION_LIFETIME=timedelta(days=int(app.config["SESSION_DAYS"])),
        API_TITLE="Hospital registration and queue API",
        API_VERSION="v1",
        API_SPEC_OPTIONS={
            "info": {
                "description": "FHIR R4 scheduling: [/fhir/r4/metadata](/fhir/r4/metadata). "
                "Text never contains the NUL character (U+0000): a query, form or JSON body "
                "with one is refused (400 `bad_request`)."
            }
        },
        OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX="/api",
        OPENAPI_JSON_PATH="openapi.json",
        # Vendored (served by the web blueprint at /assets/), never a CDN: intranets block them.
        OPENAPI_SWAGGER_UI_PATH="docs",
        OPENAPI_SWAGGER_UI_URL=f"/assets/vendor/swagger-ui-{SWAGGER_UI_VERSION}/",
        # No badge from the online validator (swagger.io) either.
        OPENAPI_SWAGGER_UI_CONFIG={"validatorUrl": None},
        BABEL_DEFAULT_LOCALE=app.config["DEFAULT_LANGUAGE"],
        BABEL_DEFAULT_TIMEZONE="UTC",
        RATELIMIT_HEADERS_ENABLED=True,
        WTF_CSRF_TIME_LIMIT=None,
    )
    from hospital.rate_limits import configure as configure_rate_limits

    configure_rate_limits(app)
    app.debug = bool(app.config["DEBUG"])
    validate(app)


class ConfigError(RuntimeError):
    pass


def _default_secret_key(app: Flask) -> str | None:
    """The fixed key in tests; in development a random key kept in the instance folder.

    Production gets None here and refuses to start in validate(): several instances must share
    one key, which only the operator can give them.
    """
    if app.config.get("TESTING"):
        return DEV_SECRET_KEY
    if app.config["ENV"] == "production":
        return None
    return instance_secret_key(app.instance_path)


def instance_secret_key(instance_path: str) -> str:
    """Read instance/secret_key, creating it (mode 0600) with a random key on first use.

    Web workers and the scheduler may start at once: the key is written to a private temporary
    file and linked into place, so every process reads the one key that won.
    """
    path = os.path.join(instance_path, SECRET_KEY_FILE)
    if not os.path.exists(path):
        os.makedirs(instance_path, exist_ok=True)
        fd, temporary = tempfile.mkstemp(dir=instance_path, prefix=".secret_key.")
        try:
            with os.fdopen(fd, "w", encoding="ascii") as handle:
                handle.write(secrets.token_urlsafe(48))
            os.chmod(temporary, 0o600)
            with contextlib.suppress(FileExistsError):
                os.link(temporary, path)
        finally:
            os.unlink(temporary)
    with open(path, encoding="ascii") as handle:
        key = handle.read().strip()
    if len(key) < 32:
        raise ConfigError(f"{path} holds no usable secret key: delete it to have a new one made")
    return key


def validate(app: Flask) -> None:
    if app.config["LOG_FORMAT"] not in ("text", "json"):
        raise ConfigError("HOSPITAL_LOG_FORMAT must be 'text' or 'json'")
    if app.config["DEFAULT_LANGUAGE"] not in ("zh", "en"):
        raise ConfigError("HOSPITAL_DEFAULT_LANGUAGE must be 'zh' or 'en'")
    try:
        coverage = float(app.config["QUEUE_ETA_TARGET_COVERAGE"])
    except (TypeError, ValueError):
        coverage = -1.0
    if not 0.5 <= coverage <= 0.99:
        raise ConfigError("HOSPITAL_QUEUE_ETA_TARGET_COVERAGE must be a share between 0.5 and 0.99")
    app.config["QUEUE_ETA_TARGET_COVERAGE"] = coverage
    if app.config["ENV"] == "production":
        if (
            app.config["SECRET_KEY"] in (DEV_SECRET_KEY, "", None)
            or len(str(app.config["SECRET_KEY"])) < 32
        ):
            raise ConfigError(
                "HOSPITAL_SECRET_KEY must be set to a random value of at least 32 characters in production"
            )
        if app.debug:
            raise ConfigError("HOSPITAL_DEBUG must be off in production")
        # The same reading as billing's registry: empty means the default, the sandbox.
        providers = str(app.config["BILLING_PROVIDERS"] or "sandbox").split(",")
        if "sandbox" in (name.strip() for name in providers):
            raise ConfigError(
                "HOSPITAL_BILLING_PROVIDERS includes 'sandbox' (the default), which lets a patient "
                "approve their own payment: set it to the real providers (e.g. 'alipay') in production"
            )
        # The log channels write message bodies (names, doctors, times, sign-in codes) to the log.
        if not app.config["SMS_URL"]:
            raise ConfigError(
                "HOSPITAL_SMS_URL must be set in production: without an SMS gateway, messages and "
                "sign-in codes would be written to the log"
            )
        if not app.config["SMTP_URL"]:
            raise ConfigError(
                "HOSPITAL_SMTP_URL must be set in production: without an SMTP server, e-mail "
                "would be written to the log"
            )
