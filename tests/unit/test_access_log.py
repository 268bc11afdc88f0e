"""The access log of `hospital serve` keeps tokens and patients' identifiers out of its URLs."""

from __future__ import annotations

import logging
from datetime import timedelta
from types import SimpleNamespace

import pytest
from gunicorn.config import Config

from hospital.cli import RedactingAccessLogger, redact_url, server_settings

TOKEN = "Xk3v9QmZ_7pLr2TbWc8N"


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        (f"/q/{TOKEN}", "/q/REDACTED"),
        (f"/q/{TOKEN}?lang=en", "/q/REDACTED?lang=en"),
        (f"/api/v1/queueing/tickets/{TOKEN}/events", "/api/v1/queueing/tickets/REDACTED/events"),
        (f"/api/v1/kiosk/tickets/{TOKEN}/ticket.pdf", "/api/v1/kiosk/tickets/REDACTED/ticket.pdf"),
        (f"/billing/verify/{TOKEN}", "/billing/verify/REDACTED"),
        ("/reports/verify/AB12CD34", "/reports/verify/REDACTED"),
        ("/reports/R2024000123/pdf", "/reports/REDACTED/pdf"),
        ("/api/v1/reports/R2024000123", "/api/v1/reports/REDACTED"),
        ("/api/v1/kiosk/reports/R2024000123/pdf", "/api/v1/kiosk/reports/REDACTED/pdf"),
        ("/queueing/desk?token=abc&lang=zh", "/queueing/desk?token=REDACTED&lang=zh"),
        ("/queueing/desk?mrn=MRN000123", "/queueing/desk?mrn=REDACTED"),
        ("/x?id_number=110101194803071234", "/x?id_number=REDACTED"),
        ("/queueing/desk?ticket=abc", "/queueing/desk?ticket=REDACTED"),
        (f"/billing/sandbox/checkout/{TOKEN}", "/billing/sandbox/checkout/REDACTED"),
        # Nothing secret: left alone.
        ("/reports/statistics?start=2024-05-01", "/reports/statistics?start=2024-05-01"),
        ("/reports/lab/new", "/reports/lab/new"),
        ("/api/v1/queueing/board?points=1,2,3", "/api/v1/queueing/board?points=1,2,3"),
        ("/book/sessions/42", "/book/sessions/42"),
        (
            "/assets/vendor/swagger-ui-5.35.0/swagger-ui.css",
            "/assets/vendor/swagger-ui-5.35.0/swagger-ui.css",
        ),
    ],
)
def test_redact_url(target: str, expected: str) -> None:
    assert redact_url(target) == expected


def test_hospital_serve_logs_access_through_the_redacting_logger(
    caplog: pytest.LogCaptureFixture,
) -> None:
    options, _env = server_settings(bind="127.0.0.1:0", workers=1, threads=1, stream_slots=1)
    config = Config()
    for key, value in options.items():
        config.set(key, value)
    assert config.logger_class is RedactingAccessLogger

    logger = RedactingAccessLogger(config)
    environ = {
        "REQUEST_METHOD": "GET",
        "RAW_URI": f"/q/{TOKEN}?mrn=MRN000123",
        "PATH_INFO": f"/q/{TOKEN}",
        "QUERY_STRING": "mrn=MRN000123",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "HTTP_REFERER": f"http://hospital.test/q/{TOKEN}",
    }
    response = SimpleNamespace(status="200 OK", sent=10, headers=[])
    request = SimpleNamespace(headers=[("REFERER", f"http://hospital.test/q/{TOKEN}")])
    caplog.set_level(logging.INFO, logger="gunicorn.access")
    logger.access_log.propagate = True
    logger.access(response, request, environ, timedelta(milliseconds=3))
    assert caplog.text
    assert TOKEN not in caplog.text and "MRN000123" not in caplog.text
    assert "/q/REDACTED?mrn=REDACTED" in caplog.text
