"""Prometheus metrics at /metrics, and one structured log line per request.

Counters and histograms are kept per process; under `hospital serve` (several gunicorn workers)
they live in prometheus-client's multiprocess files (PROMETHEUS_MULTIPROC_DIR, set by serve
before the workers fork) and /metrics adds up every worker's. Figures that are really the
database's (outbox backlog, queue lengths, the scheduler's leader) are read at scrape time by
samplers that packages register with `add_sampler`, so any instance answers the same.

/metrics answers a request bearing `Authorization: Bearer <HOSPITAL_METRICS_TOKEN>`; without a
token configured it answers only the machine itself (loopback), so a scraper must run beside
each instance or the token must be set. Nothing here carries personal data: labels are endpoint
names, methods, statuses and queue ids.
"""

from __future__ import annotations

import hmac
import json
import logging
import os
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from flask import Blueprint, Flask, Response, abort, current_app, g, request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from hospital.accounts.guards import token_access
from hospital.db import write_intent

log = logging.getLogger("hospital.request")

Sampler = Callable[[], Iterable[GaugeMetricFamily]]
_SAMPLERS = "hospital_metric_samplers"
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"

# Latency buckets for a web request: 5 ms to 10 s.
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0)


class _Metrics:
    """The per-process metrics, made on first use (after gunicorn forks, in multiprocess mode)."""

    def __init__(self) -> None:
        self.request_seconds = Histogram(
            "hospital_http_request_duration_seconds",
            "Time to answer a request (for streams: to start the answer), by endpoint and status.",
            ["endpoint", "method", "status"],
            buckets=BUCKETS,
        )
        self.pool_checked_out = Gauge(
            "hospital_db_pool_checked_out",
            "Database connections in use by this instance's workers.",
            multiprocess_mode="livesum",
        )
        self.pool_capacity = Gauge(
            "hospital_db_pool_capacity",
            "Connections the workers' pools may open (pool size plus overflow), all workers.",
            multiprocess_mode="livesum",
        )
        self.sse_subscribers = Gauge(
            "hospital_sse_subscribers",
            "Open live event streams (ticket pages, boards, consoles).",
            multiprocess_mode="livesum",
        )
        self.holds = Counter("hospital_holds", "Appointments held (a place taken).")
        self.bookings = Counter("hospital_bookings", "Appointments booked (paid or free).")


_metrics: _Metrics | None = None
_metrics_lock = threading.Lock()


def metrics() -> _Metrics:
    global _metrics
    if _metrics is None:
        with _metrics_lock:
            if _metrics is None:
                _metrics = _Metrics()
    return _metrics


def prepare_multiprocess(directory: str) -> None:
    """Before a server forks its workers: keep every worker's figures in `directory`."""
    from prometheus_client import values

    os.makedirs(directory, exist_ok=True)
    for name in os.listdir(directory):  # figures of an earlier run are not this run's
        if name.endswith(".db"):
            os.unlink(os.path.join(directory, name))
    os.environ[MULTIPROC_ENV] = directory
    values.ValueClass = values.get_value_class()
    # Figures made before this (the command line's app counts its pool checkouts) hold their
    # values in memory, and workers forked with them would never write their files: the
    # gauges and counters would be missing from /metrics. Each worker makes its own anew.
    global _metrics
    with _metrics_lock:
        if _metrics is not None:
            from prometheus_client import REGISTRY

            for collector in vars(_metrics).values():
                REGISTRY.unregister(collector)
            _metrics = None


def worker_exited(pid: int) -> None:
    """A gunicorn worker ended: its live gauges no longer count."""
    if os.environ.get(MULTIPROC_ENV):
        multiprocess.mark_process_dead(pid)


def add_sampler(app: Flask, sampler: Sampler) -> None:
    """Read these figures (from the database) on each scrape; once per app."""
    samplers: list[Sampler] = app.extensions.setdefault(_SAMPLERS, [])
    if sampler not in samplers:
        samplers.append(sampler)


class _SampledCollector(Collector):
    def __init__(self, app: Flask) -> None:
        self.app = app

    def collect(self) -> Iterator[GaugeMetricFamily]:
        for sampler in self.app.extensions.get(_SAMPLERS, []):
            try:
                yield from sampler()
            except Exception:  # noqa: BLE001 - one broken figure must not hide the others
                logging.getLogger(__name__).exception("metrics sampler %s failed", sampler)
                up = GaugeMetricFamily(
                    "hospital_metrics_sampler_up",
                    "Whether a scrape-time sampler could read its figures.",
                    labels=["sampler"],
                )
                up.add_metric([getattr(sampler, "__name__", "sampler")], 0)
                yield up


