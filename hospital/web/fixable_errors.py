"""How a page answers an error its visitor can fix: undo the request's work, then show the message.

The request's unit of work commits any answer under 400, so a page that turns an error into a
redirect must roll back itself, or the half-done work would be committed. A page that renders
its form again with the error rolls back first too, so the form shows things as they were (and,
on PostgreSQL, a failed statement does not poison the queries that render it).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from types import TracebackType
from typing import Any, TypeVar

from flask import flash, redirect

from hospital.db import db
from hospital.errors import DomainError

F = TypeVar("F", bound=Callable[..., Any])


class UndoOnError:
    """Catch a DomainError raised in the block, roll the session back and keep it in `error`.

    With `let_refusals_through`, refusals (401/403/404) propagate to the error handler instead.
    """

    def __init__(self, *, let_refusals_through: bool = False) -> None:
        self.let_refusals_through = let_refusals_through
        self.error: DomainError | None = None

    def __enter__(self) -> UndoOnError:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> bool:
        if not isinstance(exc, DomainError):
            return False
        if self.let_refusals_through and exc.is_refusal:
            return False
        db.session.rollback()
        self.error = exc
        return True

    @property
    def message(self) -> Any:
        return self.error.message if self.error is not None else None

    @property
    def status(self) -> int:
        return self.error.status if self.error is not None else 200


def undo_on_error(*, let_refusals_through: bool = False) -> UndoOnError:
    """Run a block whose DomainError is shown on the page it renders (see `UndoOnError`)."""
    return UndoOnError(let_refusals_through=let_refusals_through)


def flash_fixable_errors(back: Callable[[], str]) -> Callable[[F], F]:
    """Answer a form's fixable error by undoing its work, flashing the message, redirecting back.

    The redirect is a 303 to `back()`. Refusals (401/403/404) propagate, so a stranger's request
    is answered as the refusal it is, not hidden behind a redirect.
    """

    def decorate(view: F) -> F:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with undo_on_error(let_refusals_through=True) as outcome:
                return view(*args, **kwargs)
            flash(str(outcome.message), "error")
            return redirect(back(), 303)

        return wrapper  # type: ignore[return-value]

    return decorate
