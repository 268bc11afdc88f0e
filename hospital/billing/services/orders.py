"""Create orders (registration, walk-in, visit) and apply insurance to a pending one."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from flask import current_app
from flask_babel import lazy_gettext as _l

from hospital.accounts.models import Account, Role
from hospital.audit.service import record
from hospital.billing.insurance import Line
from hospital.billing.models import (
    CURRENCY,
    FeeItem,
    ItemCategory,
    LedgerEntry,
    LedgerKind,
    Order,
    OrderItem,
    OrderPurpose,
    OrderStatus,
    RegistrationFee,
)
from hospital.billing.providers.registry import insurance_adapter
from hospital.billing.references import OrderRef
from hospital.billing.services.ledger import _ledger, _locked_order, _order_for
from hospital.db import db
from hospital.error_codes import ErrorCode
from hospital.errors import Conflict, Forbidden, InvalidInput, NotFound
from hospital.money import format_fen
from hospital.notifications.messages import MessageTemplate
from hospital.organisation.models import Hospital
from hospital.patients.access import Permission
from hospital.patients.models import Patient
from hospital.sql_fragments import CteFragment, cte_fragment

STAFF_ORDERING_ROLES = (Role.CLINICIAN, Role.CASHIER, Role.ADMIN)

# The message _tell_ordered sends; hospital.billing.wiring.connect registers it.
MESSAGE_TEMPLATES = {
    "billing.order_created": MessageTemplate(
        subject=_l("New order: {amount} to pay"),
        body=_l(
            "{hospital}: ordered for {patient}: {items}, {amount} in all. Pay from your phone "
            "and you get your number at the next counter: {link}"
        ),
    ),
}


def _registration_order_rows(new_order: Any) -> tuple[Any, Any]:
    """The item and ledger inserts of a new registration order whose id `new_order.c.id` gives."""
    fee = RegistrationFee.__table__
    item = sa.insert(OrderItem.__table__).from_select(
        [
            "hospital_id",
            "order_id",
            "category",
            "name_zh",
            "name_en",
            "unit_price_fen",
            "quantity",
            "amount_fen",
            "insurance_fen",
        ],
        sa.select(
            sa.bindparam("hospital_id", type_=sa.Integer),
            new_order.c.id,
            sa.literal(ItemCategory.REGISTRATION.value, sa.String),
            sa.func.coalesce(fee.c.name_zh, "挂号费"),
            sa.func.coalesce(fee.c.name_en, "Registration fee"),
            sa.bindparam("fee_fen", type_=sa.Integer),
            sa.literal(1, sa.Integer),
            sa.bindparam("fee_fen", type_=sa.Integer),
            sa.literal(0, sa.Integer),
        ).select_from(
            new_order.outerjoin(
                fee,
                sa.and_(
                    fee.c.hospital_id == sa.bindparam("hospital_id", type_=sa.Integer),
                    fee.c.fee_class == sa.bindparam("fee_class", type_=sa.String),
                ),
            )
        ),
    )
    ledger_table = LedgerEntry.__table__
    ledger = sa.insert(ledger_table).from_select(
        ["hospital_id", "at", "kind", "order_id", "amount_fen", "detail"],
        sa.select(
            sa.bindparam("hospital_id", type_=sa.Integer),
            sa.bindparam("now", type_=ledger_table.c.at.type),
            sa.literal(LedgerKind.ORDER_CREATED.value, sa.String),
            new_order.c.id,
            sa.bindparam("fee_fen", type_=sa.Integer),
            sa.bindparam("empty_detail", value={}, type_=ledger_table.c.detail.type),
        ).select_from(new_order),
    )
    return item, ledger


def _new_order_insert(after: str | None = None) -> Any:
    """Insert the pending registration order unless its reference exists; return its id.

    With `after` (the name of a relation of the statement this runs in), only when that
    relation has a row: the order of a hold inserted by the same statement.
    """
    order = Order.__table__
    columns: dict[str, sa.ColumnElement[Any]] = {
        "hospital_id": sa.bindparam("hospital_id", type_=sa.Integer),
        "patient_id": sa.bindparam("patient_id", type_=sa.Integer),
        "purpose": sa.literal(OrderPurpose.REGISTRATION.value, sa.String),
        "reference": sa.bindparam("reference", type_=sa.String),
        "visit_key": sa.bindparam("reference", type_=sa.String),
        "status": sa.literal(OrderStatus.PENDING.value, sa.String),
        "currency": sa.literal(CURRENCY, sa.String),
        "total_fen": sa.bindparam("fee_fen", type_=sa.Integer),
        "insurance_fen": sa.literal(0, sa.Integer),
        "self_pay_fen": sa.bindparam("fee_fen", type_=sa.Integer),
        "expires_at": sa.bindparam("expires_at", type_=order.c.expires_at.type),
        "created_by_account_id": sa.bindparam("account_id", type_=sa.Integer),
        "created_at": sa.bindparam("now", type_=order.c.created_at.type),
    }
    exists = sa.exists().where(
        order.c.hospital_id == sa.bindparam("hospital_id", type_=sa.Integer),
        order.c.reference == sa.bindparam("reference", type_=sa.String),
    )
    # Not ON CONFLICT: the dialects' own insert constructs are not cached by SQLAlchemy, and this
    # runs once per successful hold. A concurrent duplicate would fail on the unique constraint.
    select = sa.select(*columns.values()).where(~exists)
    if after is not None:
        select = select.where(
            sa.exists(sa.select(sa.literal_column("1")).select_from(sa.table(after)))
        )
    return sa.insert(order).from_select(list(columns), select).returning(order.c.id)


# Every successful hold creates a registration order inside the hold's transaction, so during a
# release rush these statements are built once: on PostgreSQL the order, its item and its ledger
# entry are one round trip (data-modifying CTEs); SQLite runs the same three inserts in turn.
_PG_NEW_ORDER = _new_order_insert().cte("new_order")
_PG_ITEM, _PG_LEDGER = _registration_order_rows(_PG_NEW_ORDER)
_PG_REGISTRATION_ORDER = _PG_LEDGER.add_cte(_PG_ITEM.cte("new_item")).returning(
    LedgerEntry.__table__.c.order_id
)
_SQLITE_NEW_ORDER = _new_order_insert()
_SQLITE_ITEM, _SQLITE_LEDGER = _registration_order_rows(
    sa.select(sa.bindparam("order_id", type_=sa.Integer).label("id")).subquery("new_order")
)


@functools.cache
def registration_order_fragment(after: str) -> CteFragment:
    """A held appointment's registration order (order, item, ledger entry) as CTEs to run
    inside the statement that inserts the hold (PostgreSQL), after its relation `after`: they
    write only when that relation has a row. Their values: `registration_order_values`."""
    new_order = sa.table("new_registration_order", sa.column("id"))
    item, ledger = _registration_order_rows(new_order)
    return cte_fragment(
        "reg_",
        [
            ("new_registration_order", _new_order_insert(after)),
            ("new_registration_item", item.returning(OrderItem.__table__.c.id)),
            ("new_registration_ledger", ledger.returning(LedgerEntry.__table__.c.id)),
        ],
    )


def registration_order_values(
    *,
    hospital_id: int,
    patient_id: int,
    appointment_id: int,
    fee_fen: int,
    fee_class: str,
    expires_at: datetime | None,
    account_id: int | None,
    now: datetime,
) -> dict[str, Any] | None:
    """What a held appointment's registration order is made of; None when the fee is zero."""
    if fee_fen <= 0:
        return None
    return {
        "hospital_id": hospital_id,
        "patient_id": patient_id,
        "reference": OrderRef.appointment(appointment_id).format(),
        "fee_fen": fee_fen,
        "fee_class": fee_class,
        "expires_at": expires_at,
        "account_id": account_id,
        "now": now,
    }


