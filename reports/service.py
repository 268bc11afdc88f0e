"""Facade over reports/services/, kept while callers move to the modules there; add nothing here."""

from __future__ import annotations

from reports.services.download import Download, download
from reports.services.intake import amend, receive_results
from reports.services.reading import (
    find_report,
    is_staff_reader,
    open_report,
    reports_for,
    staff_search,
    visible_versions,
)
from reports.services.release import (
    RenderFailed,
    issue_pdf,
    release,
    release_by_clinician,
    release_due,
    report_url,
    verification_url,
)
from reports.services.test_types import save_test_type, test_type_for
from reports.services.verification import Verification, verify

# reports/api.py and reports/views.py still call the old private name.
_is_staff_reader = is_staff_reader

__all__ = [
    "Download",
    "RenderFailed",
    "Verification",
    "_is_staff_reader",
    "amend",
    "download",
    "find_report",
    "is_staff_reader",
    "issue_pdf",
    "open_report",
    "receive_results",
    "release",
    "release_by_clinician",
    "release_due",
    "report_url",
    "reports_for",
    "save_test_type",
    "staff_search",
    "test_type_for",
    "verification_url",
    "verify",
    "visible_versions",
]
