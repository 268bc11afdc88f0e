"""Live queue events: who must refresh, across threads (in-process) or processes (LISTEN/NOTIFY).

An event carries only (queue id, version); screens re-read the state from the database, so a
lost event or a restart loses nothing: the next event, the heartbeat refresh or a reconnect
brings every screen up to date. NOTIFY is sent after the commit, on its own connection, never
inside the transaction that changed the queue.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa
from flask import Flask

from hospital.db import db, utcnow, write_intent
from hospital.metrics import metrics
from hospital.unit_of_work import gathered_after_commit

log = logging.getLogger("hospital.queueing.live")

CHANNEL = "queue_events"
_PENDING = "queueing_changed_queues"


class Subscription:
    """A screen's interest in some queues; `wait` returns when one of them changed."""

    def __init__(self, queue_ids: Iterable[int]) -> None:
        self.queue_ids = frozenset(queue_ids)
        self._changed = threading.Event()
        self.counted = False  # in the open-streams figure until unsubscribed

    def signal(self) -> None:
        self._changed.set()

    def wait(self, timeout: float) -> bool:
        changed = self._changed.wait(timeout)
        self._changed.clear()
        return changed


class InProcessBroker:
    """Fan-out to the streams of this process (SQLite, one server process)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._subscribers: dict[int, set[Subscription]] = {}
        self._versions: dict[int, int] = {}

    def subscribe(self, queue_ids: Iterable[int]) -> Subscription:
        subscription = Subscription(queue_ids)
        with self._lock:
            for queue_id in subscription.queue_ids:
                self._subscribers.setdefault(queue_id, set()).add(subscription)
            subscription.counted = True
        metrics().sse_subscribers.inc()
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        with self._lock:
            for queue_id in subscription.queue_ids:
                self._subscribers.get(queue_id, set()).discard(subscription)
            counted, subscription.counted = subscription.counted, False
        if counted:
            metrics().sse_subscribers.dec()

    def latest_version(self, queue_id: int) -> int:
        return self._versions.get(queue_id, 0)

    def deliver(self, queue_id: int, version: int) -> None:
        with self._lock:
            if version > self._versions.get(queue_id, 0):
                self._versions[queue_id] = version
            subscribers = list(self._subscribers.get(queue_id, ()))
        for subscription in subscribers:
            subscription.signal()

    def signal_all(self) -> None:
        with self._lock:
            subscribers = {s for subs in self._subscribers.values() for s in subs}
        for subscription in subscribers:
            subscription.signal()

    def publish(self, queue_id: int, version: int) -> None:
        self.deliver(queue_id, version)


class PostgresBroker(InProcessBroker):
    """NOTIFY on publish; one LISTEN thread per process fans events out to its streams."""

    def __init__(self, conninfo: str) -> None:
        super().__init__()
        self.conninfo = conninfo
        self._publish_lock = threading.Lock()
        self._pending_lock = threading.Lock()
        self._pending: dict[int, int] = {}
        self._publisher: Any = None
        self._listener: threading.Thread | None = None
        self._listening = threading.Event()
        self._stop = False

    def publish(self, queue_id: int, version: int) -> None:
        """NOTIFY, or leave it to the thread NOTIFYing now: it sends what waits in one statement.

        Under load every request used to wait its turn for the one publishing connection; now
        a request adds its event and returns, and whoever holds the connection sends all the
        waiting events (the newest version of each queue) together. The holder looks again
        after letting go, so an event added meanwhile is never left behind.
        """
        with self._pending_lock:
            if version > self._pending.get(queue_id, 0):
                self._pending[queue_id] = version
        while self._publish_lock.acquire(blocking=False):
            try:
                with self._pending_lock:
                    batch, self._pending = self._pending, {}
                if batch:
                    self._notify(batch)
            finally:
                self._publish_lock.release()
            with self._pending_lock:
                if not self._pending:
                    return

    def _notify(self, batch: dict[int, int]) -> None:
        import psycopg

        payloads = [f"{queue_id}:{version}" for queue_id, version in batch.items()]
        sql = "SELECT " + ", ".join("pg_notify(%s, %s)" for _ in payloads)
        params = [value for payload in payloads for value in (CHANNEL, payload)]
        for attempt in (1, 2):
            try:
                if self._publisher is None or self._publisher.closed:
                    self._publisher = psycopg.connect(self.conninfo, autocommit=True)
                self._publisher.execute(sql, params)
                return
            except psycopg.OperationalError:
                self._publisher = None
                if attempt == 2:
                    log.warning(
                        "could not send queue events %s; screens refresh on heartbeat", payloads
                    )

    def subscribe(self, queue_ids: Iterable[int]) -> Subscription:
        self.ensure_listening()
        return super().subscribe(queue_ids)

    def ensure_listening(self, timeout: float = 5.0) -> None:
        with self._lock:
            if self._listener is None or not self._listener.is_alive():
                self._listener = threading.Thread(
                    target=self._listen, name="queue-events-listener", daemon=True
                )
                self._listener.start()
        self._listening.wait(timeout)

    def _listen(self) -> None:
        import psycopg

        while not self._stop:
            try:
                with psycopg.connect(self.conninfo, autocommit=True) as conn:
                    conn.execute(f"LISTEN {CHANNEL}")
                    self._listening.set()
                    # After a reconnect events may have been missed: every screen re-reads.
                    self.signal_all()
                    for note in conn.notifies():
                        queue_id, _, version = note.payload.partition(":")
                        try:
                            self.deliver(int(queue_id), int(version or 0))
                        except ValueError:
                            log.warning("ignoring malformed queue event %r", note.payload)
            except psycopg.OperationalError:
                log.warning("queue event listener lost its connection; reconnecting")
                time.sleep(1.0)


_brokers: dict[tuple[int, str], InProcessBroker] = {}
_brokers_lock = threading.Lock()


def broker_for(url: str) -> InProcessBroker:
    """The broker of this process for a database URL (one per process: forks get their own)."""
    key = (os.getpid(), url)
    with _brokers_lock:
        found = _brokers.get(key)
        if found is None:
            if url.startswith("postgresql"):
                conninfo = (
                    sa.make_url(url)
                    .set(drivername="postgresql")
                    .render_as_string(hide_password=False)
                )
                found = PostgresBroker(conninfo)
            else:
                found = InProcessBroker()
            _brokers[key] = found
        return found


def broker() -> InProcessBroker:
    return broker_for(str(db.engine.url.render_as_string(hide_password=False)))


# ---- publishing after commit -------------------------------------------------------------


def queue_changed(queue_id: int, version: int) -> None:
    """Remember that a queue changed; screens are told once the outermost transaction commits."""
    url = db.engine.url.render_as_string(hide_password=False)
    publication = gathered_after_commit(_PENDING, lambda: _Publication(url))
    publication.versions[queue_id] = max(version, publication.versions.get(queue_id, 0))


class _Publication:
    """The queues a transaction changed, each with its newest version, told after the commit."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.versions: dict[int, int] = {}

    def __call__(self) -> None:
        target = broker_for(self.url)
        for queue_id, version in self.versions.items():
            target.publish(queue_id, version)