def create_registration_order(values: dict[str, Any] | None) -> int | None:
    """Create a held appointment's registration-fee order (`registration_order_values`) and
    return its id; None when it is free or the appointment already has its order."""
    return None if values is None else _insert_registration_order(values)


def registration_fee_fen(hospital_id: int, fee_class: str) -> int:
    """The active registration fee of a fee class; 0 when the hospital charges none for it."""
    amount = db.session.scalar(
        sa.select(RegistrationFee.amount_fen).where(
            RegistrationFee.hospital_id == hospital_id,
            RegistrationFee.fee_class == fee_class,
            RegistrationFee.is_active.is_(True),
        )
    )
    return int(amount or 0)


def walk_in_fee_fen(hospital_id: int, *, fee_class: str) -> int:
    """What a same-day walk-in ticket costs: the fee of the walk-in fee class (0: free).

    The fee class is the caller's setting (the kiosk's KIOSK_WALK_IN_FEE_CLASS).
    """
    return registration_fee_fen(hospital_id, fee_class)


def create_walk_in_order(
    *,
    hospital_id: int,
    patient_id: int,
    walk_in_id: int,
    fee_class: str,
    account_id: int | None,
    now: datetime,
    expires_at: datetime | None = None,
) -> Order | None:
    """The registration-fee order of a same-day walk-in (no appointment); None when it is free.

    Its fee is the schedule's price of the walk-in fee class, never an amount from the caller.
    When it is paid, order_paid carries the reference `walk-in:<id>` and the module that owns
    the walk-in answers whether it could still serve it (False: billing refunds it in full).
    """
    fee_fen = registration_fee_fen(hospital_id, fee_class)
    if fee_fen <= 0:
        return None
    order_id = _insert_registration_order(
        {
            "hospital_id": hospital_id,
            "patient_id": patient_id,
            "reference": OrderRef.walk_in(walk_in_id).format(),
            "fee_fen": fee_fen,
            "fee_class": fee_class,
            "expires_at": expires_at,
            "account_id": account_id,
            "now": now,
        }
    )
    if order_id is None:
        raise Conflict(
            _l("This walk-in registration already has its order. Start again."),
            code=ErrorCode.WALK_IN_ORDER_EXISTS,
        )
    return db.session.get(Order, order_id)


