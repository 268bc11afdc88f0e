"""Pages of the virtual queue: the patient's ticket page, the staff console and the display board.

One module per concern; each registers its routes on `bp` when imported.
"""

from queueing.pages import (  # noqa: F401  (routes register)
    boards,
    console,
    desk,
    patient_pages,
    survey,
)
from queueing.pages.common import bp

__all__ = ["bp"]