# ---- state cache shared by the streams of a process ---------------------------------------


class StateCache:
    """One database read per queue version per process, however many screens watch it."""

    def __init__(self, max_age: float) -> None:
        self.max_age = max_age
        self._lock = threading.Lock()
        self._queue_locks: dict[int, threading.Lock] = {}
        self._entries: dict[int, tuple[int, float, dict[str, Any] | None]] = {}

    def get(self, app: Flask, queue_id: int, *, wanted_version: int = 0) -> dict[str, Any] | None:
        from queueing.snapshots import load_state

        with self._lock:
            lock = self._queue_locks.setdefault(queue_id, threading.Lock())
        with lock:
            entry = self._entries.get(queue_id)
            fresh = entry is not None and time.monotonic() - entry[1] < self.max_age
            if fresh and entry is not None and entry[0] >= wanted_version:
                return entry[2]
            token = write_intent.set(False)  # a read: no write lock on SQLite
            try:
                with app.app_context():
                    try:
                        state = load_state(queue_id, now=utcnow())
                    finally:
                        db.session.remove()
            finally:
                write_intent.reset(token)
            version = state["queue"]["version"] if state else 0
            self._entries[queue_id] = (version, time.monotonic(), state)
            return state


_caches: dict[tuple[int, str], StateCache] = {}


def state_cache(max_age: float) -> StateCache:
    """This process's cache for the current database (tests run two databases in one process)."""
    key = (os.getpid(), db.engine.url.render_as_string(hide_password=False))
    with _brokers_lock:
        cache = _caches.get(key)
        if cache is None:
            cache = _caches[key] = StateCache(max_age)
        return cache
