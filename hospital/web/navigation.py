"""Where a page may send the visitor next, and pages that need a signed-in visitor."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import urlsplit

from flask import redirect, request, url_for

F = TypeVar("F", bound=Callable[..., Any])


def same_site_path(target: str | None) -> str | None:
    """Return target if it is a path on this site, else None (no open redirects)."""
    if not target:
        return None
    target = target.strip()
    # Browsers treat a backslash like a slash: "/\evil.example" leaves the site.
    if "\\" in target or any(ord(c) < 32 for c in target):
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return None
    return target


def next_path(default: str) -> str:
    """The same-site `next` from the form or query string, else default."""
    return (
        same_site_path(request.form.get("next"))
        or same_site_path(request.args.get("next"))
        or default
    )


def current_path() -> str:
    """This page's path and query, to come back to after a sign-in or a switch."""
    query = request.query_string.decode("utf-8", "replace")
    return request.path + (f"?{query}" if query else "")


def sign_in_page_required(fn: F) -> F:
    """Send an anonymous visitor to the sign-in page, and back here afterwards."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from hospital.accounts.guards import current_account

        if current_account() is None:
            target = current_path() if request.method == "GET" else request.path
            return redirect(url_for("accounts_pages.sign_in", next=target))
        return fn(*args, **kwargs)

    from hospital.accounts.guards import AccessPolicy, declare

    declare(wrapper, AccessPolicy(signed_in=True))
    return wrapper  # type: ignore[return-value]
