"""REST endpoint for "who opened my records" (/api/v1/audit)."""

from __future__ import annotations

from typing import Any

from flask_smorest import Blueprint

from hospital.accounts.guards import require_signed_in, signed_in_account
from hospital.audit.record_access import RecordAccessPage, staff_accesses
from hospital.audit.schemas import RecordAccessArgs, RecordAccessPageOut

blp = Blueprint(
    "audit",
    __name__,
    description="Who opened my records: staff access to your and your family's data.",
)


@blp.route("/record-access", methods=["GET"])
@require_signed_in
@blp.arguments(RecordAccessArgs, location="query")
@blp.response(200, RecordAccessPageOut)
def record_access(args: dict[str, Any]) -> RecordAccessPage:
    """Every staff access to your data and your family's, newest first, by page."""
    return staff_accesses(signed_in_account(), page=args["page"], per_page=args["per_page"])
