"""The route policy table: who may call each endpoint of the URL map.

Endpoints written here declare their policy with the guards of `hospital.accounts.guards`;
endpoints that libraries register (static files, the OpenAPI document and its viewer) get
theirs from `LIBRARY_POLICIES`. `tests/integration/test_route_policy.py` fails for any endpoint
in neither place.
"""

from __future__ import annotations

from flask import Flask

from hospital.accounts.guards import AccessPolicy, policy_of

LIBRARY_POLICIES: dict[str, AccessPolicy] = {
    "static": AccessPolicy(public="Flask's static files: versioned CSS, JS and fonts"),
    "web.static": AccessPolicy(public="the shell's static assets"),
    "kiosk_pages.static": AccessPolicy(public="the kiosk UI's static assets"),
    "api-docs.openapi_json": AccessPolicy(public="flask-smorest's OpenAPI document"),
    "api-docs.openapi_swagger_ui": AccessPolicy(public="flask-smorest's API viewer"),
}


def endpoint_policy(app: Flask, endpoint: str) -> AccessPolicy | None:
    """The declared policy of one endpoint (None: it declares none)."""
    if endpoint in LIBRARY_POLICIES:
        return LIBRARY_POLICIES[endpoint]
    return policy_of(app.view_functions.get(endpoint))


def route_policies(app: Flask) -> dict[str, AccessPolicy | None]:
    """Every endpoint of the app's URL map and its declared policy (None: undeclared)."""
    return {rule.endpoint: endpoint_policy(app, rule.endpoint) for rule in app.url_map.iter_rules()}
