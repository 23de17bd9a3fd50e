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
from collections.abc import Callable

from app.shared import SharedLRU
from app.slots import ModelSlots
from sampling.models import ModelHandle, ModelLoadError


MAX_REMEMBERED_FAILURES = 64
"""Failed loads remembered at once: bounded, so that distinct bad names cannot grow the server."""


class ModelRegistry:
    """>>> registry = ModelRegistry(lambda name: name.upper(), capacity=1, failure_ttl=60, slots=ModelSlots(1))
    >>> registry.get("a"), registry.get("a"), registry.loads
    ('A', 'A', 1)
    """

    def __init__(self, loader: Callable[[str], ModelHandle], capacity: int, failure_ttl: float,
                 slots: ModelSlots) -> None:
        self._loader = loader
        self._failure_ttl = failure_ttl
        self._slots = slots
        self._models: SharedLRU[ModelHandle] = SharedLRU(capacity)
        self._failures: dict[str, tuple[float, str]] = {}
        self._lock = threading.Lock()

    @property
    def loads(self) -> int:
        """How many times a model was actually loaded (for tests and the benchmarks)."""
        return self._models.computed

    def loaded(self, name: str) -> bool:
        """Whether ``name`` is loaded now (a call to `get` returns at once)."""
        return self._models.peek(name) is not None

    def get(self, name: str) -> ModelHandle:
        """The loaded model ``name``; loads it (once, whoever asks at the same time) if needed.
        Raises `ModelLoadError`, also for a recent failure of the same model."""
        with self._lock:
            failed = self._failures.get(name)
            if failed is not None and time.monotonic() - failed[0] < self._failure_ttl:
                raise ModelLoadError(failed[1])
        return self._models.get(name, lambda: self._load(name))

    def _load(self, name: str) -> ModelHandle:
        try:
            with self._slots.hold():
                return self._loader(name)
        except ModelLoadError as error:
            with self._lock:
                self._failures[name] = (time.monotonic(), str(error))
                while len(self._failures) > MAX_REMEMBERED_FAILURES:  # oldest first: dicts keep insertion order
                    self._failures.pop(next(iter(self._failures)))
            raise
