"""A booking rush through the proxy by real HTTP clients that retry as a phone app does."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import requests
import sqlalchemy as sa

RETRYABLE = {502, 503, 504}


@dataclass
class RushResult:
    confirmed: dict[int, int] = field(default_factory=dict)  # appointment id -> patient id
    statuses: dict[int, int] = field(default_factory=dict)
    retries: int = 0
    retry_after_missing: int = 0
    gave_up: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def count(self, status: int) -> None:
        with self.lock:
            self.statuses[status] = self.statuses.get(status, 0) + 1


def slot_ids(database_url: str) -> list[int]:
    engine = sa.create_engine(database_url)
    with engine.connect() as conn:
        ids = [row[0] for row in conn.execute(sa.text("SELECT id FROM slot ORDER BY id"))]
    engine.dispose()
    return ids


def rush(
    base: str,
    cookies: list[tuple[str, int]],
    slots: list[int],
    *,
    threads: int = 16,
    on_progress: Callable[[int], None] | None = None,
) -> RushResult:
    """Each patient holds one slot; several patients want each slot; 5xx and resets are retried."""
    result = RushResult()
    done = [0]
    done_lock = threading.Lock()

    def one_patient(index: int) -> None:
        cookie, patient_id = cookies[index]
        session = requests.Session()
        session.headers.update({"Cookie": cookie, "Accept": "application/json"})
        wanted = index % len(slots)
        for _try in range(40):
            try:
                reply = session.post(
                    base + "/api/v1/scheduling/appointments",
                    json={"patient_id": patient_id, "slot_id": slots[wanted]},
                    timeout=30,
                )
            except requests.RequestException:
                result.count(0)
                with result.lock:
                    result.retries += 1
                time.sleep(0.2)  # a phone app's back-off before retrying, not a race fix
                continue
            result.count(reply.status_code)
            if reply.status_code == 201:
                with result.lock:
                    result.confirmed[int(reply.json()["id"])] = patient_id
                break
            if reply.status_code == 409:
                body: Any = reply.json()
                if body.get("code") in ("slot_taken", "slot_full"):
                    wanted = (wanted + 1) % len(slots)  # taken: tap the next one on the list
                    continue
                break  # e.g. already holds one in this session: done
            if reply.status_code in RETRYABLE:
                with result.lock:
                    result.retries += 1
                    if reply.status_code == 503 and "Retry-After" not in reply.headers:
                        result.retry_after_missing += 1
                time.sleep(0.2)  # as above
                continue
            break
        else:
            with result.lock:
                result.gave_up += 1
        session.close()
        with done_lock:
            done[0] += 1
            finished = done[0]
        if on_progress is not None:
            on_progress(finished)

    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(one_patient, range(len(cookies))))
    return result


def audit(database_url: str, confirmed: dict[int, int]) -> dict[str, int]:
    """What the database says after the rush."""
    engine = sa.create_engine(database_url)
    with engine.connect() as conn:
        overbooked = conn.execute(
            sa.text(
                "SELECT count(*) FROM slot s WHERE s.booked > s.capacity + s.addon_allowance "
                "OR s.booked <> (SELECT count(*) FROM appointment a WHERE a.slot_id = s.id "
                "AND a.state NOT IN ('cancelled', 'expired'))"
            )
        ).scalar_one()
        present = {
            row[0]: row[1]
            for row in conn.execute(
                sa.text(
                    "SELECT id, patient_id FROM appointment "
                    "WHERE state NOT IN ('cancelled', 'expired')"
                )
            )
        }
        double_orders = conn.execute(
            sa.text(
                "SELECT count(*) FROM (SELECT reference FROM billing_order "
                "WHERE reference IS NOT NULL GROUP BY hospital_id, reference "
                "HAVING count(*) > 1) d"
            )
        ).scalar_one()
    engine.dispose()
    lost = sum(1 for a, p in confirmed.items() if present.get(a) != p)
    return {
        "overbooked": overbooked,
        "lost": lost,
        "double_orders": double_orders,
        "active": len(present),
    }
