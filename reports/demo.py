"""Demo data for the statistics: a past month of work written to the summary in bulk."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa

from hospital.db import db
from reports.models import CounterPauseSummary, SatisfactionSummary, VisitSummary


def record_past_work(
    *,
    visits: Sequence[Mapping[str, Any]],
    pauses: Sequence[Mapping[str, Any]],
    answers: Sequence[Mapping[str, Any]],
) -> None:
    """Insert the records (keyed by the summary's columns) as the feed would have written them;
    one statement per table, since a demo month is thousands of visits."""
    for model, rows in (
        (VisitSummary, visits),
        (CounterPauseSummary, pauses),
        (SatisfactionSummary, answers),
    ):
        if rows:
            db.session.execute(sa.insert(model), [dict(row) for row in rows])
    db.session.flush()