def _registry(app: Flask) -> CollectorRegistry:
    registry = CollectorRegistry()
    if os.environ.get(MULTIPROC_ENV):
        multiprocess.MultiProcessCollector(registry)
    else:
        from prometheus_client import REGISTRY

        metrics()  # the figures exist (at zero) before the first request
        for collector in list(REGISTRY._collector_to_names):  # noqa: SLF001
            registry.register(collector)
    registry.register(_SampledCollector(app))
    return registry


bp = Blueprint("metrics", __name__)


def _allowed() -> bool:
    token = current_app.config.get("METRICS_TOKEN")
    if token:
        sent = request.headers.get("Authorization", "")
        return hmac.compare_digest(sent.encode(), f"Bearer {token}".encode())
    address = request.remote_addr or ""
    return address == "::1" or address.startswith("127.")


@bp.get("/metrics")
@token_access("the operator's metrics token (HOSPITAL_METRICS_TOKEN); without one, loopback only")
def scrape() -> Response:
    if not _allowed():
        abort(404)  # nothing to see here for anyone else
    token = write_intent.set(False)  # only reads: no write lock on SQLite
    try:
        body = generate_latest(_registry(current_app))
    finally:
        write_intent.reset(token)
    return Response(body, mimetype=CONTENT_TYPE_LATEST)


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time, level, logger, message, and a request's fields."""

    def format(self, record: logging.LogRecord) -> str:
        fields = getattr(record, "fields", None)
        line: dict[str, Any] = {
            "ts": self.formatTime(record, "%Y-%m-%dT%H:%M:%S") + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
        }
        if isinstance(fields, dict):
            line.update(fields)
        else:
            line["message"] = record.getMessage()
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False, separators=(",", ":"), default=str)


JsonFormatter.converter = time.gmtime


def configure_logging(level: str, log_format: str) -> None:
    """Text lines for a person at a terminal, or JSON lines for a log collector."""
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if log_format == "json":
        for handler in logging.getLogger().handlers:
            handler.setFormatter(JsonFormatter())


def _endpoint() -> str:
    rule = request.url_rule
    return rule.endpoint if rule is not None else "unmatched"


def init_app(app: Flask) -> None:
    """Time every request, log it as one JSON line, count pool use, holds and bookings."""

    @app.before_request
    def _started() -> None:
        g.metrics_started = time.perf_counter()

    @app.after_request
    def _answered(response: Any) -> Any:
        started = g.pop("metrics_started", None)
        if started is None:
            return response
        seconds = time.perf_counter() - started
        endpoint = _endpoint()
        if endpoint != "metrics.scrape":
            metrics().request_seconds.labels(
                endpoint, request.method, str(response.status_code)
            ).observe(seconds)
        fields = {
            "event": "request",
            "request_id": g.get("request_id", ""),
            "method": request.method,
            "endpoint": endpoint,
            "status": response.status_code,
            "duration_ms": round(seconds * 1000, 1),
        }
        log.info("request %s", json.dumps(fields, separators=(",", ":")), extra={"fields": fields})
        return response

    _count_pool(app)
    _count_appointments()


def _count_pool(app: Flask) -> None:
    import sqlalchemy as sa
    from sqlalchemy.pool import Pool

    if getattr(Pool, "_hospital_metrics", False):
        return
    Pool._hospital_metrics = True  # type: ignore[attr-defined]

    def checked_out(*_args: Any) -> None:
        metrics().pool_checked_out.inc()

    def checked_in(*_args: Any) -> None:
        metrics().pool_checked_out.dec()

    sa.event.listen(Pool, "checkout", checked_out)
    sa.event.listen(Pool, "checkin", checked_in)
    options = app.config.get("SQLALCHEMY_ENGINE_OPTIONS") or {}
    if "pool_size" in options:
        metrics().pool_capacity.set(int(options["pool_size"]) + int(options.get("max_overflow", 0)))


def _count_appointments() -> None:
    from hospital import events
    from hospital.unit_of_work import after_commit

    if getattr(_count_appointments, "connected", False):
        return
    _count_appointments.connected = True  # type: ignore[attr-defined]

    def held(_sender: Any, **_kwargs: Any) -> None:
        after_commit(metrics().holds.inc)

    def booked(_sender: Any, **_kwargs: Any) -> None:
        after_commit(metrics().bookings.inc)

    events.appointment_held.connect(held, weak=False)
    events.appointment_booked.connect(booked, weak=False)
