"""Values a server computes once and shares with every session: loaded models, next-token logits,
generations. Unlike `st.cache_data`, the computation runs in the caller's own script, so that it
can wait for a model slot and tell its user so.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

Value = TypeVar("Value")


class SharedLRU(Generic[Value]):
    """At most ``capacity`` values, the least recently used going first; concurrent requests for
    the same key compute it once (the others wait for that result).

    >>> shared = SharedLRU(2)
    >>> shared.get("a", lambda: 1), shared.get("a", lambda: 2), shared.computed
    (1, 1, 1)
    """

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._lock = threading.Lock()
        self._computing: dict[Hashable, threading.Lock] = {}
        self._values: OrderedDict[Hashable, Value] = OrderedDict()
        self.computed = 0
        """How many values were computed (for tests and the benchmarks)."""

    def peek(self, key: Hashable) -> Value | None:
        with self._lock:
            if key in self._values:
                self._values.move_to_end(key)
                return self._values[key]
            return None

    def get(self, key: Hashable, compute: Callable[[], Value]) -> Value:
        """The value of ``key``, computed by ``compute`` if nobody has it yet."""
        value = self.peek(key)
        if value is not None:
            return value
        with self._lock:
            computing = self._computing.setdefault(key, threading.Lock())
        with computing:
            value = self.peek(key)  # computed by whoever held the lock before us
            if value is not None:
                return value
            try:
                value = compute()
            finally:  # a failed key leaves no lock behind: nothing grows with distinct failures
                with self._lock:
                    self._computing.pop(key, None)
            with self._lock:
                self.computed += 1
                self._values[key] = value
                while len(self._values) > self.capacity:
                    self._values.popitem(last=False)
            return value

    def clear(self) -> None:
        with self._lock:
            self._values.clear()
