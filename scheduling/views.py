"""Pages: book an appointment (phone first), my appointments, the staff day list, the schedule editor.

The pages live in `scheduling.pages`, one group a module; importing them here adds their routes
to the `scheduling_pages` blueprint that the application registers as `bp`.
"""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

from hospital.web.tiles import Tile, add_home_tile
from scheduling.pages import (  # noqa: F401  (each module adds its pages to the blueprint)
    appointments,
    booking,
    extra_sessions,
    schedule_editor,
    staff_day,
    suspensions,
    waitlist,
    waitlist_range,
)
from scheduling.pages.blueprint import bp

__all__ = ["bp"]

add_home_tile(
    Tile(
        "scheduling_pages.book",
        _l("Book an appointment"),
        _l("Choose a department, a doctor and a time"),
        order=10,
    )
)
add_home_tile(
    Tile(
        "scheduling_pages.my_waitlist",
        _l("My waitlist"),
        _l("Your place in line for sold-out times, and places offered to you"),
        order=25,
    )
)
add_home_tile(
    Tile(
        "scheduling_pages.my_appointments",
        _l("My appointments"),
        _l("Confirm, cancel, change or add to your calendar"),
        order=20,
    )
)
