"""An appointment as an iCalendar file: a stable UID, SEQUENCE bumped on every change."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from icalendar import Calendar, Event


@dataclass(frozen=True)
class CalendarEntry:
    uid: str
    sequence: int
    starts_at: datetime
    ends_at: datetime
    summary: str
    location: str
    description: str
    cancelled: bool
    stamped_at: datetime


def appointment_ics(entry: CalendarEntry) -> bytes:
    """One VEVENT; a cancelled appointment is sent as METHOD:CANCEL so calendars remove it."""
    calendar = Calendar()
    calendar.add("prodid", "-//Hospital registration//scheduling//EN")
    calendar.add("version", "2.0")
    calendar.add("method", "CANCEL" if entry.cancelled else "PUBLISH")
    event = Event()
    event.add("uid", entry.uid)
    event.add("sequence", entry.sequence)
    event.add("dtstamp", entry.stamped_at)
    event.add("dtstart", entry.starts_at)
    event.add("dtend", entry.ends_at)
    event.add("summary", entry.summary)
    event.add("location", entry.location)
    event.add("description", entry.description)
    event.add("status", "CANCELLED" if entry.cancelled else "CONFIRMED")
    calendar.add_component(event)
    ical: bytes = calendar.to_ical()
    return ical
