"""Wait for a `hospital serve` process started by a test, and stop it afterwards."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO

import requests


@contextmanager
def serving(
    process: subprocess.Popen[bytes], base: str, log: IO[bytes], *, probe: str = "/healthz"
) -> Iterator[str]:
    """Yield the server's base URL once `probe` answers; terminate the process at the end."""
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                log.seek(0)
                raise RuntimeError(f"server exited: {log.read().decode()[-2000:]}")
            try:
                requests.get(base + probe, timeout=2)
                break
            except (requests.ConnectionError, requests.Timeout):
                if time.monotonic() > deadline:
                    raise RuntimeError("server did not start within 60 s") from None
                time.sleep(0.2)  # waiting for a process to bind, not papering over a race
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
