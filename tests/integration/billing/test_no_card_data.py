"""Card data never enters our system: no card fields in templates, tables or logs."""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from hospital.billing import jobs
from hospital.db import db, utcnow
from tests.support.auth import sign_in
from tests.support.billing_factories import client_transport, create_visit_order

ROOT = Path(__file__).resolve().parents[3]
CARD_FIELD = re.compile(
    r"<(input|select|textarea)\b[^>]*\b(name|id|autocomplete)\s*=\s*[\"'][^\"']*"
    r"(card|cc-|cvv|cvc|\bpan\b|expir|银行卡|卡号)",
    re.IGNORECASE,
)
CARD_COLUMN = re.compile(r"(^|_)(card|cards|cvv|cvc|pan|cc|iban)(_|$)", re.IGNORECASE)


def luhn_numbers(text: str) -> list[str]:
    """Digit runs of card length that pass the Luhn check."""
    found = []
    for run in re.findall(r"(?<!\d)\d{13,19}(?!\d)", text):
        digits = [int(d) for d in run][::-1]
        total = sum(
            d if i % 2 == 0 else (d * 2 - 9 if d * 2 > 9 else d * 2) for i, d in enumerate(digits)
        )
        if total % 10 == 0:
            found.append(run)
    return found


def test_no_template_has_a_card_field() -> None:
    offenders = []
    for package in ("hospital", "scheduling", "queueing", "reports", "kiosk"):
        for path in (ROOT / package).rglob("templates/**/*.html"):
            if CARD_FIELD.search(path.read_text(encoding="utf-8")):
                offenders.append(str(path.relative_to(ROOT)))
    assert offenders == []


def test_no_table_has_a_card_column(app: Any) -> None:
    columns = [
        f"{table.name}.{column.name}"
        for table in db.metadata.sorted_tables
        for column in table.columns
        if CARD_COLUMN.search(column.name)
    ]
    assert columns == []


def test_the_payment_flow_logs_no_card_data(
    client: Any,
    hospital: Any,
    create_account: Any,
    create_patient: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    account = create_account(hospital)
    patient = create_patient(hospital, account=account)
    order = create_visit_order(hospital, patient, now=utcnow())
    sign_in(client, account)
    started = client.post(f"/billing/orders/{order.id}/pay", data={"provider": "sandbox"})
    pages = [client.get(f"/billing/orders/{order.id}/pay").get_data(as_text=True)]
    checkout = urlsplit(started.headers["Location"]).path
    pages.append(client.get(checkout).get_data(as_text=True))
    client.post(checkout, data={"outcome": "success"})
    jobs.deliver_sandbox_notifications(now=utcnow(), transport=client_transport(client))
    logs = caplog.text
    assert "card" not in logs.lower()
    assert luhn_numbers(logs) == []
    for page in pages:
        assert not CARD_FIELD.search(page)


def test_the_luhn_detector_finds_a_card_number() -> None:
    assert luhn_numbers("paid with 4111111111111111 today") == ["4111111111111111"]
