"""Request slots are handed out in arrival order: a newcomer never takes a slot from a waiter."""

from __future__ import annotations

import threading
import time

from hospital.app import RequestSlots


def _wait_until_queued(slots: RequestSlots, n: int) -> None:
    deadline = time.monotonic() + 10
    while len(slots._waiters) < n:
        assert time.monotonic() < deadline, "the waiter never queued"
        time.sleep(0.001)


def test_a_freed_slot_goes_to_the_longest_waiter_not_to_a_newcomer() -> None:
    slots = RequestSlots(1)
    assert slots.acquire(timeout=1)
    order: list[str] = []

    def wait(name: str) -> None:
        if slots.acquire(timeout=10):
            order.append(name)

    first = threading.Thread(target=wait, args=("first",))
    first.start()
    _wait_until_queued(slots, 1)
    second = threading.Thread(target=wait, args=("second",))
    second.start()
    _wait_until_queued(slots, 2)

    slots.release()
    assert not slots.acquire(timeout=0)  # the freed slot went to "first", not to us
    first.join(timeout=10)
    assert order == ["first"]

    slots.release()
    second.join(timeout=10)
    assert order == ["first", "second"]
    slots.release()
    assert slots.acquire(timeout=0)  # nobody waits: the slot is free again


def test_a_waiter_that_times_out_leaves_the_line() -> None:
    slots = RequestSlots(1)
    assert slots.acquire(timeout=1)
    assert not slots.acquire(timeout=0.01)
    assert len(slots._waiters) == 0
    slots.release()
    assert slots.acquire(timeout=0)
