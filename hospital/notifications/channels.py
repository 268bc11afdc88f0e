"""Delivery channels: each outside system behind one small protocol, chosen by configuration.

Unset URLs fall back to the log, so a laptop needs nothing installed (and the demo reads
sign-in codes from the log). Production refuses to start with the log channels (config.py); in
development the log shows each message masked: names, numbers and words cut to their first
character, only a one-time code (six digits on their own) and links left readable.
"""

from __future__ import annotations

import logging
import re
import smtplib
import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any, Protocol
from urllib.parse import unquote, urlsplit

import requests

from hospital.notifications.models import Channel
from hospital.patients.identity import mask_phone

log = logging.getLogger("hospital.notifications")

TIMEOUT_SECONDS = 10


class DeliveryError(RuntimeError):
    """The outside system refused or failed to take the message."""


@dataclass(frozen=True)
class OutgoingMessage:
    """What a channel needs to send; a plain value, so sending never touches the database."""

    channel: Channel
    recipient: str
    subject: str
    body: str
    # The same for every attempt at one outbox message, so that a gateway that took a message
    # whose answer was lost (or a dispatcher that died before writing "sent") recognises the
    # retry: the SMS gateway's Idempotency-Key header, the e-mail's Message-ID.
    key: str = ""


class Sender(Protocol):
    def send(self, message: OutgoingMessage) -> None:
        """Hand the message over, or raise."""


def mask_email(address: str) -> str:
    local, _, domain = address.partition("@")
    return (local[:1] + "***@" + domain) if domain else "***"


# A word (Latin letters, or a run of Chinese characters), or a run of digits.
_WORD = re.compile(r"[^\W\d_]+|\d+")
_ONE_TIME_CODE = re.compile(r"\d{6}")
_LINK = re.compile(r"(https?://\S+)")


def mask_text(text: str) -> str:
    """张三明 -> 张**, Zhang -> Z****, 13800138000 -> ***********; a six-digit code stays.

    The log channel cannot tell a patient's name from the words around it, so it masks every
    word; the message's shape, the code a developer signs in with and the links a developer
    follows (ticket, report) stay readable.
    """

    def mask(match: re.Match[str]) -> str:
        word = match.group(0)
        if word.isdigit():
            return word if _ONE_TIME_CODE.fullmatch(word) else "*" * len(word)
        return word[0] + "*" * (len(word) - 1)

    parts = _LINK.split(text)  # odd items are links
    return "".join(part if i % 2 else _WORD.sub(mask, part) for i, part in enumerate(parts))


class LogSender:
    """Write the message, masked, to the log instead of sending it (development only)."""

    def send(self, message: OutgoingMessage) -> None:
        if message.channel == Channel.SMS:
            log.info("SMS to %s: %s", mask_phone(message.recipient), mask_text(message.body))
        else:
            log.info(
                "E-mail to %s: %s\n%s",
                mask_email(message.recipient),
                mask_text(message.subject),
                mask_text(message.body),
            )


@dataclass(frozen=True)
class HttpSmsGateway:
    """POST {"to", "text"} as JSON to an SMS gateway; anything but 2xx is a failure."""

    url: str
    secret: str | None = None
    timeout: float = TIMEOUT_SECONDS

    def send(self, message: OutgoingMessage) -> None:
        headers = {"X-Gateway-Secret": self.secret} if self.secret else {}
        if message.key:
            headers["Idempotency-Key"] = message.key
        try:
            response = requests.post(
                self.url,
                json={"to": message.recipient, "text": message.body},
                headers=headers,
                timeout=self.timeout,
                allow_redirects=False,  # a redirect is not an accepted message
            )
        except requests.RequestException as exc:
            raise DeliveryError(f"SMS gateway unreachable: {exc}") from exc
        if not 200 <= response.status_code < 300:
            raise DeliveryError(
                f"SMS gateway answered HTTP {response.status_code}: {response.text[:200]}"
            )


@dataclass(frozen=True)
class SmtpMailer:
    """Send e-mail through an SMTP relay given as smtp://, smtp+starttls:// or smtps:// URL."""

    url: str
    sender: str
    timeout: float = TIMEOUT_SECONDS

    def send(self, message: OutgoingMessage) -> None:
        mail = EmailMessage()
        mail["From"] = self.sender
        mail["To"] = message.recipient
        mail["Subject"] = message.subject
        mail["Date"] = formatdate(usegmt=True)
        domain = self.sender.rpartition("@")[2] or "localhost"
        mail["Message-ID"] = (
            f"<{message.key}@{domain}>" if message.key else make_msgid(domain=domain)
        )
        mail.set_content(message.body, charset="utf-8")
        parts = urlsplit(self.url)
        scheme = parts.scheme.lower()
        host = parts.hostname or "localhost"
        try:
            if scheme == "smtps":
                client: smtplib.SMTP = smtplib.SMTP_SSL(
                    host,
                    parts.port or 465,
                    timeout=self.timeout,
                    context=ssl.create_default_context(),
                )
            elif scheme in ("smtp", "smtp+starttls"):
                client = smtplib.SMTP(host, parts.port or 25, timeout=self.timeout)
            else:
                raise DeliveryError(f"unsupported SMTP URL scheme {parts.scheme!r}")
            with client:
                if scheme == "smtp+starttls":
                    client.starttls(context=ssl.create_default_context())
                if parts.username:
                    client.login(unquote(parts.username), unquote(parts.password or ""))
                client.send_message(mail)
        except (OSError, smtplib.SMTPException) as exc:
            raise DeliveryError(f"SMTP delivery failed: {exc}") from exc


def senders_from_config(config: Mapping[str, Any]) -> dict[Channel, Sender]:
    """One sender per channel: the configured gateway, else the log."""
    fallback = LogSender()
    sms: Sender = (
        HttpSmsGateway(config["SMS_URL"], config.get("SMS_SECRET"))
        if config.get("SMS_URL")
        else fallback
    )
    email: Sender = (
        SmtpMailer(config["SMTP_URL"], config.get("MAIL_FROM") or "hospital@localhost")
        if config.get("SMTP_URL")
        else fallback
    )
    return {Channel.SMS: sms, Channel.EMAIL: email}
