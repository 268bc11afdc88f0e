"""Backfill from the waitlist (候补): 300 cancellations in a burst, 2,000 waiters, through the server.

Starts a throwaway PostgreSQL and the real server (gunicorn with `hospital serve`'s production
settings, as bench/booking_rush.py does, whose seeding and HTTP client it reuses): one clinician
with 300 one-place slots, all booked, and 2,000 patients on the clinician's waitlist (joined in
a known order). Then 300 patients cancel at once through the API, with 100 requests in flight;
each cancellation's transaction offers the freed place to the next waiter (a hold plus an outbox
message, committed with the cancellation). Last, every offered waiter accepts at once.

Figures: places re-offered; double offers (a place offered to two waiters, a waiter holding two
offers, or an overbooked slot: must be 0); the time from a cancellation's commit to its offer's
outbox message (`p50_ms`, `p99_ms`), taken from the database for every offer (the message is
written in the cancellation's own transaction, so it is there the moment the cancellation
commits); the time from sending a cancellation to its response (`cancel_p50_ms`,
`cancel_p99_ms`: queueing behind the other requests of the burst included); and the claim
throughput. The last line is JSON. Never a timed assertion.

    .venv/bin/python -m bench.backfill [--waiters 2000] [--concurrency 100]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench import booking_rush  # noqa: E402
from bench.booking_rush import Connection, Phase, free_port, run_phase, start_server  # noqa: E402

PLACES = booking_rush.SESSIONS * booking_rush.SLOTS_PER_SESSION  # 300
# Offers are sent day and night in the benchmark (the quiet hours are tested elsewhere).
booking_rush.PRODUCTION_SETTINGS["WAITLIST_QUIET_HOURS"] = "00:00-00:00"


def prepare(url: str, waiters: int) -> dict[str, Any]:
    """Seed as the rush does, book every place, and put `waiters` patients on the waitlist."""
    import sqlalchemy as sa

    from hospital.accounts.models import Account
    from hospital.app import create_app
    from hospital.db import db
    from scheduling.models import Slot
    from scheduling.services import booking
    from scheduling.services import waitlist as waitlist_service

    info = booking_rush.seed(url, PLACES + waiters)
    app = create_app({"DATABASE_URL": url, **booking_rush.PRODUCTION_SETTINGS})
    now = datetime.now(UTC)
    with app.app_context():
        db.session.execute(sa.text("UPDATE clinic_session SET fee_fen = 0"))
        slot_ids = db.session.scalars(sa.select(Slot.id).order_by(Slot.starts_at)).all()
        cookies = info["cookies"]
        bookers = []
        for (cookie, patient_id), slot_id in zip(cookies[:PLACES], slot_ids, strict=True):
            account_id = db.session.execute(
                sa.text("SELECT account_id FROM family_link WHERE patient_id = :p"),
                {"p": patient_id},
            ).scalar_one()
            account = db.session.get_one(Account, account_id)
            held = booking.hold(actor=account, patient_id=patient_id, slot_id=slot_id, now=now)
            booking.confirm(held.id, actor=account, now=now)
            bookers.append((cookie, held.id))
        db.session.commit()
        order = []
        for _cookie, patient_id in cookies[PLACES:]:
            account_id = db.session.execute(
                sa.text("SELECT account_id FROM family_link WHERE patient_id = :p"),
                {"p": patient_id},
            ).scalar_one()
            entry = waitlist_service.join(
                actor=db.session.get_one(Account, account_id),
                patient_id=patient_id,
                clinician_id=info["clinician_id"],
                first_date=info["days"][0],
                last_date=info["days"][-1],
                now=datetime.now(UTC),
            )
            order.append(entry.id)
        db.session.commit()
        db.engine.dispose()
    return {
        **info,
        "bookers": bookers,
        "entry_order": order,
        "patient_cookies": dict((patient_id, cookie) for cookie, patient_id in cookies),
    }


async def burst(port: int, info: dict[str, Any], concurrency: int) -> tuple[Phase, Phase]:
    warm = Connection("127.0.0.1", port)
    for cookie, _ in info["bookers"][:20]:
        await warm.request("GET", "/api/v1/scheduling/waitlist", cookie=cookie)
    await warm.close()

    async def cancel(
        connection: Connection, cookie: str, appointment_id: int, phase: Phase
    ) -> None:
        began = time.perf_counter()
        reply = await connection.request(
            "POST",
            f"/api/v1/scheduling/appointments/{appointment_id}/cancel",
            cookie=cookie,
            body={},
        )
        phase.add(reply.status, time.perf_counter() - began)

    cancels = await run_phase(port, info["bookers"], concurrency, cancel)
    claims_for = offered_claims(info)

    async def accept(connection: Connection, cookie: str, offer_id: int, phase: Phase) -> None:
        began = time.perf_counter()
        reply = await connection.request(
            "POST",
            f"/api/v1/scheduling/waitlist/offers/{offer_id}/accept",
            cookie=cookie,
            body={},
        )
        phase.add(reply.status, time.perf_counter() - began)

    claims = await run_phase(port, claims_for, max(concurrency, len(claims_for) or 1), accept)
    return cancels, claims


def offered_claims(info: dict[str, Any]) -> list[tuple[str, int]]:
    """(cookie, offer id) of every live offer: each waiter then accepts at once."""
    import sqlalchemy as sa

    engine = sa.create_engine(info["url"])
    with engine.connect() as conn:
        rows = conn.execute(
            sa.text(
                "SELECT o.id, e.patient_id FROM waitlist_offer o "
                "JOIN waitlist_entry e ON e.id = o.entry_id WHERE o.state = 'offered'"
            )
        ).all()
    engine.dispose()
    return [(info["patient_cookies"][patient_id], offer_id) for offer_id, patient_id in rows]


def audit(info: dict[str, Any]) -> dict[str, Any]:
    import sqlalchemy as sa

    engine = sa.create_engine(info["url"])
    with engine.connect() as conn:
        one = lambda sql: conn.execute(sa.text(sql)).scalar_one()  # noqa: E731
        offers = one("SELECT count(*) FROM waitlist_offer")
        double = (
            one(
                "SELECT count(*) FROM (SELECT freed_place_id FROM waitlist_offer "
                "WHERE state IN ('offered', 'accepted') GROUP BY freed_place_id HAVING count(*) > 1) x"
            )
            + one(
                "SELECT count(*) FROM (SELECT entry_id FROM waitlist_offer "
                "WHERE state IN ('offered', 'accepted') GROUP BY entry_id HAVING count(*) > 1) x"
            )
            + one(
                "SELECT count(*) FROM slot s WHERE s.booked > s.capacity + s.addon_allowance "
                "OR s.booked <> (SELECT count(*) FROM appointment a WHERE a.slot_id = s.id "
                "AND a.state NOT IN ('cancelled', 'expired'))"
            )
        )
        offered_entries = [
            r[0]
            for r in conn.execute(
                sa.text("SELECT entry_id FROM waitlist_offer ORDER BY entry_id")
            ).all()
        ]
        # The offer's message carries its cancellation's time: written in the same transaction.
        lags = sorted(
            float(r[0])
            for r in conn.execute(
                sa.text(
                    "SELECT EXTRACT(EPOCH FROM (m.created_at - f.freed_at)) * 1000 "
                    "FROM waitlist_offer o JOIN waitlist_freed_place f ON f.id = o.freed_place_id "
                    "JOIN outbox_message m ON m.dedupe_key LIKE 'waitlist-offer:' || o.id || ':%' "
                    "OR m.dedupe_key = 'waitlist-offer:' || o.id"
                )
            ).all()
        )
        booked = one(
            "SELECT count(*) FROM appointment a JOIN waitlist_offer o ON o.appointment_id = a.id "
            "WHERE a.state = 'booked'"
        )
    engine.dispose()
    fifo = offered_entries == sorted(info["entry_order"][: len(offered_entries)])
    return {
        "offers": offers,
        "double": double,
        "fifo": fifo,
        "message_lag_ms_max": lags[-1] if lags else None,
        "lag_p50_ms": lags[len(lags) // 2] if lags else None,
        "lag_p99_ms": lags[min(len(lags) - 1, round(0.99 * (len(lags) - 1)))] if lags else None,
        "messages": len(lags),
        "booked_from_waitlist": booked,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--waiters", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=100)
    args = parser.parse_args()

    from tests.support.postgres_cluster import PostgresCluster

    cluster = PostgresCluster(max_connections=300)
    workdir = Path(tempfile.mkdtemp(prefix="backfill-"))
    server = None
    try:
        url = cluster.start("hospital_bench")
        print(f"seeding {PLACES} booked places and {args.waiters} waiters ...", flush=True)
        info = {**prepare(url, args.waiters), "url": url}
        port = free_port()
        server = start_server(url, workdir, port)
        cancels, claims = asyncio.run(burst(port, info, args.concurrency))
        checked = audit(info)
    finally:
        if server is not None:
            server.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                server.wait(timeout=15)
            if server.poll() is None:
                server.kill()
        cluster.stop()
        shutil.rmtree(workdir, ignore_errors=True)

    claims_per_s = claims.answered / claims.elapsed if claims.elapsed else 0.0
    errors = sum(n for s, n in cancels.statuses.items() if s != 200) + cancels.transport_errors
    errors += sum(n for s, n in claims.statuses.items() if s != 200) + claims.transport_errors
    print(
        f"cancellations: {cancels.answered} in {cancels.elapsed:.2f} s, "
        f"p50 {cancels.percentile(50):.0f} ms, p99 {cancels.percentile(99):.0f} ms "
        f"(request sent -> response, queueing in the burst included), "
        f"statuses {dict(sorted(cancels.statuses.items()))}"
    )
    print(
        f"re-offered {checked['offers']} of {PLACES} freed places, to the first waiters in join "
        f"order: {checked['fifo']}; offer messages {checked['messages']}, largest gap between a "
        f"freeing and its offer message {checked['message_lag_ms_max']} ms (same transaction)"
    )
    print(
        f"claims: {claims.answered} in {claims.elapsed:.2f} s = {claims_per_s:.0f}/s, "
        f"p50 {claims.percentile(50):.0f} ms, p99 {claims.percentile(99):.0f} ms, "
        f"statuses {dict(sorted(claims.statuses.items()))}; booked from the waitlist "
        f"{checked['booked_from_waitlist']}"
    )
    print(
        f"commit -> offer message: p50 {checked['lag_p50_ms']} ms, p99 {checked['lag_p99_ms']} ms"
    )
    print(f"double offers: {checked['double']}; other errors: {errors}")
    print(
        json.dumps(
            {
                "waiters": args.waiters,
                "cancellations": cancels.answered,
                "reoffered": checked["offers"],
                "double_offers": checked["double"],
                "fifo": checked["fifo"],
                "p50_ms": checked["lag_p50_ms"],
                "p99_ms": checked["lag_p99_ms"],
                "cancel_p50_ms": round(cancels.percentile(50), 1),
                "cancel_p99_ms": round(cancels.percentile(99), 1),
                "claims_per_s": round(claims_per_s, 1),
                "booked_from_waitlist": checked["booked_from_waitlist"],
                "errors": errors,
            }
        )
    )


if __name__ == "__main__":
    main()
