"""The ordering policy under Hypothesis: bounded waits, the priority ratio, honest explanations."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from queueing import ordering
from queueing.ordering import Policy, Waiting

NOW = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)
CLASSES = ["none", "none", "none", "elderly", "disability", "pregnancy", "returning", "emergency"]


@st.composite
def queues(draw, *, with_emergencies: bool = True):
    n = draw(st.integers(0, 40))
    tickets = []
    for i in range(n):
        minutes = draw(st.integers(0, 180))
        cls = draw(st.sampled_from(CLASSES if with_emergencies else CLASSES[:-1]))
        key = NOW - timedelta(minutes=minutes)
        tickets.append(Waiting(id=i + 1, number=i + 1, priority=cls, order_key=key, arrived_at=key))
    return tickets


def regular_position_bound(index_in_lane: int, *, ratio: int, emergencies: int) -> int:
    """The latest 0-based position the index-th regular ticket can be placed at (no starvation)."""
    return emergencies + index_in_lane + index_in_lane // max(ratio, 1) + 1


ratios = st.integers(1, 5)
since = st.integers(0, 6)
no_ageing = Policy(ageing=timedelta(days=365))


@settings(max_examples=200)
@given(queues(), ratios, since)
def test_every_ticket_is_placed_exactly_once(waiting, ratio, s):
    placed = ordering.order(
        waiting, policy=Policy(priority_ratio=ratio), regular_since_priority=s, now=NOW
    )
    assert sorted(p.ticket.id for p in placed) == sorted(t.id for t in waiting)
    assert [p.position for p in placed] == list(range(len(waiting)))


@settings(max_examples=200)
@given(queues(), ratios, since)
def test_no_regular_ticket_waits_beyond_the_bound(waiting, ratio, s):
    policy = Policy(priority_ratio=ratio, ageing=timedelta(days=365))
    placed = ordering.order(waiting, policy=policy, regular_since_priority=s, now=NOW)
    emergencies = sum(1 for t in waiting if t.priority == "emergency")
    regular = [p for p in placed if p.ticket.priority == "none"]
    for index, placement in enumerate(regular):
        bound = regular_position_bound(index, ratio=ratio, emergencies=emergencies)
        assert placement.position <= bound


@settings(max_examples=200)
@given(queues(with_emergencies=False), ratios, since)
def test_priority_ratio_is_respected_while_regular_tickets_wait(waiting, ratio, s):
    placed = ordering.order(
        waiting,
        policy=Policy(priority_ratio=ratio, ageing=timedelta(days=365)),
        regular_since_priority=s,
        now=NOW,
    )
    regular_left = sum(1 for t in waiting if t.priority == "none")
    run = s
    for p in placed:
        if p.ticket.priority == "none":
            regular_left -= 1
            run += 1
        else:
            if regular_left > 0:
                assert run >= ratio, "a priority ticket jumped in before its turn"
            run = 0


@settings(max_examples=200)
@given(queues(), ratios, since)
def test_explanations_match_the_order(waiting, ratio, s):
    placed = ordering.order(
        waiting, policy=Policy(priority_ratio=ratio), regular_since_priority=s, now=NOW
    )
    for p in placed:
        if p.reason == ordering.REASON_EMERGENCY:
            assert p.ticket.priority == "emergency"
        elif p.reason in (ordering.REASON_PRIORITY_TURN, ordering.REASON_ONLY_PRIORITY):
            assert p.ticket.priority not in ("none", "emergency")
            assert p.detail["class"] == p.ticket.priority
        else:
            assert p.ticket.priority == "none"
    emergencies = [p.position for p in placed if p.ticket.priority == "emergency"]
    assert emergencies == list(range(len(emergencies)))
    head = ordering.next_ticket(
        waiting, policy=Policy(priority_ratio=ratio), regular_since_priority=s, now=NOW
    )
    assert (head is None) == (not waiting)
    if head:
        assert (head.ticket.id, head.reason) == (placed[0].ticket.id, placed[0].reason)


@given(queues(with_emergencies=False), ratios)
def test_a_regular_ticket_waiting_past_the_ageing_limit_is_not_passed_by_priority(waiting, ratio):
    policy = Policy(priority_ratio=ratio, ageing=timedelta(minutes=60))
    placed = ordering.order(waiting, policy=policy, regular_since_priority=ratio, now=NOW)
    regular = sorted(
        (t for t in waiting if t.priority == "none"), key=lambda t: (t.order_key, t.number)
    )
    if placed and regular and NOW - regular[0].arrived_at >= policy.ageing:
        assert placed[0].ticket.id == regular[0].id
        assert placed[0].reason in (ordering.REASON_WAITED_LONG, ordering.REASON_ARRIVAL)


def test_booked_patient_keeps_the_slot_within_the_grace_then_counts_as_walk_in():
    slot = NOW
    grace = timedelta(minutes=10)
    early = ordering.arrival_order_key(
        slot_start=slot, arrived_at=slot - timedelta(minutes=30), grace=grace
    )
    late = ordering.arrival_order_key(
        slot_start=slot, arrived_at=slot + timedelta(minutes=11), grace=grace
    )
    assert early == slot
    assert late == slot + timedelta(minutes=11)


def test_missed_ticket_goes_behind_the_setback_th_waiting_ticket():
    keys = [NOW + timedelta(minutes=m) for m in range(5)]
    key = ordering.order_key_after_miss(keys, setback=3, now=NOW)
    assert keys[2] < key < keys[3]
    assert ordering.order_key_after_miss([], setback=3, now=NOW) == NOW
    assert ordering.order_key_after_miss(keys[:2], setback=3, now=NOW) > keys[1]


def test_only_priority_is_never_said_while_a_regular_patient_waits():
    """Seen on the console: "only priority patients are waiting" beside a waiting regular
    patient (a priority ticket projected after the regular ones)."""
    base = NOW - timedelta(minutes=10)
    waiting = [
        Waiting(1, 1, "none", base, base),
        Waiting(2, 2, "elderly", base + timedelta(minutes=1), base + timedelta(minutes=1)),
    ]
    placed = ordering.order(
        waiting, policy=Policy(priority_ratio=2), regular_since_priority=0, now=NOW
    )
    assert [p.ticket.id for p in placed] == [1, 2]
    assert all(p.reason != ordering.REASON_ONLY_PRIORITY for p in placed)
    assert placed[1].reason == ordering.REASON_PRIORITY_TURN
    # With nobody regular waiting, it is said.
    alone = ordering.order(
        waiting[1:], policy=Policy(priority_ratio=2), regular_since_priority=0, now=NOW
    )
    assert alone[0].reason == ordering.REASON_ONLY_PRIORITY