def _insert_registration_order(params: dict[str, Any]) -> int | None:
    """Insert a pending registration order with its item and ledger entry; None if it exists."""
    if db.session.get_bind().dialect.name == "postgresql":
        return db.session.execute(_PG_REGISTRATION_ORDER, params).scalar()
    order_id = db.session.execute(_SQLITE_NEW_ORDER, params).scalar()
    if order_id is None:
        return None
    params["order_id"] = order_id
    db.session.execute(_SQLITE_ITEM, params)
    db.session.execute(_SQLITE_LEDGER, params)
    return order_id


def create_consultation_order(
    *,
    hospital_id: int,
    patient_id: int,
    consultation_id: int,
    fee_fen: int,
    expires_at: datetime | None,
    account_id: int | None,
    now: datetime,
) -> Order | None:
    """The fee order of an online follow-up consultation; None when it is free.

    Its amount is the clinician's consultation fee, read by the consult package from its own
    settings. When it is paid, order_paid carries `consultation:<id>` and the consult package
    answers whether the consultation still waits for it (False: billing refunds it in full).
    """
    if fee_fen <= 0:
        return None
    order = Order(
        hospital_id=hospital_id,
        patient_id=patient_id,
        purpose=OrderPurpose.REGISTRATION,
        reference=OrderRef.consultation(consultation_id).format(),
        visit_key=OrderRef.consultation(consultation_id).format(),
        status=OrderStatus.PENDING,
        currency=CURRENCY,
        total_fen=fee_fen,
        insurance_fen=0,
        self_pay_fen=fee_fen,
        expires_at=expires_at,
        created_by_account_id=account_id,
        created_at=now,
    )
    db.session.add(order)
    db.session.flush()
    db.session.add(
        OrderItem(
            hospital_id=hospital_id,
            order_id=order.id,
            category=ItemCategory.CONSULTATION,
            name_zh="在线复诊咨询费",
            name_en="Online follow-up consultation",
            unit_price_fen=fee_fen,
            quantity=1,
            amount_fen=fee_fen,
        )
    )
    db.session.flush()
    db.session.refresh(order)
    _ledger(order, LedgerKind.ORDER_CREATED, now=now, amount_fen=fee_fen)
    return order


@dataclass(frozen=True)
class ItemRequest:
    fee_item_id: int
    quantity: int


