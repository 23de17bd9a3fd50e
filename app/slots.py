"""A fair queue for model work: at most ``size`` calls run at once, the others wait in arrival order.

- A request that waits can say so: its place in the queue and how long it has waited.
- One session holds at most one place: a newer request of the same session takes over, and the
  older one leaves the queue without running (the user has moved on).
- A request whose session has gone (the browser tab closed) leaves the queue before it starts.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import streamlit as st

POLL_SECONDS = 0.5


class LeftTheQueue(Exception):
    """A waiting request was dropped before it ran: its session has gone, or a newer request of
    the same session replaced it."""


@dataclass(eq=False)
class _Ticket:
    owner: str | None
    arrived: float = field(default_factory=time.monotonic)
    replaced: bool = False


class ModelSlots:
    """At most ``size`` model calls at once in the process; the others wait their turn.

    >>> slots = ModelSlots(1)
    >>> with slots.hold():
    ...     slots.full
    True
    """

    def __init__(self, size: int) -> None:
        self.size = size
        self._condition = threading.Condition()
        self._running = 0
        self._waiting: list[_Ticket] = []

    @property
    def full(self) -> bool:
        """Every slot is taken, or others are already waiting: a new call would queue."""
        with self._condition:
            return self._running >= self.size or bool(self._waiting)

    @contextmanager
    def hold(
        self,
        owner: str | None = None,
        still_wanted: Callable[[], bool] = lambda: True,
        while_waiting: Callable[[int, float], None] | None = None,
    ) -> Iterator[None]:
        """Run the block in a slot, after every request that arrived earlier.

        ``owner`` (a session id) replaces that owner's earlier waiting request. ``still_wanted`` is
        asked every half second while waiting; False drops the request. ``while_waiting`` is told
        the place in the queue (1 = next) and the seconds waited, every half second.
        Raises `LeftTheQueue` when the request was dropped.
        """
        ticket = _Ticket(owner)
        with self._condition:
            if owner is not None:
                for other in self._waiting:
                    if other.owner == owner:
                        other.replaced = True
            self._waiting.append(ticket)
            self._condition.notify_all()
        try:
            self._wait_for_turn(ticket, still_wanted, while_waiting)
        except BaseException:
            # Dropped, or the waiting script was stopped (Streamlit raises in it): leave the queue.
            with self._condition:
                self._waiting.remove(ticket)
                self._condition.notify_all()
            raise
        try:
            yield
        finally:
            with self._condition:
                self._running -= 1
                self._condition.notify_all()

    def _wait_for_turn(self, ticket: _Ticket, still_wanted: Callable[[], bool],
                       while_waiting: Callable[[int, float], None] | None) -> None:
        while True:
            # Asked before every chance to run, so that work nobody waits for never starts.
            if not still_wanted():
                raise LeftTheQueue("the session that asked for this has gone")
            with self._condition:
                if ticket.replaced:
                    raise LeftTheQueue("a newer request of the same session replaced this one")
                ahead = [other for other in self._waiting if not other.replaced]
                place = ahead.index(ticket) + 1
                if self._running < self.size and place == 1:
                    self._waiting.remove(ticket)
                    self._running += 1
                    return
            if while_waiting is not None:
                while_waiting(place, time.monotonic() - ticket.arrived)
            with self._condition:
                self._condition.wait(timeout=POLL_SECONDS)


@st.cache_resource
def shared_slots(size: int, lane: str = "long") -> ModelSlots:
    """The process-wide slots of one lane, shared by every session (a lock made in the script would
    be made anew on every rerun). Short work (a prompt pass, one step) has a lane of its own, so
    that it never waits behind sampling or loading."""
    return ModelSlots(size)
