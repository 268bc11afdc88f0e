"""Browser security headers on every response, and the per-request nonce of inline scripts.

Content-Security-Policy: scripts only from this site or inline with this response's nonce
(templates write `<script nonce="{{ csp_nonce() }}">`), no plugins, no framing, no <base>
tricks. Inline style attributes stay allowed ('unsafe-inline' in style-src): they carry no
script. Pages and responses that may carry personal data are never stored by the browser or a
proxy (`Cache-Control: no-store`); static assets keep their caching.
"""

from __future__ import annotations

import secrets
from typing import Any

from flask import Flask, g, render_template, request, url_for

HSTS_SECONDS = 2 * 365 * 24 * 3600


def csp_nonce() -> str:
    """This response's script nonce (made on first use)."""
    nonce = g.get("csp_nonce")
    if nonce is None:
        nonce = g.csp_nonce = secrets.token_urlsafe(18)
    return nonce


def content_security_policy(nonce: str) -> str:
    return "; ".join(
        [
            "default-src 'self'",
            f"script-src 'self' 'nonce-{nonce}'",
            "style-src 'self' 'unsafe-inline'",
            "img-src 'self' data: blob:",
            "font-src 'self' data:",
            "connect-src 'self'",
            # The kiosk prints a report PDF through a same-origin blob: frame.
            "frame-src 'self' blob:",
            "object-src 'none'",
            "base-uri 'self'",
            "frame-ancestors 'none'",
        ]
    )


def _is_static(endpoint: str | None) -> bool:
    return endpoint is not None and (endpoint == "static" or endpoint.endswith(".static"))


def register(app: Flask) -> None:
    production = app.config["ENV"] == "production"
    app.jinja_env.globals["csp_nonce"] = csp_nonce

    @app.before_request
    def _new_nonce() -> None:
        g.csp_nonce = secrets.token_urlsafe(18)

    @app.after_request
    def _security_headers(response: Any) -> Any:
        headers = response.headers
        headers["Content-Security-Policy"] = content_security_policy(csp_nonce())
        headers["X-Content-Type-Options"] = "nosniff"
        headers["Referrer-Policy"] = "same-origin"
        headers["X-Frame-Options"] = "DENY"
        if production:
            headers["Strict-Transport-Security"] = f"max-age={HSTS_SECONDS}; includeSubDomains"
        if not _is_static(request.endpoint):
            # Every page, PDF, token page and API answer may be a patient's: none is stored.
            headers["Cache-Control"] = "no-store"
            headers.pop("Expires", None)
        return response

    _swap_swagger_ui_page(app)


def _swap_swagger_ui_page(app: Flask) -> None:
    """Serve the API docs from our template: flask-smorest's has an inline script without a nonce."""
    from hospital.extensions import api

    endpoint = "api-docs.openapi_swagger_ui"
    if endpoint not in app.view_functions:
        return

    def swagger_ui() -> str:
        return render_template(
            "api_docs.html",
            title=api.spec.title,
            spec_url=url_for("api-docs.openapi_json"),
            swagger_ui_url=app.config["OPENAPI_SWAGGER_UI_URL"],
            swagger_ui_config=app.config.get("OPENAPI_SWAGGER_UI_CONFIG", {}),
        )

    app.view_functions[endpoint] = swagger_ui
