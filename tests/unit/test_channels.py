"""Delivery channels against local servers: the log, an HTTP SMS gateway and SMTP."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest

from hospital.notifications.channels import (
    DeliveryError,
    HttpSmsGateway,
    LogSender,
    OutgoingMessage,
    SmtpMailer,
    mask_email,
    senders_from_config,
)
from hospital.notifications.models import Channel
from hospital.notifications.service import backoff
from hospital.patients.identity import mask_phone
from tests.support.mail_servers import SmsGateway, SmtpServer, free_port


def message(channel: Channel, recipient: str, body: str, subject: str = "") -> OutgoingMessage:
    return OutgoingMessage(channel, recipient, subject, body)


def test_phone_numbers_are_masked_in_the_log() -> None:
    assert mask_phone("13800138000") == "138****8000"
    assert mask_email("zhang.san@example.com") == "z***@example.com"


def test_log_sender_masks_the_body_but_leaves_sign_in_codes_readable(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="hospital.notifications")
    LogSender().send(message(Channel.SMS, "13800138000", "您的验证码是 123456"))
    assert "SMS to 138****8000: 您***** 123456" in caplog.messages
    assert "13800138000" not in caplog.text


def test_log_sender_masks_names_and_numbers(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="hospital.notifications")
    body = "张三明，您预约了 05-01 09:30 内科 李四医生。ID 110101194803071234. Dear Zhang Sanming"
    LogSender().send(message(Channel.SMS, "13800138000", body))
    LogSender().send(message(Channel.EMAIL, "zhang.san@example.com", body, subject="张三明 报告"))
    for secret in ("三明", "李四", "110101194803071234", "09:30", "Sanming", "zhang.san"):
        assert secret not in caplog.text, secret
    assert "张**" in caplog.text


def test_log_sender_leaves_links_readable_for_development(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="hospital.notifications")
    body = "王秀英的报告已出，请查看：http://127.0.0.1:8000/reports/abc123XYZ"
    LogSender().send(message(Channel.SMS, "13800138000", body))
    assert "王**" in caplog.text and "秀英" not in caplog.text
    assert "http://127.0.0.1:8000/reports/abc123XYZ" in caplog.text


def test_sms_gateway_receives_json_and_the_secret_header() -> None:
    with SmsGateway(secret="gateway-secret") as gateway:
        HttpSmsGateway(gateway.url, "gateway-secret").send(
            message(Channel.SMS, "13800138000", "请到3号诊室就诊")
        )
        (received,) = gateway.delivered
    assert received.body == {"to": "13800138000", "text": "请到3号诊室就诊"}
    assert received.headers["X-Gateway-Secret"] == "gateway-secret"
    assert received.headers["Content-Type"] == "application/json"


@pytest.mark.parametrize("status", [500, 401, 302])
def test_any_answer_but_2xx_is_a_failure(status: int) -> None:
    with SmsGateway() as gateway:
        gateway.fail_next(1, status=status)
        with pytest.raises(DeliveryError, match=str(status)):
            HttpSmsGateway(gateway.url).send(message(Channel.SMS, "13800138000", "x"))


def test_an_unreachable_gateway_is_a_failure() -> None:
    sender = HttpSmsGateway(f"http://127.0.0.1:{free_port()}/sms", timeout=2)
    with pytest.raises(DeliveryError, match="unreachable"):
        sender.send(message(Channel.SMS, "13800138000", "x"))


def test_smtp_server_receives_utf8_chinese_mail_after_login() -> None:
    with SmtpServer(user="mailer", password="p@ss word") as smtp:
        url = f"smtp://mailer:p%40ss%20word@127.0.0.1:{smtp.port}"
        SmtpMailer(url, "hospital@example.org").send(
            message(
                Channel.EMAIL,
                "zhang@example.com",
                "您的检查报告已出，请登录查看。",
                subject="检查报告已出",
            )
        )
        assert smtp.arrived.wait(timeout=10)
        (received,) = smtp.received
    mail = received.message
    assert received.login == "mailer"
    assert received.rcpt_tos == ["zhang@example.com"]
    assert mail["Subject"] == "检查报告已出"
    assert mail["From"] == "hospital@example.org"
    assert mail["To"] == "zhang@example.com"
    assert mail.get_content().strip() == "您的检查报告已出，请登录查看。"
    assert mail.get_content_charset() == "utf-8"


def test_an_unreachable_smtp_server_is_a_failure() -> None:
    sender = SmtpMailer(f"smtp://127.0.0.1:{free_port()}", "hospital@example.org", timeout=2)
    with pytest.raises(DeliveryError, match="SMTP"):
        sender.send(message(Channel.EMAIL, "a@example.com", "body", subject="s"))


def test_configured_urls_choose_the_gateways_and_the_log_is_the_default() -> None:
    default = senders_from_config({"SMS_URL": None, "SMTP_URL": None})
    assert all(isinstance(s, LogSender) for s in default.values())
    configured = senders_from_config(
        {
            "SMS_URL": "http://127.0.0.1:9/sms",
            "SMS_SECRET": "s",
            "SMTP_URL": "smtp://127.0.0.1:25",
            "MAIL_FROM": "h@example.org",
        }
    )
    assert configured[Channel.SMS] == HttpSmsGateway("http://127.0.0.1:9/sms", "s")
    assert configured[Channel.EMAIL] == SmtpMailer("smtp://127.0.0.1:25", "h@example.org")


def test_retries_back_off_exponentially_up_to_an_hour() -> None:
    waits = [backoff(n) for n in range(1, 10)]
    assert waits[:4] == [timedelta(seconds=s) for s in (30, 60, 120, 240)]
    assert waits == sorted(waits)
    assert backoff(8) == timedelta(hours=1)
    assert backoff(1000) == timedelta(hours=1)
