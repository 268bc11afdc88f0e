"""The `hospital` command: database, demo data, web server, scheduler and operator tasks."""

from __future__ import annotations

import errno
import logging
import re
import signal
import socket
import subprocess
import sys
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl, urlencode

import click
from flask import Flask, current_app
from flask.cli import FlaskGroup, with_appcontext
from gunicorn.glogging import Logger

log = logging.getLogger("hospital.cli")


def _create_app() -> Flask:
    from hospital.app import create_app

    return create_app()


@click.group(cls=FlaskGroup, create_app=_create_app, add_version_option=False, load_dotenv=False)
def cli() -> None:
    """Hospital registration and queue management."""


def main() -> None:
    cli(prog_name="hospital")


def register_commands(app: Flask) -> None:
    from hospital.accounts.commands import create_device, create_staff, disable_account
    from hospital.backup import register as register_backup
    from hospital.demo import seed_demo
    from hospital.web.catalogues import i18n_update

    for command in (
        serve,
        scheduler,
        create_staff,
        disable_account,
        create_device,
        seed_demo,
        i18n_update,
    ):
        app.cli.add_command(command)
    register_backup()


def server_settings(
    *, bind: str, workers: int, threads: int, stream_slots: int
) -> tuple[dict[str, Any], dict[str, str]]:
    """The gunicorn options and environment `hospital serve` runs with (benchmarks reuse them).

    A Server-Sent Events stream holds a gthread thread for its lifetime, so each worker gets
    `threads` threads for requests plus `stream_slots` for streams (threads start lazily; an idle
    stream only waits on an Event). HOSPITAL_REQUEST_SLOTS then lets at most `threads` ordinary
    requests run at once per worker, in arrival order, so a burst never puts more requests on the
    database pool than it holds; the streams cap themselves at QUEUE_STREAM_SLOTS and degrade to
    polling.

    Each worker listens on its own socket (SO_REUSEPORT) and the kernel spreads new connections
    evenly over them. With one shared socket, whichever worker wakes first takes a whole burst of
    connections; kept alive, they stay with it, and its requests wait about twice as long as the
    other worker's (measured: bench/booking_rush.py's p99 went from about 1.3 s to 0.8 s).
    """
    options = {
        "bind": bind,
        "workers": workers,
        "threads": threads + stream_slots,
        "worker_connections": threads + stream_slots + 100,
        "worker_class": "gthread",
        "reuse_port": True,
        "timeout": 60,
        "graceful_timeout": 10,
        "accesslog": "-",
        "logger_class": "hospital.cli.RedactingAccessLogger",
        "forwarded_allow_ips": "127.0.0.1",
    }
    environment = {
        "HOSPITAL_QUEUE_STREAM_SLOTS": str(stream_slots),
        "HOSPITAL_REQUEST_SLOTS": str(threads),
    }
    return options, environment


REDACTED = "REDACTED"
# A path segment after one of these is a bearer secret or a patient's document: /q/<ticket
# token>, /tickets/<token>, /billing/verify/<receipt token>, /reports/verify/<code>.
_SECRET_AFTER = re.compile(r"(/(?:q|tickets|verify)/)[^/?#]+")
# /reports/<public id> (pages, API, kiosk): the report's id, never one of the fixed pages.
_REPORT_ID = re.compile(r"(/reports/)(?!(?:lab|statistics|test-types|verify)(?:[/?#]|$))[^/?#]+")
# Any other long random-looking segment (letters and digits mixed, 16+ characters).
_TOKEN_LIKE = re.compile(r"(?<=/)(?=[A-Za-z0-9_-]*\d)(?=[A-Za-z0-9_-]*[A-Za-z])[A-Za-z0-9_-]{16,}")
# Query parameters that carry a secret or identify a patient.
SECRET_PARAMETERS = frozenset(
    {
        "token",
        "ticket",
        "code",
        "confirmation",
        "mrn",
        "record",
        "record_number",
        "medical_record_number",
        "id_number",
        "phone",
        "name",
    }
)


def redact_url(target: str) -> str:
    """A request target for the access log: tokens in the path and personal query values out."""
    path, sep, query = target.partition("?")
    path = _SECRET_AFTER.sub(rf"\g<1>{REDACTED}", path)
    path = _REPORT_ID.sub(rf"\g<1>{REDACTED}", path)
    path = _TOKEN_LIKE.sub(REDACTED, path)
    if not sep:
        return path
    return path + "?" + redact_query(query)


def redact_query(query: str) -> str:
    pairs = parse_qsl(query, keep_blank_values=True)
    return urlencode(
        [(k, REDACTED if k.lower() in SECRET_PARAMETERS else v) for k, v in pairs], safe="*,:"
    )


class RedactingAccessLogger(Logger):
    """gunicorn's logger, with the request line, path, query and referrer redacted."""

    def atoms(self, resp: Any, req: Any, environ: Any, request_time: Any) -> dict[str, Any]:
        atoms: dict[str, Any] = super().atoms(resp, req, environ, request_time)
        method, _, rest = str(atoms.get("r", "")).partition(" ")
        target, _, protocol = rest.rpartition(" ")
        atoms["r"] = f"{method} {redact_url(target)} {protocol}"
        atoms["U"] = redact_url(str(atoms.get("U") or ""))
        atoms["q"] = redact_query(str(atoms.get("q") or ""))
        for key in ("f", "{referer}i", "{raw_uri}e", "{path_info}e", "{query_string}e"):
            value = atoms.get(key)
            if value and value != "-":
                redact = redact_query if key == "{query_string}e" else redact_url
                atoms[key] = redact(str(value))
        return atoms


