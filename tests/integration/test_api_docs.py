"""The API docs page works on an intranet: vendored Swagger UI, and every route documented."""

from __future__ import annotations

import re
from typing import Any

from flask import Flask


def test_the_docs_page_loads_only_local_assets(client: Any) -> None:
    response = client.get("/api/docs")

    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assets = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert any(a.endswith("swagger-ui-bundle.js") for a in assets)
    assert any(a.endswith("swagger-ui.css") for a in assets)
    for asset in assets:
        assert asset.startswith("/") and not asset.startswith("//"), asset
        assert re.search(r"/vendor/swagger-ui-\d+\.\d+\.\d+/", asset), asset
        with client.get(asset) as served:
            assert served.status_code == 200, asset
            assert len(served.data) > 1000, asset
    assert not re.search(r"https?://(?!localhost)", html), "the page names an outside host"
    assert '"validatorUrl": null' in html
    assert "/api/openapi.json" in html


def test_the_vendored_swagger_ui_keeps_its_licence(app: Flask, client: Any) -> None:
    base = app.config["OPENAPI_SWAGGER_UI_URL"]
    with client.get(f"{base}LICENSE") as licence:
        assert licence.status_code == 200
        assert b"Apache License" in licence.data


def test_every_api_route_is_in_the_openapi_document(app: Flask, client: Any) -> None:
    document = client.get("/api/openapi.json").get_json()
    documented = {
        (path, method.upper())
        for path, operations in document["paths"].items()
        for method in operations
        if method in ("get", "post", "put", "patch", "delete")
    }
    missing = []
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1/"):
            continue
        path = re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule.rule)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            if (path, method) not in documented:
                missing.append(f"{method} {path}")
    assert not missing, f"not in /api/openapi.json: {missing}"
    assert ("/api/v1/family/", "POST") in documented
    assert ("/api/v1/organisation/departments", "GET") in documented
