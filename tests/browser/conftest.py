"""Browser tests: the real application on a live server, driven through the system Chromium.

The server runs `create_app` on its own SQLite file in a thread on 127.0.0.1 (CSRF on, as in
production). Playwright cannot download its own browser here, so it launches /usr/bin/chromium.
Without it the tests are skipped, unless HOSPITAL_REQUIRE_BROWSER=1 (CI), where they fail.
"""

from __future__ import annotations

import logging
import os
import re
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import pytest
from flask import Flask
from werkzeug.serving import BaseWSGIServer, make_server

from hospital.db import db, utcnow
from tests.conftest import TEST_CONFIG
from tests.support import factories

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
REQUIRE_BROWSER = os.environ.get("HOSPITAL_REQUIRE_BROWSER") == "1"
NOTIFICATIONS_LOGGER = "hospital.notifications"
# "SMS to 138****0001: <body>", written by the log channel when the outbox is delivered.
SMS_LINE = re.compile(r"^SMS to (?P<to>\S+): (?P<body>.*)$", re.S)
# Chromium's own pages and resources, served by the browser itself, not by another host: its PDF
# viewer (chrome-extension:) loads styles and scripts from chrome://resources while it starts.
BROWSER_OWN = ("chrome:", "chrome-extension:")


class SmsLog(logging.Handler):
    """Keep the text messages the log channel writes."""

    def __init__(self) -> None:
        super().__init__(level=logging.INFO)
        self.messages: list[tuple[str, str]] = []
        self._guard = threading.Lock()

    def emit(self, record: logging.LogRecord) -> None:
        found = SMS_LINE.match(record.getMessage())
        if found:
            with self._guard:
                self.messages.append((found["to"], found["body"]))


@dataclass
class LiveServer:
    app: Flask
    url: str
    sms: SmsLog
    hospital_id: int
    seeded: dict[str, Any] = field(default_factory=dict)

    def deliver_messages(self) -> None:
        """Run the outbox delivery job once, as the scheduler would."""
        from hospital.notifications.service import deliver_due
        from hospital.unit_of_work import unit_of_work

        with self.app.app_context(), unit_of_work():
            deliver_due(now=utcnow())

    def sign_in_code(self, phone: str) -> str:
        """The latest sign-in code texted to phone, read from the log channel."""
        self.deliver_messages()
        masked = phone[:3] + "*" * (len(phone) - 7) + phone[-4:]
        for to, body in reversed(self.sms.messages):
            code = re.search(r"(?<!\d)(\d{6})(?!\d)", body)
            if to == masked and code:
                return code.group(1)
        raise AssertionError(f"no sign-in code for {masked} in the log: {self.sms.messages}")


def _require_chromium() -> None:
    if os.path.exists(CHROMIUM):
        return
    message = f"browser tests need the system Chromium at {CHROMIUM} (Debian package chromium)"
    if REQUIRE_BROWSER:
        pytest.fail(message + " (HOSPITAL_REQUIRE_BROWSER=1)")
    pytest.skip(message)


@pytest.fixture(scope="session")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    _require_chromium()
    from hospital.app import create_app

    database = tmp_path_factory.mktemp("browser") / "browser.db"
    app = create_app(
        {
            **TEST_CONFIG,
            "DATABASE_URL": f"sqlite:///{database}",
            "WTF_CSRF_ENABLED": True,
            # Real waits between codes, so the page shows its countdown.
            "OTP_RESEND_SECONDS": 60,
            # A kiosk request slower than this shows the offline screen. On a loaded machine a
            # request waiting for SQLite's write lock (held by a test's own transaction, e.g. a
            # payment notification) can pass the production 8 s; SQLite itself waits up to 30 s.
            "KIOSK_REQUEST_TIMEOUT_SECONDS": 30,
        }
    )
    with app.app_context():
        db.create_all()
        # A zone where it is daytime now: "today's clinic" must have open slots at any CI hour.
        hospital = factories.create_hospital(
            code="DEMO",
            name_zh="示范人民医院",
            name_en="Demo People's Hospital",
            timezone=factories.daytime_zone(utcnow()),
        )
        db.session.commit()
        hospital_id = hospital.id

    sms = SmsLog()
    logger = logging.getLogger(NOTIFICATIONS_LOGGER)
    level = logger.level
    logger.setLevel(logging.INFO)
    logger.addHandler(sms)

    server: BaseWSGIServer = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    try:
        yield LiveServer(
            app=app, url=f"http://127.0.0.1:{server.server_port}", sms=sms, hospital_id=hospital_id
        )
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()
        logger.removeHandler(sms)
        logger.setLevel(level)
        with app.app_context():
            db.engine.dispose()


@pytest.fixture(scope="session")
def browser(live_server: LiveServer) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@dataclass
class BrowserProblems:
    """Console errors, page errors, failed and off-site requests seen during one test."""

    found: list[str] = field(default_factory=list)
    allowed: list[re.Pattern[str]] = field(default_factory=list)

    def allow(self, pattern: str) -> None:
        """Accept problems matching pattern (e.g. the console line for a deliberate 4xx page)."""
        self.allowed.append(re.compile(pattern))

    def unexpected(self) -> list[str]:
        return [p for p in self.found if not any(a.search(p) for a in self.allowed)]


@pytest.fixture
def browser_problems() -> BrowserProblems:
    return BrowserProblems()


@pytest.fixture
def page(browser: Any, live_server: LiveServer, browser_problems: BrowserProblems) -> Iterator[Any]:
    """A fresh phone-sized browser tab; the test fails on any console error or failed request."""
    context = browser.new_context(
        base_url=live_server.url,
        viewport={"width": 390, "height": 844},
        locale="zh-CN",
        device_scale_factor=1,
    )
    context.set_default_timeout(10_000)
    own_host = urlsplit(live_server.url).netloc

    def only_our_server(route: Any) -> None:
        url = route.request.url
        if urlsplit(url).netloc == own_host or url.startswith(("data:", "blob:", *BROWSER_OWN)):
            route.continue_()
        else:
            browser_problems.found.append(f"off-site request blocked: {url}")
            route.abort()

    context.route("**/*", only_our_server)
    tab = context.new_page()
    report: Callable[[str], None] = browser_problems.found.append
    tab.on(
        "console", lambda m: report(f"console {m.type}: {m.text}") if m.type == "error" else None
    )
    tab.on("pageerror", lambda exc: report(f"page error: {exc}"))
    # ERR_ABORTED is a load cut short by the next navigation (e.g. the icon while a form posts).
    tab.on(
        "requestfailed",
        lambda r: (
            report(f"request failed: {r.url} ({r.failure})")
            if "ERR_ABORTED" not in (r.failure or "") and not r.url.startswith(BROWSER_OWN)
            else None
        ),
    )
    tab.on(
        "response",
        lambda r: (
            report(f"HTTP {r.status} for {r.url}")
            if r.status >= 400 and r.request.resource_type != "document"
            else None
        ),
    )
    try:
        yield tab
    finally:
        context.close()
    problems = browser_problems.unexpected()
    if problems:
        pytest.fail("the browser reported problems:\n" + "\n".join(problems))