def create_visit_order(
    *, actor: Account, patient_id: int, items: Sequence[ItemRequest], visit_key: str, now: datetime
) -> Order:
    """Staff order tests, imaging, medicines or procedures for a patient; prices from the schedule."""
    if not actor.has_role(*STAFF_ORDERING_ROLES):
        raise Forbidden(
            _l("Only clinicians and cashiers can add orders."), code=ErrorCode.ROLE_REQUIRED
        )
    patient = db.session.get(Patient, patient_id)
    if patient is None or patient.hospital_id != actor.hospital_id:
        raise NotFound(_l("No patient with this id."), code=ErrorCode.PATIENT_NOT_FOUND)
    if not items:
        raise InvalidInput(_l("Add at least one item to the order."), code=ErrorCode.ORDER_EMPTY)
    wanted = {i.fee_item_id for i in items}
    fee_items = {
        f.id: f
        for f in db.session.scalars(
            sa.select(FeeItem).where(
                FeeItem.id.in_(wanted),
                FeeItem.hospital_id == actor.hospital_id,
                FeeItem.is_active.is_(True),
            )
        )
    }
    unknown = sorted(wanted - fee_items.keys())
    if unknown:
        raise InvalidInput(
            _l("These items are not in the fee schedule: {ids}.").format(
                ids=", ".join(map(str, unknown))
            ),
            code=ErrorCode.UNKNOWN_FEE_ITEM,
        )
    total = sum(fee_items[i.fee_item_id].price_fen * i.quantity for i in items)
    order = Order(
        hospital_id=actor.hospital_id,
        patient_id=patient.id,
        purpose=OrderPurpose.VISIT,
        reference=None,
        visit_key=visit_key,
        status=OrderStatus.PENDING,
        currency=CURRENCY,
        total_fen=total,
        insurance_fen=0,
        self_pay_fen=total,
        created_by_account_id=actor.id,
        created_at=now,
    )
    db.session.add(order)
    db.session.flush()
    order.reference = OrderRef.visit_order(order.id).format()
    for request_item in items:
        fee_item = fee_items[request_item.fee_item_id]
        db.session.add(
            OrderItem(
                hospital_id=order.hospital_id,
                order_id=order.id,
                fee_item_id=fee_item.id,
                category=fee_item.category,
                name_zh=fee_item.name_zh,
                name_en=fee_item.name_en,
                unit_price_fen=fee_item.price_fen,
                quantity=request_item.quantity,
                amount_fen=fee_item.price_fen * request_item.quantity,
            )
        )
    db.session.flush()
    db.session.refresh(order)
    _ledger(order, LedgerKind.ORDER_CREATED, now=now, amount_fen=total, actor=actor)
    record(
        action="billing.order_created",
        actor=actor,
        object_type="billing_order",
        object_id=str(order.id),
        patient_id=patient.id,
    )
    _tell_ordered(order, patient, now=now)
    return order


def pay_link(order: Order) -> str:
    """The absolute link of the order's payment page (for messages sent off the web)."""
    base = str(current_app.config.get("PUBLIC_URL", "") or "")
    return f"{base.rstrip('/')}/billing/orders/{order.id}/pay"


def _tell_ordered(order: Order, patient: Patient, *, now: datetime) -> None:
    """Tell the patient and every family account with the pay right what to pay, and where."""
    from hospital.notifications.service import notify_patient
    from hospital.patients.identity import mask_name

    hospital = db.session.get(Hospital, order.hospital_id)
    if hospital is None:
        return
    notify_patient(
        patient,
        "billing.order_created",
        {
            "hospital": hospital.name_zh,
            "patient": mask_name(patient.name),
            "items": "; ".join(f"{i.name_zh} {i.name_en} x{i.quantity}" for i in order.items),
            "amount": format_fen(order.self_pay_fen),
            "link": pay_link(order),
        },
        now=now,
        dedupe_key=f"billing:order-created:{order.id}",
        family_permission=Permission.PAY,
    )


def apply_insurance(order_id: int, *, actor: Account, now: datetime) -> Order:
    """Split a pending order into the insured share and the patient's self-pay part."""
    order = _order_for(order_id, Permission.PAY, actor=actor)
    order = _locked_order(order.id)
    if order.status != OrderStatus.PENDING:
        raise Conflict(
            _l("This order is no longer waiting for payment."), code=ErrorCode.ORDER_NOT_PAYABLE
        )
    if order.insurance_applied:
        return order
    used = db.session.scalar(
        sa.select(sa.func.coalesce(sa.func.sum(Order.deductible_fen), 0)).where(
            Order.hospital_id == order.hospital_id,
            Order.patient_id == order.patient_id,
            Order.visit_key == order.visit_key,
            Order.insurance_applied.is_(True),
            Order.id != order.id,
            Order.status.notin_([OrderStatus.CANCELLED, OrderStatus.EXPIRED]),
        )
    )
    adapter = insurance_adapter(current_app.config)
    split = adapter.quote(
        [Line(item.id, item.category.value, item.amount_fen) for item in order.items],
        deductible_used_fen=int(used or 0),
    )
    for item in order.items:
        item.insurance_fen = split.covered_by_line.get(item.id, 0)
    order.insurance_fen = split.insurance_fen
    order.self_pay_fen = order.total_fen - split.insurance_fen
    order.deductible_fen = split.deductible_applied_fen
    order.insurance_applied = True
    db.session.flush()
    _ledger(
        order,
        LedgerKind.INSURANCE_APPLIED,
        now=now,
        amount_fen=order.insurance_fen,
        actor=actor,
        detail={"self_pay_fen": order.self_pay_fen, "deductible_fen": order.deductible_fen},
    )
    return order
