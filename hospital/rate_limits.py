"""Where the per-address rate limits are counted, and what happens when that store is down.

With HOSPITAL_REDIS_URL set, flask-limiter counts in Redis, so every worker of every instance
draws on one allowance per client address. When Redis cannot be reached:
- the limits that guard sign-in and code sending fail closed: the request is refused with 503
  and Retry-After (a guesser must not get unlimited tries while Redis is down);
- any other per-address limit fails open (flask-limiter swallows the error and logs it), since
  refusing ordinary pages would turn a Redis outage into a hospital outage.
The per-account password throttle, the per-phone code limits and the per-kiosk limits are
counted in the database, in the same transaction as the action they limit, so they hold across
instances with or without Redis.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any, TypeVar

from flask import Flask, current_app
from flask_babel import lazy_gettext as _l

from hospital.error_codes import ErrorCode
from hospital.errors import DomainError
from hospital.extensions import limiter

log = logging.getLogger(__name__)

F = TypeVar("F", bound=Callable[..., Any])

# How long a refused sign-in should wait before trying again while the store is down.
RETRY_AFTER_SECONDS = 10
# A dead Redis must cost a request milliseconds, not the client library's default of no limit.
REDIS_TIMEOUT_SECONDS = 0.5


class LimitsUnavailable(DomainError):
    status = 503
    code = ErrorCode.LIMITS_UNAVAILABLE

    def __init__(self) -> None:
        super().__init__(
            _l(
                "Signing in is briefly unavailable. Please try again in %(seconds)d seconds.",
                seconds=RETRY_AFTER_SECONDS,
            ),
            details={"retry_after": RETRY_AFTER_SECONDS},
        )


def configure(app: Flask) -> None:
    """Point flask-limiter at Redis when HOSPITAL_REDIS_URL is set (before limiter.init_app)."""
    config = app.config
    redis_url = config.get("REDIS_URL")
    if redis_url and config["RATELIMIT_STORAGE_URI"] in ("memory://", "", None):
        config["RATELIMIT_STORAGE_URI"] = redis_url
    if str(config["RATELIMIT_STORAGE_URI"]).startswith(("redis://", "rediss://", "unix://")):
        options = dict(config.get("RATELIMIT_STORAGE_OPTIONS") or {})
        options.setdefault("socket_connect_timeout", REDIS_TIMEOUT_SECONDS)
        options.setdefault("socket_timeout", REDIS_TIMEOUT_SECONDS)
        config["RATELIMIT_STORAGE_OPTIONS"] = options
    # Fail open by default; fail_closed() below refuses where an open limit would be a risk.
    config.setdefault("RATELIMIT_SWALLOW_ERRORS", True)


def shared_store() -> bool:
    """True when the limits are counted outside this process (Redis)."""
    return not str(current_app.config["RATELIMIT_STORAGE_URI"]).startswith("memory://")


def fail_closed(view: F) -> F:
    """Refuse the view with 503 + Retry-After while the limit store cannot be reached."""

    @functools.wraps(view)
    def checked(*args: Any, **kwargs: Any) -> Any:
        if (
            current_app.config["RATELIMIT_ENABLED"]
            and shared_store()
            and not limiter.storage.check()
        ):
            log.warning("rate limit store unreachable: refusing %s", view.__name__)
            raise LimitsUnavailable()
        return view(*args, **kwargs)

    return checked  # type: ignore[return-value]
