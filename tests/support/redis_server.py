"""Start, stop and restart a throwaway redis-server from Debian's package.

Used by the tests that prove the limits are shared across instances, and by `make cluster`.
As root the server runs as an unprivileged user through runuser, like the PostgreSQL cluster.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

UNPRIVILEGED_USERS = ("redis", "postgres", "nobody")


def find_redis_server() -> str | None:
    return shutil.which("redis-server") or (
        "/usr/bin/redis-server" if os.path.exists("/usr/bin/redis-server") else None
    )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class RedisServer:
    """One redis-server on 127.0.0.1, nothing written to disk."""

    def __init__(self, *, port: int | None = None, base: Path | None = None) -> None:
        binary = find_redis_server()
        if binary is None:
            raise RuntimeError("redis-server not found: install Debian's redis-server package")
        self.binary = binary
        self.port = port or _free_port()
        self.base = base or Path(tempfile.mkdtemp(prefix="hospital-redis-"))
        self.base.mkdir(parents=True, exist_ok=True)
        self.run_as: pwd.struct_passwd | None = None
        if os.geteuid() == 0:
            for name in UNPRIVILEGED_USERS:
                try:
                    self.run_as = pwd.getpwnam(name)
                except KeyError:
                    continue
                os.chown(self.base, self.run_as.pw_uid, self.run_as.pw_gid)
                break
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> str:
        cmd = [
            self.binary,
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(self.base),
            "--daemonize",
            "no",
        ]
        drop: dict[str, object] = {}
        if self.run_as is not None:
            drop = {"user": self.run_as.pw_uid, "group": self.run_as.pw_gid, "extra_groups": []}
        log = (self.base / "redis.log").open("ab")
        self.process = subprocess.Popen(
            cmd,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            **drop,  # type: ignore[arg-type]
        )
        log.close()
        deadline = time.monotonic() + 15
        while not self.ping():
            if self.process.poll() is not None:
                raise RuntimeError(
                    "redis-server exited: " + (self.base / "redis.log").read_text()[-1000:]
                )
            if time.monotonic() > deadline:
                raise RuntimeError("redis-server did not answer within 15 s")
            time.sleep(0.05)  # waiting for a process to bind, not papering over a race
        return self.url

    def ping(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as conn:
                conn.sendall(b"PING\r\n")
                return conn.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def kill(self) -> None:
        """Stop at once, as a crash would (SIGKILL), and wait until the port is closed."""
        if self.process is None:
            return
        self.process.kill()
        self.process.wait(timeout=10)
        deadline = time.monotonic() + 10
        while self.ping() and time.monotonic() < deadline:
            time.sleep(0.05)
        self.process = None

    def stop(self) -> None:
        self.kill()
        shutil.rmtree(self.base, ignore_errors=True)
