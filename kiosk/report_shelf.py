"""Where the kiosk finds a patient's released reports: a port the composition root fills.

The kiosk may not import `reports` (ARCHITECTURE.md), so hospital/app.py hands it the reports
module's public functions at start-up. Without them the kiosk simply offers no report printing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class ReportFunctions:
    # (*, account) -> released reports it may see (objects with public_id, report_number,
    # test_name, patient_id, released_at)
    list_for: Callable[..., list[Any]]
    # (public_id, *, account, version, document, now) -> object with .content (PDF bytes)
    download: Callable[..., Any]


_provided: list[ReportFunctions] = []


def provide(*, list_for: Callable[..., list[Any]], download: Callable[..., Any]) -> None:
    """Called once by the composition root."""
    _provided[:] = [ReportFunctions(list_for, download)]


def functions() -> ReportFunctions | None:
    return _provided[0] if _provided else None
