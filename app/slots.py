"""A bound on concurrent model calls that also tells whether a new caller will have to wait."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

import streamlit as st


class ModelSlots:
    """At most ``size`` model calls at once in the process; the others wait their turn.

    >>> slots = ModelSlots(1)
    >>> with slots.hold():
    ...     slots.full
    True
    """

    def __init__(self, size: int) -> None:
        self.size = size
        self._semaphore = threading.BoundedSemaphore(size)
        self._count_lock = threading.Lock()
        self._busy = 0

    @property
    def full(self) -> bool:
        """Every slot is taken: a new call would queue."""
        return self._busy >= self.size

    @contextmanager
    def hold(self) -> Iterator[None]:
        with self._semaphore:
            with self._count_lock:
                self._busy += 1
            try:
                yield
            finally:
                with self._count_lock:
                    self._busy -= 1


@st.cache_resource
def shared_slots(size: int) -> ModelSlots:
    """The process-wide slots, shared by every session (a lock made in the script would be made
    anew on every rerun)."""
    return ModelSlots(size)
