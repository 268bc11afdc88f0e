"""`hospital serve`: never shares its port with another server, and opens one database from anywhere."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import click
import pytest
import requests

from hospital.cli import claim_address
from tests.support.servers import serving

ROOT = Path(__file__).resolve().parents[2]
PROJECT_DATABASE = "sqlite:///" + str(ROOT / "instance" / "hospital.db")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _environment() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HOSPITAL_")}
    env["PYTHONPATH"] = str(ROOT)
    env["HOSPITAL_SECRET_KEY"] = "s" * 40  # nothing written into the project's instance folder
    return env


def _command(port: int) -> list[str]:
    return [
        sys.executable,
        "-m",
        "hospital",
        "serve",
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        "1",
        "--threads",
        "1",
        "--stream-slots",
        "1",
    ]


@contextmanager
def _server(port: int, cwd: Path, log_path: Path) -> Iterator[str]:
    cwd.mkdir(exist_ok=True)
    with log_path.open("w+b") as log:
        process = subprocess.Popen(
            _command(port), cwd=cwd, env=_environment(), stdout=log, stderr=subprocess.STDOUT
        )
        with serving(process, f"http://127.0.0.1:{port}", log) as base:
            yield base


def test_second_server_on_a_busy_port_exits_naming_the_port(tmp_path: Path) -> None:
    port = _free_port()
    with _server(port, tmp_path / "first", tmp_path / "first.log") as base:
        (tmp_path / "second").mkdir()
        second = subprocess.run(
            _command(port),
            cwd=tmp_path / "second",
            env=_environment(),
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert second.returncode != 0
        assert f"port {port} on 127.0.0.1 is already in use" in second.stderr
        assert "Serving on" not in second.stdout
        # The first server still answers every request alone.
        for _ in range(5):
            assert requests.get(base + "/healthz", timeout=5).status_code == 200


def test_the_database_is_the_same_whichever_directory_the_server_starts_from(
    tmp_path: Path,
) -> None:
    seen = []
    for name in ("here", "there"):
        port = _free_port()
        with _server(port, tmp_path / name, tmp_path / f"{name}.log") as base:
            health = requests.get(base + "/healthz", timeout=5).json()
            seen.append(health["database"])
        started = (tmp_path / f"{name}.log").read_text()
        assert f"Database: {PROJECT_DATABASE}" in started
    assert seen == [PROJECT_DATABASE, PROJECT_DATABASE]
    assert not (tmp_path / "here" / "instance").exists()


def test_a_foreign_listener_sharing_the_port_is_refused() -> None:
    # Another program that also set SO_REUSEPORT would otherwise share the port silently.
    with socket.socket() as other:
        other.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        other.bind(("127.0.0.1", 0))
        other.listen()
        port = other.getsockname()[1]
        with pytest.raises(click.ClickException, match=f"port {port} on 127.0.0.1"):
            claim_address("127.0.0.1", port)


def test_a_free_port_is_claimed_until_released() -> None:
    port = _free_port()
    claims = claim_address("localhost", port)
    try:
        with pytest.raises(click.ClickException, match="another `hospital serve`"):
            claim_address("127.0.0.1", port)
    finally:
        for claim in claims:
            claim.close()
    for claim in claim_address("127.0.0.1", port):
        claim.close()
