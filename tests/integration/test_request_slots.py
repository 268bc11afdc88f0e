"""A worker runs at most REQUEST_SLOTS ordinary requests at once; event streams hold no slot."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

from flask import Flask, Response

from hospital.app import create_app
from tests.conftest import TEST_CONFIG


def _app(tmp_path: Path) -> Flask:
    return create_app(
        {
            **TEST_CONFIG,
            "DATABASE_URL": f"sqlite:///{tmp_path / 'slots.db'}",
            "REQUEST_SLOTS": 1,
            "REQUEST_SLOT_WAIT_SECONDS": 0.2,
        }
    )


def test_a_request_beyond_the_slots_waits_then_gets_a_clear_503(tmp_path: Path) -> None:
    app = _app(tmp_path)
    entered, leave = threading.Event(), threading.Event()

    def slow() -> str:
        entered.set()
        leave.wait(timeout=10)
        return "done"

    app.add_url_rule("/slow", view_func=slow)
    first: list[int] = []
    worker = threading.Thread(
        target=lambda: first.append(app.test_client().get("/slow").status_code)
    )
    worker.start()
    assert entered.wait(timeout=10)
    busy = app.test_client().get("/healthz", headers={"Accept": "application/json"})
    leave.set()
    worker.join(timeout=10)
    assert busy.status_code == 503 and busy.json["code"] == "server_busy"
    assert first == [200]
    assert app.test_client().get("/healthz").status_code == 200  # the slot came back


def test_an_event_stream_gives_its_slot_back_before_streaming(tmp_path: Path) -> None:
    app = _app(tmp_path)
    stop = threading.Event()

    def stream() -> Response:
        def frames() -> Iterator[str]:
            yield "event: snapshot\ndata: {}\n\n"
            stop.wait(timeout=10)

        return Response(frames(), mimetype="text/event-stream")

    app.add_url_rule("/stream", view_func=stream)
    streaming = app.test_client().get("/stream", buffered=False)
    assert next(streaming.response) == b"event: snapshot\ndata: {}\n\n"
    assert app.test_client().get("/healthz").status_code == 200
    stop.set()
    streaming.close()
