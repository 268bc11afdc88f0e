"""Property: the ordering never starves a regular patient past the ageing bound, and when a later
arrival is called first, the reason a passed patient is shown follows from the reason the
ordering used for that call."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from queueing import fairness, ordering

START = datetime(2026, 3, 2, 0, 0, tzinfo=UTC)
AGEING = timedelta(minutes=60)
CLASSES = ["none", "none", "none", "elderly", "disability", "pregnancy", "returning", "emergency"]

arrival = st.tuples(
    st.integers(min_value=0, max_value=240),  # minute of arrival
    st.sampled_from(CLASSES),
    st.one_of(st.none(), st.integers(min_value=0, max_value=240)),  # booked slot minute
    st.integers(min_value=0, max_value=1),  # missed a call before
)


@settings(max_examples=150, deadline=None)
@given(
    arrivals=st.lists(arrival, min_size=1, max_size=40),
    ratio=st.integers(min_value=1, max_value=4),
    service=st.integers(min_value=1, max_value=12),
)
def test_no_starvation_and_the_reason_shown_is_the_ordering_s(arrivals, ratio, service):
    policy = ordering.Policy(priority_ratio=ratio, ageing=AGEING)
    grace = timedelta(minutes=10)
    pending = []
    for number, (minute, priority, slot, misses) in enumerate(
        sorted(arrivals, key=lambda a: a[0]), start=1
    ):
        arrived = START + timedelta(minutes=minute)
        slot_start = START + timedelta(minutes=slot) if slot is not None else None
        key = ordering.arrival_order_key(slot_start=slot_start, arrived_at=arrived, grace=grace)
        pending.append(ordering.Waiting(number, number, priority, key, arrived, slot_start, misses))
    waiting: list[ordering.Waiting] = []
    since = 0
    now = START
    while pending or waiting:
        waiting += [t for t in pending if t.arrived_at <= now]
        pending = [t for t in pending if t.arrived_at > now]
        if not waiting:
            now = pending[0].arrived_at
            continue
        placed = ordering.next_ticket(waiting, policy=policy, regular_since_priority=since, now=now)
        assert placed is not None
        called = placed.ticket
        if called.priority not in (ordering.NO_PRIORITY, ordering.EMERGENCY):
            # The bound: nobody regular who has waited the ageing time is passed by priority.
            assert all(
                now - t.arrived_at < AGEING
                for t in waiting
                if t.priority == ordering.NO_PRIORITY and t is not called
            )
        passed = [t for t in waiting if t.arrived_at < called.arrived_at]
        if passed:
            shown = fairness.passing_reason(placed.reason, called.priority)
            if shown == ordering.REASON_EMERGENCY:
                assert called.priority == ordering.EMERGENCY
            elif shown.startswith(fairness.PRIORITY_PREFIX):
                assert placed.reason in (
                    ordering.REASON_PRIORITY_TURN,
                    ordering.REASON_ONLY_PRIORITY,
                )
                assert shown == fairness.PRIORITY_PREFIX + called.priority != "priority:none"
            elif shown == ordering.REASON_BOOKED_SLOT:
                assert called.slot_start is not None and called.order_key == called.slot_start
            elif shown == ordering.REASON_REQUEUED:
                assert called.misses > 0
            else:
                # Arrival order or a long wait: the called one stood earlier in its lane.
                assert shown in (ordering.REASON_ARRIVAL, ordering.REASON_WAITED_LONG)
                assert all(
                    (called.order_key, called.number) < (t.order_key, t.number)
                    for t in passed
                    if t.priority == called.priority == ordering.NO_PRIORITY
                )
        if called.priority == ordering.NO_PRIORITY:
            since += 1
        elif called.priority != ordering.EMERGENCY:
            since = 0
        waiting.remove(called)
        now += timedelta(minutes=service)
