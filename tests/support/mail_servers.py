"""Local stand-ins for the outside world: an SMTP server (aiosmtpd) and an HTTP SMS gateway.

Both listen on 127.0.0.1 on a free port, record what they receive and are context managers:

    with SmtpServer() as smtp:             # smtp.url -> "smtp://127.0.0.1:PORT"
        ...                                # smtp.messages: list of email.message.EmailMessage
    with SmsGateway(secret="s3") as sms:   # sms.url -> "http://127.0.0.1:PORT/sms"
        sms.fail_next(2)                   # answer the next two requests with HTTP 500
        ...                                # sms.delivered: the requests answered with 2xx
"""

from __future__ import annotations

import email
import email.policy
import json
import socket
import threading
from dataclasses import dataclass, field
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


# ---- SMTP ---------------------------------------------------------------------------------


@dataclass
class ReceivedMail:
    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage
    login: str | None  # the user the client signed in as, if it did


class _Recorder:
    def __init__(self, server: SmtpServer) -> None:
        self.server = server

    async def handle_DATA(self, _server: Any, session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        login = session.auth_data.login.decode() if session.authenticated else None
        with self.server.lock:
            self.server.received.append(
                ReceivedMail(envelope.mail_from, list(envelope.rcpt_tos), message, login)  # type: ignore[arg-type]
            )
        self.server.arrived.set()
        return "250 Message accepted for delivery"


class SmtpServer:
    """A real SMTP server in a background thread; optionally requires AUTH with user/password."""

    def __init__(self, *, user: str | None = None, password: str | None = None) -> None:
        self.user = user
        self.password = password
        self.port = free_port()
        self.lock = threading.Lock()
        self.arrived = threading.Event()
        self.received: list[ReceivedMail] = []
        kwargs: dict[str, Any] = {}
        if user is not None:
            # AUTH is offered but not required: requiring it without TLS makes aiosmtpd warn.
            # `ReceivedMail.login` tells whether the client signed in.
            kwargs.update(authenticator=self._authenticate, auth_require_tls=False)
        self._controller = Controller(
            _Recorder(self), hostname="127.0.0.1", port=self.port, **kwargs
        )

    def _authenticate(
        self, _server: Any, _session: Any, _envelope: Any, _mechanism: str, data: Any
    ) -> AuthResult:
        ok = (
            isinstance(data, LoginPassword)
            and data.login.decode() == self.user
            and data.password.decode() == self.password
        )
        return AuthResult(success=ok, auth_data=data)

    @property
    def url(self) -> str:
        credentials = f"{self.user}:{self.password}@" if self.user is not None else ""
        return f"smtp://{credentials}127.0.0.1:{self.port}"

    @property
    def messages(self) -> list[EmailMessage]:
        with self.lock:
            return [r.message for r in self.received]

    def __enter__(self) -> SmtpServer:
        self._controller.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._controller.stop()


# ---- SMS gateway --------------------------------------------------------------------------


@dataclass
class SmsRequest:
    path: str
    headers: dict[str, str]
    body: Any  # the decoded JSON, or the raw text if it was not JSON
    status: int


@dataclass
class _GatewayState:
    secret: str | None
    lock: threading.Lock = field(default_factory=threading.Lock)
    failures_left: int = 0
    failure_status: int = 500
    requests: list[SmsRequest] = field(default_factory=list)


class _GatewayHandler(BaseHTTPRequestHandler):
    state: _GatewayState  # set on the per-server subclass

    def do_POST(self) -> None:
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        try:
            body: Any = json.loads(raw)
        except ValueError:
            body = raw.decode("utf-8", "replace")
        state = self.state
        with state.lock:
            if state.failures_left > 0:
                state.failures_left -= 1
                status = state.failure_status
            elif state.secret is not None and self.headers.get("X-Gateway-Secret") != state.secret:
                status = 401
            else:
                status = 200
            state.requests.append(SmsRequest(self.path, dict(self.headers), body, status))
        reply = json.dumps({"ok": status == 200}).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)

    def log_message(self, *_args: Any) -> None:  # keep test output quiet
        pass


class SmsGateway:
    """An HTTP SMS gateway: answers 200 to well-formed requests with the right secret."""

    def __init__(self, *, secret: str | None = None) -> None:
        self.state = _GatewayState(secret=secret)
        handler = type("Handler", (_GatewayHandler,), {"state": self.state})
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/sms"

    def fail_next(self, count: int, *, status: int = 500) -> None:
        with self.state.lock:
            self.state.failures_left = count
            self.state.failure_status = status

    @property
    def requests(self) -> list[SmsRequest]:
        with self.state.lock:
            return list(self.state.requests)

    @property
    def delivered(self) -> list[SmsRequest]:
        """The requests the gateway accepted (answered with 2xx)."""
        return [r for r in self.requests if 200 <= r.status < 300]

    def __enter__(self) -> SmsGateway:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)
