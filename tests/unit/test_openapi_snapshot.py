"""The OpenAPI document changes only on purpose: it is compared with the committed snapshot.

Clients are generated from this document, so a refactoring must leave it byte-identical. When a
change to the API is meant, run `make openapi` and commit docs/api/openapi.json with it.
"""

from __future__ import annotations

from pathlib import Path

from hospital.app import create_app

SNAPSHOT = Path(__file__).resolve().parents[2] / "docs" / "api" / "openapi.json"


def current_document() -> bytes:
    app = create_app({"TESTING": True, "SECRET_KEY": "snapshot", "DATABASE_URL": "sqlite://"})
    return app.test_client().get("/api/openapi.json").get_data()


def test_the_openapi_document_matches_the_snapshot() -> None:
    assert SNAPSHOT.read_bytes() == current_document(), (
        "the OpenAPI document changed: if the change is meant, run `make openapi` and commit "
        "docs/api/openapi.json"
    )


if __name__ == "__main__":
    SNAPSHOT.write_bytes(current_document())
