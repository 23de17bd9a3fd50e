"""The models one server process keeps loaded, shared by every session.

- Each allowed model is loaded once: concurrent first requests for it wait for one load.
- It keeps as many models as it was sized for (by default every model of the allow-list), the least
  recently used going first when a new one needs room.
- A model that failed to load is remembered as failed for ``failure_ttl`` seconds, so every new
  session gets the same message at once instead of trying the load again.
- Loads take a model slot, like any other model work.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable

from app.slots import ModelSlots
from sampling.models import ModelHandle, ModelLoadError


class ModelRegistry:
    """>>> registry = ModelRegistry(lambda name: name.upper(), capacity=1, failure_ttl=60, slots=ModelSlots(1))
    >>> registry.get("a"), registry.get("a"), registry.loads
    ('A', 'A', 1)
    """

    def __init__(self, loader: Callable[[str], ModelHandle], capacity: int, failure_ttl: float,
                 slots: ModelSlots) -> None:
        self._loader = loader
        self._capacity = capacity
        self._failure_ttl = failure_ttl
        self._slots = slots
        self._lock = threading.Lock()
        self._loading: dict[str, threading.Lock] = {}
        self._models: OrderedDict[str, ModelHandle] = OrderedDict()
        self._failures: dict[str, tuple[float, str]] = {}
        self.loads = 0
        """How many times a model was actually loaded (for tests and the benchmarks)."""

    def _cached(self, name: str) -> ModelHandle | None:
        with self._lock:
            failed = self._failures.get(name)
            if failed is not None:
                if time.monotonic() - failed[0] < self._failure_ttl:
                    raise ModelLoadError(failed[1])
                del self._failures[name]
            if name in self._models:
                self._models.move_to_end(name)
                return self._models[name]
            return None

    def get(self, name: str) -> ModelHandle:
        """The loaded model ``name``; loads it (once, whoever asks at the same time) if needed.
        Raises `ModelLoadError`, also for a recent failure of the same model."""
        handle = self._cached(name)
        if handle is not None:
            return handle
        with self._lock:
            loading = self._loading.setdefault(name, threading.Lock())
        with loading:
            handle = self._cached(name)  # loaded by whoever held the lock before us
            if handle is not None:
                return handle
            try:
                with self._slots.hold():
                    handle = self._loader(name)
            except ModelLoadError as error:
                with self._lock:
                    self._failures[name] = (time.monotonic(), str(error))
                raise
            with self._lock:
                self.loads += 1
                self._models[name] = handle
                while len(self._models) > self._capacity:
                    self._models.popitem(last=False)
            return handle
