"""Text with a NUL character is refused with a 400 on both databases (PostgreSQL cannot hold it)."""

from __future__ import annotations

from typing import Any

from hospital.db import db
from tests.support.auth import sign_in


def test_a_nul_in_a_query_form_or_json_body_is_a_400_not_a_500(
    client: Any, hospital: Any, create_account: Any
) -> None:
    sign_in(client, create_account(hospital))
    searched = client.get("/api/v1/organisation/departments?q=%C2%ACBv%00%12")
    assert searched.status_code == 400
    assert (
        searched.json["code"] == "bad_request"
        and "NUL" in client.get("/api/v1/organisation/departments?q=a%00&lang=en").json["message"]
    )
    posted = client.patch("/api/v1/auth/me", json={"display_name": "A\u0000B"})
    assert posted.status_code == 400
    page = client.get("/book?q=%00")
    assert page.status_code == 400 and page.mimetype == "text/html"
    assert client.get("/api/v1/organisation/departments?q=ab").status_code == 200


def test_the_fhir_facade_answers_a_nul_with_an_operation_outcome(
    client: Any, db_session: Any
) -> None:
    response = client.get("/fhir/r4/Slot?status=free%00")
    assert response.status_code == 400
    assert response.json["resourceType"] == "OperationOutcome"


def test_a_form_body_with_a_nul_is_refused_and_others_are_read_intact(
    client: Any, hospital: Any
) -> None:
    db.session.commit()  # a refused request rolls back its own work, not the test's set-up
    refused = client.post(
        "/sign-in/code",
        data="phone=138%000000001",
        content_type="application/x-www-form-urlencoded",
    )
    assert refused.status_code == 400
    sent = client.post(
        "/sign-in/code",
        data="phone=13800000001",
        content_type="application/x-www-form-urlencoded",
    )
    assert sent.status_code == 200  # the form is still parsed after the raw body was read
