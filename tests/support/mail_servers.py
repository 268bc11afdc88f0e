"""Local stand-ins for the outside world: an SMTP server (aiosmtpd) and an HTTP SMS gateway.

Both listen on 127.0.0.1 on a free port, record what they receive and are context managers:

    with SmtpServer() as smtp:             # smtp.url -> "smtp://127.0.0.1:PORT"
        ...                                # smtp.messages: list of email.message.EmailMessage
    with SmsGateway(secret="s3") as sms:   # sms.url -> "http://127.0.0.1:PORT/sms"
        sms.fail_next(2)                   # answer the next two requests with HTTP 500
        ...                                # sms.delivered: the requests answered with 2xx
                                           # (once per Idempotency-Key, as a real gateway)

Both can be taken down and brought back on the same port (`down()`, `up()`), as an outage.
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
        self._kwargs = kwargs
        self._controller: Controller | None = None

    def _new_controller(self) -> Controller:
        return Controller(_Recorder(self), hostname="127.0.0.1", port=self.port, **self._kwargs)

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

    def up(self) -> None:
        """Listen (again, on the same port)."""
        if self._controller is None:
            self._controller = self._new_controller()
            self._controller.start()

    def down(self) -> None:
        """Stop listening: clients get "connection refused"."""
        if self._controller is not None:
            self._controller.stop()
            self._controller.loop.close()
            self._controller = None

    def __enter__(self) -> SmtpServer:
        self.up()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.down()


# ---- SMS gateway --------------------------------------------------------------------------


@dataclass
class SmsRequest:
    path: str
    headers: dict[str, str]
    body: Any  # the decoded JSON, or the raw text if it was not JSON
    status: int
    duplicate: bool = False  # accepted, but its Idempotency-Key was already delivered

    @property
    def key(self) -> str | None:
        return self.headers.get("Idempotency-Key")


@dataclass
class _GatewayState:
    secret: str | None
    lock: threading.Lock = field(default_factory=threading.Lock)
    failures_left: int = 0
    failure_status: int = 500
    replies_to_drop: int = 0
    hold: threading.Event | None = None
    requests: list[SmsRequest] = field(default_factory=list)
    keys: set[str] = field(default_factory=set)


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
            key = self.headers.get("Idempotency-Key")
            duplicate = status == 200 and key is not None and key in state.keys
            if status == 200 and key is not None:
                state.keys.add(key)
            state.requests.append(
                SmsRequest(self.path, dict(self.headers), body, status, duplicate)
            )
            drop = status == 200 and state.replies_to_drop > 0
            if drop:
                state.replies_to_drop -= 1
            hold = state.hold
        if hold is not None:
            hold.wait(timeout=120)  # the message is taken; its answer waits (a test's pause)
        if drop:  # taken, but the answer is lost on the way back
            self.close_connection = True
            return
        reply = json.dumps({"ok": status == 200, "duplicate": duplicate}).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(reply)))
        try:
            self.end_headers()
            self.wfile.write(reply)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the sender died while its message was held: the message is still taken

    def log_message(self, *_args: Any) -> None:  # keep test output quiet
        pass


class SmsGateway:
    """An HTTP SMS gateway: answers 200 to well-formed requests with the right secret."""

    def __init__(self, *, secret: str | None = None) -> None:
        self.state = _GatewayState(secret=secret)
        self.port = free_port()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/sms"

    def up(self) -> None:
        """Listen (again, on the same port); what it received before is kept."""
        if self._server is not None:
            return
        handler = type("Handler", (_GatewayHandler,), {"state": self.state})
        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()

    def down(self) -> None:
        """Stop listening: clients get "connection refused"."""
        if self._server is None or self._thread is None:
            return
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)
        self._server = self._thread = None

    def drop_replies(self, count: int) -> None:
        """Take the next count messages but close the connection instead of answering."""
        with self.state.lock:
            self.state.replies_to_drop = count

    def hold_replies(self) -> threading.Event:
        """Take messages but answer none until the returned event is set."""
        with self.state.lock:
            self.state.hold = threading.Event()
            return self.state.hold

    def release_replies(self) -> None:
        with self.state.lock:
            hold, self.state.hold = self.state.hold, None
        if hold is not None:
            hold.set()

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
        """The messages the gateway passed on: accepted, and not a repeat of a delivered key."""
        return [r for r in self.requests if 200 <= r.status < 300 and not r.duplicate]

    def __enter__(self) -> SmsGateway:
        self.up()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.release_replies()
        self.down()
