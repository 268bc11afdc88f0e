"""What an order is for: a typed reference (kind + id) and its one text form, `<kind>:<id>`.

The text form is what billing stores in `billing_order.reference` (and a registration order's
`visit_key`) and what the order_paid and payment_received signals carry, so `format()` must keep
producing exactly these strings. Build and read them only here.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from hospital.web.id_fields import MAX_ID, is_id


class OrderKind(enum.Enum):
    """What the order (or a visit order's visit) belongs to, and who owns that object."""

    APPOINTMENT = "appointment"  # scheduling: the registration fee of an appointment
    WALK_IN = "walk-in"  # kiosk: the registration fee of a same-day walk-in
    VISIT_ORDER = "visit-order"  # billing: an order staff made during a visit (its own id)
    TICKET = "ticket"  # queueing: the visit of a ticket without an appointment
    ORDER = "order"  # billing: an order named by its id (a lab's order number "order:<id>")
    CONSULTATION = "consultation"  # consult: the fee of an online follow-up consultation


@dataclass(frozen=True)
class OrderRef:
    kind: OrderKind
    id: int

    def __post_init__(self) -> None:
        if not isinstance(self.kind, OrderKind):
            raise TypeError(f"kind must be an OrderKind, not {self.kind!r}")
        if not is_id(self.id):
            raise ValueError(f"an order reference's id must be an id, not {self.id!r}")

    @classmethod
    def appointment(cls, appointment_id: int) -> OrderRef:
        return cls(OrderKind.APPOINTMENT, appointment_id)

    @classmethod
    def walk_in(cls, walk_in_id: int) -> OrderRef:
        return cls(OrderKind.WALK_IN, walk_in_id)

    @classmethod
    def visit_order(cls, order_id: int) -> OrderRef:
        return cls(OrderKind.VISIT_ORDER, order_id)

    @classmethod
    def ticket(cls, ticket_id: int) -> OrderRef:
        return cls(OrderKind.TICKET, ticket_id)

    @classmethod
    def consultation(cls, consultation_id: int) -> OrderRef:
        return cls(OrderKind.CONSULTATION, consultation_id)

    def format(self) -> str:
        return f"{self.kind.value}:{self.id}"

    def __str__(self) -> str:
        return self.format()

    @classmethod
    def parse(cls, text: str) -> OrderRef:
        """Read `<kind>:<id>`; ValueError for anything else (unknown kind, a non-id after it)."""
        if not isinstance(text, str):
            raise ValueError(f"an order reference is text, not {text!r}")
        kind_text, colon, id_text = text.partition(":")
        if not colon:
            raise ValueError(f"{text[:80]!r} is not an order reference (<kind>:<id>)")
        try:
            kind = OrderKind(kind_text)
        except ValueError:
            raise ValueError(f"{kind_text[:40]!r} is not a kind of order reference") from None
        # Only plain ASCII digits without a sign or leading zero: one text form per reference.
        if not (id_text.isascii() and id_text.isdigit()) or id_text.startswith("0"):
            raise ValueError(f"{id_text[:40]!r} is not an id")
        if len(id_text) > len(str(MAX_ID)):
            raise ValueError(f"{id_text[:40]!r} is not an id")
        return cls(kind, int(id_text))

    @classmethod
    def read(cls, text: str | None) -> OrderRef | None:
        """Like parse, but None for text that is not a reference (an order of no kind we know)."""
        try:
            return cls.parse(text or "")
        except ValueError:
            return None
