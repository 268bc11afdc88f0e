"""An order reference is a kind and an id, with exactly one text form: the one billing stores."""

from __future__ import annotations

import pytest

from hospital.billing.references import OrderKind, OrderRef


@pytest.mark.parametrize(
    ("ref", "text"),
    [
        (OrderRef.appointment(42), "appointment:42"),
        (OrderRef.walk_in(7), "walk-in:7"),
        (OrderRef.visit_order(3), "visit-order:3"),
        (OrderRef.ticket(9), "ticket:9"),
        (OrderRef(OrderKind.ORDER, 2**31 - 1), "order:2147483647"),
    ],
)
def test_format_gives_the_stored_text_and_parse_reads_it_back(ref: OrderRef, text: str) -> None:
    assert ref.format() == text
    assert str(ref) == text
    assert OrderRef.parse(text) == ref
    assert OrderRef.read(text) == ref


@pytest.mark.parametrize(
    "text",
    [
        "",
        "appointment",
        "appointment:",
        ":42",
        "appointment:abc",
        "appointment:-1",
        "appointment:+1",
        "appointment:0",
        "appointment:007",
        "appointment:1.5",
        "appointment: 1",
        "appointment:1 ",
        " appointment:1",
        "appointment:１２",  # full-width digits
        "appointment:2147483648",
        "appointment:99999999999999999999",
        "Appointment:1",
        "walk_in:1",
        "visit:1",
        "appointment:1:2",
        "LAB-77",
    ],
)
def test_parse_refuses_malformed_text(text: str) -> None:
    with pytest.raises(ValueError):
        OrderRef.parse(text)
    assert OrderRef.read(text) is None


def test_read_takes_nothing_for_no_reference() -> None:
    assert OrderRef.read(None) is None


@pytest.mark.parametrize("bad_id", [0, -1, 2**31, True, "1", 1.0])
def test_a_reference_holds_only_an_id(bad_id: object) -> None:
    with pytest.raises(ValueError):
        OrderRef(OrderKind.APPOINTMENT, bad_id)  # type: ignore[arg-type]


def test_a_reference_holds_only_a_kind() -> None:
    with pytest.raises(TypeError):
        OrderRef("appointment", 1)  # type: ignore[arg-type]


def test_references_are_values() -> None:
    assert OrderRef.appointment(1) == OrderRef(OrderKind.APPOINTMENT, 1)
    assert OrderRef.appointment(1) != OrderRef.walk_in(1)
    assert len({OrderRef.appointment(1), OrderRef.appointment(1)}) == 1
