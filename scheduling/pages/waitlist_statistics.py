"""The waitlist's section of the statistics page: places freed and re-booked, offers, no-shows."""

from __future__ import annotations

from datetime import date

from flask import render_template
from markupsafe import Markup

from hospital import zones
from scheduling.services import rules, waitlist_stats


def render_waitlist_statistics(hospital_id: int, start: date, end: date) -> Markup:
    """The backfill figures for the hospital's days from start to end (both included)."""
    zone = rules.hospital_zone(hospital_id)
    since, _ = zones.day_bounds(start, zone)
    _, until = zones.day_bounds(end, zone)
    figures = waitlist_stats.statistics(hospital_id=hospital_id, since=since, until=until)
    return Markup(render_template("scheduling/_waitlist_statistics.html", s=figures))
