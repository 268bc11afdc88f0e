"""Scheduled work: materialise slots, release lapsed holds, mark no-shows, send reminders."""

from __future__ import annotations

from datetime import datetime

from hospital.jobs import Job
from scheduling import notices
from scheduling.fhir import publish
from scheduling.services import attendance, keep_or_release, materialise, offers, places, waitlist


def materialise_slots(*, now: datetime) -> int:
    return materialise.materialise_slots(now=now)


def release_expired_holds(*, now: datetime) -> int:
    return places.release_expired_holds(now=now)


def mark_no_shows(*, now: datetime) -> int:
    return attendance.mark_no_shows(now=now)


def send_reminders(*, now: datetime) -> int:
    return notices.send_reminders(now=now)


def publish_scheduling_links(*, now: datetime) -> int:
    return publish.refresh_all(now=now)


def waitlist_sweep(*, now: datetime) -> int:
    """Let lapsed offers pass on, send offers held over the night, offer missed places."""
    done = offers.expire_lapsed_offers(now=now)
    done += offers.send_due_offers(now=now)
    done += offers.offer_missed_places(now=now)
    return done + waitlist.end_past_entries(now=now)


def ask_keep_or_release(*, now: datetime) -> int:
    return keep_or_release.ask_keep_or_release(now=now)


JOBS = (
    Job("scheduling.materialise_slots", materialise_slots, "interval", {"minutes": 30}),
    Job("scheduling.release_expired_holds", release_expired_holds, "interval", {"minutes": 1}),
    Job("scheduling.mark_no_shows", mark_no_shows, "interval", {"minutes": 10}),
    Job("scheduling.send_reminders", send_reminders, "interval", {"minutes": 30}),
    Job("scheduling.waitlist_sweep", waitlist_sweep, "interval", {"minutes": 1}),
    Job("scheduling.ask_keep_or_release", ask_keep_or_release, "interval", {"minutes": 30}),
    Job(
        "scheduling.publish_scheduling_links", publish_scheduling_links, "interval", {"minutes": 5}
    ),
)
