"""One unit of work per request, job or command: commit at the edge, side effects after commit.

Work that must wait for the outcome of the transaction is registered here, and nowhere else:
`after_commit` (tell screens, print, send) runs once the outermost transaction commits and is
dropped if it rolls back; `after_rollback` (keep a count that a failed request must not undo)
runs once the outermost transaction rolls back, inside the session, and is dropped on commit.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar, cast

from sqlalchemy import event
from sqlalchemy.orm import Session, SessionTransaction

from hospital.db import db, write_intent

_COMMIT_HOOKS = "after_commit_hooks"
_ROLLBACK_HOOKS = "after_rollback_hooks"
_GATHERED = "after_commit_gathered"

Hook = TypeVar("Hook", bound=Callable[[], Any])


def after_commit(fn: Callable[[], Any]) -> None:
    """Run fn once the current transaction commits; drop it if the transaction rolls back.

    A hook registered inside a savepoint that rolls back is dropped with the savepoint.
    """
    session = db.session()
    transaction = session.get_nested_transaction() or session.get_transaction()
    session.info.setdefault(_COMMIT_HOOKS, []).append((fn, transaction))


def gathered_after_commit(key: str, make: Callable[[], Hook]) -> Hook:
    """The hook gathering work under key (in session.info) in this transaction, made on first use.

    For work done once per commit however often the transaction asks for it (one notice per
    changed queue): the hook is an object the caller adds to, run once after the commit.
    Whatever it gathered stays even if a savepoint rolls back, as an extra refresh is harmless.
    """
    session = db.session()
    hook = session.info.get(key)
    if hook is None:
        hook = session.info[key] = make()
        session.info.setdefault(_GATHERED, set()).add(key)
        session.info.setdefault(_COMMIT_HOOKS, []).append((hook, None))
    return cast(Hook, hook)


def after_rollback(fn: Callable[[Session], Any]) -> None:
    """Run fn(session) once the outermost transaction rolls back; drop it if it commits.

    fn runs in the session's next transaction, which the edge commits with the audit entries
    it replays (hospital.audit.service.replay_after_rollback); savepoints do not trigger it.
    """
    db.session().info.setdefault(_ROLLBACK_HOOKS, []).append(fn)


@event.listens_for(Session, "after_commit")
def _run_hooks(session: Session) -> None:
    if session.in_nested_transaction():
        return  # a released savepoint is not the commit the hooks wait for
    hooks = session.info.pop(_COMMIT_HOOKS, [])
    _forget_gathered(session)
    session.info.pop(_ROLLBACK_HOOKS, None)
    for fn, _transaction in hooks:
        fn()


@event.listens_for(Session, "after_soft_rollback")
def _after_rollback(session: Session, previous: SessionTransaction) -> None:
    if previous.nested:
        _drop_hooks_of(session, previous)
        return
    session.info.pop(_COMMIT_HOOKS, None)
    _forget_gathered(session)
    if previous.parent is not None or not session.is_active:
        return  # the outermost transaction has not ended yet
    for fn in session.info.pop(_ROLLBACK_HOOKS, []):
        fn(session)


def _forget_gathered(session: Session) -> None:
    for key in session.info.pop(_GATHERED, ()):
        session.info.pop(key, None)


def _drop_hooks_of(session: Session, savepoint: SessionTransaction) -> None:
    """Forget the after-commit hooks registered inside a savepoint that rolled back."""

    def inside(transaction: SessionTransaction | None) -> bool:
        while transaction is not None:
            if transaction is savepoint:
                return True
            transaction = transaction.parent
        return False

    hooks = session.info.get(_COMMIT_HOOKS)
    if hooks:
        hooks[:] = [(fn, t) for fn, t in hooks if not inside(t)]


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
