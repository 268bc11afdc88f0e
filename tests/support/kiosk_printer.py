"""A local stand-in for a network thermal printer on TCP: captures ESC/POS bytes."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field


@dataclass
class CapturedPrinter:
    host: str
    port: int
    received: bytearray = field(default_factory=bytearray)
    done: threading.Event = field(default_factory=threading.Event)


@contextmanager
def thermal_printer(
    *, status: bytes | None = b"\x12", answer: bool = True
) -> Iterator[CapturedPrinter]:
    """Listen on 127.0.0.1; answer the paper status query with `status`, keep what is sent.

    answer=False accepts the connection but never answers (a hung printer).
    """
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    captured = CapturedPrinter("127.0.0.1", server.getsockname()[1])
    stop = threading.Event()

    def serve() -> None:
        server.settimeout(5)
        try:
            conn, _ = server.accept()
        except OSError:
            captured.done.set()
            return
        with conn:
            conn.settimeout(5)
            try:
                while not stop.is_set():
                    chunk = conn.recv(65536)
                    if not chunk:
                        break
                    captured.received.extend(chunk)
                    if answer and status is not None and chunk.startswith(b"\x10\x04\x04"):
                        conn.sendall(status)
                    if not answer:
                        stop.wait(5)
                        break
            except OSError:
                pass
        captured.done.set()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield captured
    finally:
        stop.set()
        server.close()
        thread.join(timeout=10)


def closed_port() -> int:
    """A local port nobody listens on (connections are refused: the printer is off)."""
    probe = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    return port
