"""The production layout on one machine: PostgreSQL, Redis, three web instances, two schedulers
(leader and standby) and HAProxy in front, all from Debian's packages and this project.

    python -m deploy.cluster start [--seed]   # `make cluster`
    python -m deploy.cluster stop             # `make cluster-stop`
    python -m deploy.cluster status

Everything lives under instance/cluster/ (data, logs, pid files). The fault tests
(tests/faults/) drive the same class, each on its own folder and ports. As root, PostgreSQL
and Redis run as Debian's unprivileged `postgres` and `redis` users.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy"
DEFAULT_BASE = ROOT / "instance" / "cluster"
WEB_COUNT = 3
SCHEDULER_COUNT = 2


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _pg_bin() -> Path:
    found = shutil.which("pg_ctl")
    if found and shutil.which("initdb"):
        return Path(os.path.realpath(found)).parent
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"), key=lambda p: p.parts[4])
    if not versions:
        raise SystemExit("PostgreSQL server not found: apt-get install postgresql")
    return versions[-1].parent


def _drop_to(name: str) -> dict[str, object]:
    """Popen arguments that run a server as an unprivileged user when we are root."""
    if os.geteuid() != 0:
        return {}
    user = pwd.getpwnam(name)
    return {"user": user.pw_uid, "group": user.pw_gid, "extra_groups": []}


def _owner(name: str, path: Path) -> None:
    if os.geteuid() == 0:
        user = pwd.getpwnam(name)
        os.chown(path, user.pw_uid, user.pw_gid)


def _run_server_tool(command: list[str], user: str) -> None:
    """Run initdb or pg_ctl (as `user` when root); fail with what the tool said, not a traceback."""
    done = subprocess.run(
        command,
        check=False,
        capture_output=True,
        **_drop_to(user),  # type: ignore[arg-type]
    )
    if done.returncode != 0:
        said = (done.stderr or done.stdout or b"").decode(errors="replace").strip()
        hint = ""
        if os.geteuid() == 0 and "ermission denied" in said:
            hint = (
                f"\nAs root, PostgreSQL runs as the `{user}` user, which must be able to enter "
                "every folder above the cluster's: chmod o+x them, or set CLUSTER_DIR to a "
                "folder it can reach (e.g. /var/tmp/hospital-cluster)."
            )
        raise SystemExit(f"{Path(command[0]).name} failed: {said}{hint}")


def _get(url: str, timeout: float = 2.0) -> int:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as answer:  # noqa: S310 - loopback
            return int(answer.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)
    except OSError:
        return 0


@dataclass
class Ports:
    proxy: int
    postgres: int
    redis: int
    web: list[int] = field(default_factory=list)

    @classmethod
    def fixed(cls, proxy: int = 8080) -> Ports:
        return cls(proxy, proxy + 2, proxy + 3, [proxy + 11 + i for i in range(WEB_COUNT)])

    @classmethod
    def free(cls) -> Ports:
        return cls(free_port(), free_port(), free_port(), [free_port() for _ in range(WEB_COUNT)])


class Cluster:
    """Start, inspect, break and stop the layout's processes."""

    def __init__(
        self,
        base: Path = DEFAULT_BASE,
        ports: Ports | None = None,
        *,
        workers: int = 1,
        threads: int = 8,
        extra_env: dict[str, str] | None = None,
        scheduler_env: dict[str, str] | None = None,
    ) -> None:
        self.base = base
        self.ports = ports or Ports.fixed()
        self.workers = workers
        self.threads = threads
        self.extra_env = extra_env or {}
        self.scheduler_env = scheduler_env or {}
        self.logs = base / "logs"
        self.pids = base / "pids"
        self.pg_data = base / "postgres"
        self.pg_bin = _pg_bin()
        self._children: dict[str, subprocess.Popen[bytes]] = {}

    # ---- addresses ----------------------------------------------------------------------

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.ports.proxy}"

    def web_url(self, index: int) -> str:
        return f"http://127.0.0.1:{self.ports.web[index]}"

    @property
    def database_url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.ports.postgres}/hospital"

    @property
    def redis_url(self) -> str:
        return f"redis://127.0.0.1:{self.ports.redis}/0"

    def environment(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("HOSPITAL_")}
        env.update(
            PYTHONPATH=str(ROOT),
            HOSPITAL_INSTANCE_PATH=str(self.base / "instance"),
            HOSPITAL_DATABASE_URL=self.database_url,
            HOSPITAL_REDIS_URL=self.redis_url,
            HOSPITAL_SECRET_KEY=self._secret_key(),
            HOSPITAL_PROXY_HOPS="1",
            HOSPITAL_PUBLIC_URL=self.url,
            HOSPITAL_LOG_FORMAT="json",
        )
        env.update(self.extra_env)
        return env

    def _secret_key(self) -> str:
        path = self.base / "secret_key"
        if not path.exists():
            path.write_text(secrets.token_urlsafe(48))
            path.chmod(0o600)
        return path.read_text().strip()

    # ---- processes ----------------------------------------------------------------------

    def _spawn(self, name: str, command: list[str], **kwargs: object) -> int:
        log = (self.logs / f"{name}.log").open("ab")
        process = subprocess.Popen(
            command,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # outlives `make cluster`; a group of its own to signal
            **kwargs,  # type: ignore[arg-type]
        )
        log.close()
        self._children[name] = process  # a process we started is reaped by us, not warned about
        (self.pids / f"{name}.pid").write_text(str(process.pid))
        return process.pid

    def pid(self, name: str) -> int | None:
        path = self.pids / f"{name}.pid"
        if not path.exists():
            return None
        pid = int(path.read_text())
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return None
        # A zombie of ours (the fault tests start processes as children) is dead too.
        child = self._children.get(name)
        if child is not None and child.pid == pid and child.poll() is not None:
            return None
        return pid

    def kill(self, name: str, sig: int = signal.SIGKILL) -> None:
        """Signal the named process's whole group (gunicorn's master and its workers)."""
        pid = self.pid(name)
        if pid is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, sig)
        deadline = time.monotonic() + 20
        while self.pid(name) is not None and time.monotonic() < deadline:
            time.sleep(0.05)
        if self.pid(name) is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGKILL)
            deadline = time.monotonic() + 10
            while self.pid(name) is not None and time.monotonic() < deadline:
                time.sleep(0.05)  # reaps our child (pid() polls it)

    def _hospital(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "hospital", *args]

    # ---- PostgreSQL ---------------------------------------------------------------------

    def _pg_ctl(self, *args: str) -> None:
        _run_server_tool([str(self.pg_bin / "pg_ctl"), "-D", str(self.pg_data), *args], "postgres")

    def start_postgres(self) -> None:
        if not (self.pg_data / "PG_VERSION").exists():
            self.pg_data.mkdir(parents=True, exist_ok=True)
            _owner("postgres", self.pg_data)
            _run_server_tool(
                [str(self.pg_bin / "initdb"), "-D", str(self.pg_data), "-U", "postgres"]
                + ["--auth=trust", "-E", "UTF8", "--no-locale"],
                "postgres",
            )
        log = self.logs / "postgres.log"
        log.touch()
        _owner("postgres", log)
        settings = (
            f"-p {self.ports.postgres} -k {self.pg_data} -c listen_addresses=127.0.0.1 "
            "-c max_connections=300 -c shared_buffers=128MB"
        )
        self._pg_ctl("-l", str(log), "-o", settings, "-w", "start")
        import psycopg

        with psycopg.connect(
            f"host=127.0.0.1 port={self.ports.postgres} user=postgres dbname=postgres",
            autocommit=True,
        ) as conn:
            if not conn.execute("SELECT 1 FROM pg_database WHERE datname='hospital'").fetchone():
                conn.execute('CREATE DATABASE "hospital"')

    def stop_postgres(self, mode: str = "fast") -> None:
        if (self.pg_data / "postmaster.pid").exists():
            with contextlib.suppress(SystemExit):  # already stopped (a stale pid file)
                self._pg_ctl("-m", mode, "-w", "stop")

    # ---- Redis --------------------------------------------------------------------------

    def start_redis(self) -> None:
        folder = self.base / "redis"
        folder.mkdir(exist_ok=True)
        _owner("redis", folder)
        self._spawn(
            "redis",
            ["redis-server", "--port", str(self.ports.redis), "--bind", "127.0.0.1"]
            + ["--save", "", "--appendonly", "no", "--dir", str(folder)],
            **_drop_to("redis"),
        )
        self._wait(lambda: self._redis_ping(), "redis")

    def _redis_ping(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.ports.redis), timeout=0.5) as conn:
                conn.sendall(b"PING\r\n")
                return conn.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    # ---- the application ----------------------------------------------------------------

    def migrate(self, *, seed: bool) -> None:
        subprocess.run(
            self._hospital("db", "upgrade"), env=self.environment(), check=True, capture_output=True
        )
        if seed:
            subprocess.run(
                self._hospital("seed-demo"), env=self.environment(), check=True, capture_output=True
            )

    def start_web(self, index: int) -> None:
        self._spawn(
            f"web{index + 1}",
            self._hospital("serve", "--bind", f"127.0.0.1:{self.ports.web[index]}")
            + ["--workers", str(self.workers), "--threads", str(self.threads)],
            env=self.environment(),
            cwd=str(self.base),
        )

    def start_scheduler(self, index: int) -> None:
        self._spawn(
            f"scheduler{index + 1}",
            self._hospital("scheduler"),
            env={**self.environment(), **self.scheduler_env},
            cwd=str(self.base),
        )

    def start_proxy(self) -> None:
        env = dict(os.environ)
        env["HOSPITAL_PROXY_BIND"] = f"127.0.0.1:{self.ports.proxy}"
        env["HOSPITAL_WEB_MAXCONN"] = str(self.workers * self.threads * 2)
        for i, port in enumerate(self.ports.web):
            env[f"HOSPITAL_WEB{i + 1}"] = f"127.0.0.1:{port}"
        self._spawn("haproxy", ["haproxy", "-db", "-f", str(DEPLOY / "haproxy.cfg")], env=env)

    def wait_ready(self, index: int, timeout: float = 90) -> None:
        self._wait(lambda: self.web_ready(index), f"web{index + 1}", timeout)

    def web_ready(self, index: int) -> bool:
        return _get(self.web_url(index) + "/readyz") == 200

    def _wait(self, ready: object, what: str, timeout: float = 90) -> None:
        deadline = time.monotonic() + timeout
        while not ready():  # type: ignore[operator]
            if time.monotonic() > deadline:
                raise RuntimeError(f"{what} not ready within {timeout:.0f} s; see {self.logs}")
            time.sleep(0.1)  # waiting for processes to start, not papering over a race

    def running(self) -> list[str]:
        """The layout's processes that are alive now (PostgreSQL included)."""
        names = ["haproxy", "redis"] + [f"web{i + 1}" for i in range(WEB_COUNT)]
        names += [f"scheduler{i + 1}" for i in range(SCHEDULER_COUNT)]
        alive = [name for name in names if self.pids.exists() and self.pid(name) is not None]
        if (self.pg_data / "postmaster.pid").exists():  # may be stale (a reboot): ask pg_ctl
            status = subprocess.run(
                [str(self.pg_bin / "pg_ctl"), "-D", str(self.pg_data), "status"],
                capture_output=True,
                check=False,
                **_drop_to("postgres"),  # type: ignore[arg-type]
            )
            if status.returncode == 0:
                alive.append("postgres")
        return alive

    def start(self, *, seed: bool = False) -> None:
        alive = self.running()
        if alive:
            raise SystemExit(
                f"The cluster under {self.base} is already running ({', '.join(alive)}): "
                "stop it first with `make cluster-stop`."
            )
        for folder in (self.base, self.logs, self.pids, self.base / "instance"):
            folder.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            for folder in (self.base, self.logs):
                folder.chmod(0o755)
        self.start_postgres()
        self.start_redis()
        self.migrate(seed=seed)
        for i in range(WEB_COUNT):
            self.start_web(i)
        for i in range(SCHEDULER_COUNT):
            self.start_scheduler(i)
        self.start_proxy()
        self._wait(lambda: all(self.web_ready(i) for i in range(WEB_COUNT)), "web instances")
        self._wait(lambda: _get(self.url + "/readyz") == 200, "haproxy")

    def stop(self) -> None:
        for name in ["haproxy"] + [f"web{i + 1}" for i in range(WEB_COUNT)]:
            self.kill(name, signal.SIGTERM)
        for i in range(SCHEDULER_COUNT):
            self.kill(f"scheduler{i + 1}", signal.SIGTERM)
        self.kill("redis", signal.SIGTERM)
        self.stop_postgres()

    def status(self) -> dict[str, object]:
        names = ["haproxy", "redis"] + [f"web{i + 1}" for i in range(WEB_COUNT)]
        names += [f"scheduler{i + 1}" for i in range(SCHEDULER_COUNT)]
        return {
            "proxy": self.url,
            "processes": {name: self.pid(name) for name in names},
            "postgres": (self.pg_data / "postmaster.pid").exists(),
            "ready": {f"web{i + 1}": self.web_ready(i) for i in range(WEB_COUNT)},
        }


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m deploy.cluster")
    parser.add_argument("action", choices=["start", "stop", "status"])
    parser.add_argument("--seed", action="store_true", help="create the demo hospital")
    parser.add_argument("--port", type=int, default=int(os.environ.get("CLUSTER_PORT", "8080")))
    args = parser.parse_args()
    base = Path(os.environ["CLUSTER_DIR"]) if os.environ.get("CLUSTER_DIR") else DEFAULT_BASE
    cluster = Cluster(base, ports=Ports.fixed(args.port))
    if args.action == "start":
        cluster.start(seed=args.seed)
        print(f"Cluster up: {cluster.url}/  (logs: {cluster.logs}; stop: make cluster-stop)")
    elif args.action == "stop":
        cluster.stop()
        print("Cluster stopped")
    else:
        print(json.dumps(cluster.status(), indent=2))


if __name__ == "__main__":
    main()
