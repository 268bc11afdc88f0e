"""One unit of work per request, job or command: commit at the edge, side effects after commit."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Session

from hospital.db import db, write_intent

_HOOKS = "after_commit_hooks"


def after_commit(fn: Callable[[], Any]) -> None:
    """Run fn once the current transaction commits; drop it if the transaction rolls back."""
    db.session().info.setdefault(_HOOKS, []).append(fn)


@event.listens_for(Session, "after_commit")
def _run_hooks(session: Session) -> None:
    if session.in_nested_transaction():
        return  # a released savepoint is not the commit the hooks wait for
    hooks = session.info.pop(_HOOKS, [])
    for fn in hooks:
        fn()


@event.listens_for(Session, "after_soft_rollback")
def _drop_hooks(session: Session, _previous: Any) -> None:
    session.info.pop(_HOOKS, None)


@contextmanager
def unit_of_work(*, writes: bool = True) -> Iterator[None]:
    """Commit on success, roll back on any error (for jobs, CLI commands and threads)."""
    token = write_intent.set(writes)
    try:
        yield
        db.session.commit()
    except BaseException:
        db.session.rollback()
        from hospital.audit.service import replay_after_rollback

        replay_after_rollback()
        raise
    finally:
        write_intent.reset(token)