@click.command()
@click.option("--bind", default="127.0.0.1:8000", show_default=True, help="Address to listen on.")
@click.option("--workers", default=2, show_default=True, help="Worker processes.")
@click.option("--threads", default=8, show_default=True, help="Threads per worker.")
@click.option(
    "--stream-slots",
    default=1000,
    show_default=True,
    help="Live event streams (boards, ticket pages, consoles) each worker holds open.",
)
@click.option(
    "--with-scheduler", is_flag=True, help="Also start one scheduler process (for the demo)."
)
@with_appcontext
def serve(bind: str, workers: int, threads: int, stream_slots: int, with_scheduler: bool) -> None:
    """Serve the application with gunicorn (threaded workers)."""
    import os

    from gunicorn.app.base import BaseApplication

    from hospital.metrics import prepare_multiprocess, worker_exited

    options, environment = server_settings(
        bind=bind, workers=workers, threads=threads, stream_slots=stream_slots
    )
    os.environ.update(environment)
    host, port = split_bind(bind)
    # Every worker's counters in one folder per server, added up by /metrics.
    prepare_multiprocess(
        os.path.join(current_app.instance_path, "metrics", f"{host.replace(':', '_')}-{port}")
    )
    options["child_exit"] = lambda _server, worker: worker_exited(worker.pid)
    if current_app.config["LOG_FORMAT"] == "json":
        options["accesslog"] = None  # the application logs each request as a JSON line

    class HospitalServer(BaseApplication):
        def load_config(self) -> None:
            for key, value in options.items():
                self.cfg.set(key, value)

        def load(self) -> Any:
            from hospital.app import create_app

            return create_app()

    claims = claim_address(host, port)  # held until this process ends
    public_url = default_public_url(host, port, os.environ)
    if public_url is not None:
        # Workers and the scheduler build their app from the environment: links in messages
        # and QR codes then point at this server (`make demo PORT=8001`).
        os.environ["HOSPITAL_PUBLIC_URL"] = public_url
    child = None
    if with_scheduler:
        child = subprocess.Popen([sys.executable, "-m", "hospital", "scheduler"])
    from hospital.config import describe_database
    from hospital.pdf import font_warnings

    for warning in font_warnings():
        click.secho(f"warning: {warning}", fg="yellow", err=True)
    database = describe_database(current_app.config["SQLALCHEMY_DATABASE_URI"])
    click.echo(f"Database: {database}")
    click.echo(f"Serving on http://{host}:{port}/  (API docs: http://{host}:{port}/api/docs)")
    try:
        HospitalServer().run()
    finally:
        for claim in claims:
            claim.close()
        if child is not None:
            child.send_signal(signal.SIGTERM)
            child.wait(timeout=10)


def default_public_url(host: str, port: int, environ: Mapping[str, str]) -> str | None:
    """The public URL to use when HOSPITAL_PUBLIC_URL is not set: this server's own address
    (127.0.0.1 for a wildcard bind, which a browser on this machine reaches); None when set."""
    if environ.get("HOSPITAL_PUBLIC_URL"):
        return None
    shown = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
    if ":" in shown:
        shown = f"[{shown}]"
    return f"http://{shown}:{port}"


def split_bind(bind: str) -> tuple[str, int]:
    """`host:port` (or `[v6]:port`, or a bare port) as gunicorn reads --bind."""
    host, _, port = bind.rpartition(":")
    if not port.isdigit():
        raise click.BadParameter(f"{bind!r} is not host:port", param_hint="--bind")
    return host.strip("[]") or "0.0.0.0", int(port)


def claim_address(host: str, port: int) -> list[socket.socket]:
    """Refuse to start when another process already serves host:port.

    Each worker binds its own socket with SO_REUSEPORT, and the kernel would happily let a
    second server (an old instance, a second `make demo`) share the port and split the requests
    between two applications. So, before gunicorn binds:
    - a plain bind (SO_REUSEADDR only, which passes over TIME_WAIT but never over a listening
      socket) fails when anything at all listens there;
    - a machine-wide claim, an abstract Unix socket named after the address, fails when another
      `hospital serve` holds it, even one still starting whose workers have not bound yet.
    The claims are returned; keep them open for the server's life (workers inherit them).
    """
    try:
        addresses = {
            info[4][:2]: info[0]
            for info in socket.getaddrinfo(
                host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
            )
        }
    except socket.gaierror as exc:
        raise click.ClickException(f"cannot resolve {host!r} to serve port {port}: {exc}") from exc
    claims: list[socket.socket] = []
    for (address, _), family in sorted(addresses.items(), key=str):
        busy = _address_in_use(family, (str(address), port))
        if busy is None and sys.platform.startswith("linux"):
            claim = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                claim.bind(f"\0hospital serve {address} {port}")
            except OSError:
                claim.close()
                busy = "another `hospital serve`"
            else:
                claims.append(claim)
        if busy:
            for claim in claims:
                claim.close()
            raise click.ClickException(
                f"port {port} on {address} is already in use ({busy}): stop that server, or "
                f"start this one on another port (--bind {host or address}:<port>)"
            )
    return claims


def _address_in_use(family: int, address: tuple[str, int]) -> str | None:
    probe = socket.socket(family, socket.SOCK_STREAM)
    try:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.bind(address)
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            return "another process listens there"
        raise click.ClickException(f"cannot serve on {address[0]}:{address[1]}: {exc}") from exc
    finally:
        probe.close()
    return None


@click.command()
@click.option("--once", is_flag=True, help="Run every job once and exit.")
@with_appcontext
def scheduler(once: bool) -> None:
    """Run every registered job in this one process (run exactly one per deployment)."""
    from hospital.scheduler import run_all_once, run_scheduler

    if once:
        run_all_once(current_app._get_current_object())  # type: ignore[attr-defined]
        return
    run_scheduler(current_app._get_current_object())  # type: ignore[attr-defined]
