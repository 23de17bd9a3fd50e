"""llama.cpp's default sampler chain: top_k → typical → top_p → min_p → temperature.

Two implementations compute it:

- **native**: llama.cpp's own samplers (``llama_sampler_init_*`` and ``llama_sampler_apply``) through
  ``llama-cpp-python``, when it is installed (``requirements-llama.txt``). The candidates array is
  passed from stage to stage exactly as in ``llama_sampler_chain_apply``, so the order of the
  array, its ``sorted`` flag, the choice among tied tokens and the float32 sums are llama.cpp's.
- **hand-written**: a NumPy port of the same functions of ``src/llama-sampler.cpp`` (0.3.36's
  copy), on the same candidates array with the same float32 arithmetic. It differs from the native
  one in the order it gives exactly tied tokens (it keeps their current order; llama.cpp's
  ``std::partial_sort`` and ``std::sort`` do not), and where llama.cpp's typical sampler computes a
  NaN entropy (some candidate has probability 0): there llama.cpp's sort sees only NaNs and keeps
  an almost arbitrary set, while this port keeps the candidates in their current order.

`implementation()` says which one runs.
"""

from __future__ import annotations

import ctypes
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache

import numpy as np
import torch

from sampling.engines.base import StageOutput

ORDER = ("top_k", "typical_p", "top_p", "min_p", "temperature")
NATIVE_REQUIREMENT = "llama-cpp-python==0.3.36"
FLOAT = np.float32


@cache
def native_module():
    """``llama_cpp`` when it can be imported, else None."""
    try:
        import llama_cpp
    except (ImportError, OSError):  # not installed, or its shared library does not load
        return None
    return llama_cpp


def implementation(native: bool | None = None) -> str:
    """A one-line description of what computes the llama.cpp order."""
    module = native_module()
    if native is not False and module is not None:
        return f"llama.cpp's own samplers (llama-cpp-python {module.__version__})"
    missing = f" ({NATIVE_REQUIREMENT} is not installed)" if module is None else ""
    return f"hand-written port of llama.cpp's samplers{missing}"


def float32_notes(active: dict[str, float]) -> dict[str, str]:
    """llama.cpp takes every parameter as a float32: say where that changes the setting."""
    notes = {}
    if "top_p" in active and FLOAT(active["top_p"]) >= 1:
        notes["top_p"] = f"llama.cpp stores top_p as float32: {active['top_p']!r} is 1, so top_p is off"
    return notes


def run(logits: torch.Tensor, stages: list[tuple[str, float]], native: bool | None = None) -> list[StageOutput]:
    """Run ``stages`` (name, value) in the given order on each row of ``logits`` ``[batch, vocab]``.

    ``native``: None uses llama.cpp itself when installed; True requires it; False uses the port.
    """
    module = native_module()
    if native and module is None:
        raise RuntimeError(f"llama.cpp's own samplers need {NATIVE_REQUIREMENT}: pip install -r requirements-llama.txt")
    chain = _native_row if (native is not False and module is not None) else _ported_row
    rows = logits.detach().to("cpu", torch.float32).numpy()
    per_row = [chain(row, stages) for row in rows]
    notes = float32_notes(dict(stages))
    return [
        StageOutput(
            name,
            value,
            torch.from_numpy(np.stack([outputs[index] for outputs in per_row])).to(logits.device),
            notes.get(name, ""),
        )
        for index, (name, value) in enumerate(stages)
    ]


def _full_row(vocab: int, ids: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Logits over the vocabulary: the candidates' values, ``-inf`` for every other token."""
    row = np.full(vocab, -np.inf, dtype=FLOAT)
    row[ids] = values
    return row


# --- llama.cpp itself ------------------------------------------------------------------------

TOKEN_DATA = np.dtype([("id", np.int32), ("logit", np.float32), ("p", np.float32)])

NATIVE_SAMPLERS: dict[str, Callable] = {
    "top_k": lambda llama, value: llama.llama_sampler_init_top_k(int(value)),
    "typical_p": lambda llama, value: llama.llama_sampler_init_typical(value, 0),
    "top_p": lambda llama, value: llama.llama_sampler_init_top_p(value, 0),
    "min_p": lambda llama, value: llama.llama_sampler_init_min_p(value, 0),
    # common/sampling.cpp builds the temperature stage with temp_ext; with no range it is plain temp.
    "temperature": lambda llama, value: llama.llama_sampler_init_temp_ext(value, 0.0, 1.0),
}


def _native_row(row: np.ndarray, stages: list[tuple[str, float]]) -> list[np.ndarray]:
    llama = native_module()
    data = np.empty(len(row), dtype=TOKEN_DATA)
    data["id"] = np.arange(len(row), dtype=np.int32)
    data["logit"] = row
    data["p"] = 0.0
    candidates = llama.llama_token_data_array(
        data=data.ctypes.data_as(llama.llama_token_data_p), size=len(row), selected=-1, sorted=False
    )
    outputs = []
    for name, value in stages:
        sampler = NATIVE_SAMPLERS[name](llama, value)
        try:
            llama.llama_sampler_apply(sampler, ctypes.byref(candidates))
        finally:
            llama.llama_sampler_free(sampler)
        # A sampler may point the array elsewhere: read it from where it points now.
        address = ctypes.cast(candidates.data, ctypes.c_void_p).value
        size = int(candidates.size)
        current = np.frombuffer((ctypes.c_char * (size * TOKEN_DATA.itemsize)).from_address(address), dtype=TOKEN_DATA)
        outputs.append(_full_row(len(row), current["id"], current["logit"]))
    return outputs


# --- the port --------------------------------------------------------------------------------


@dataclass
class Candidates:
    """llama.cpp's ``llama_token_data_array``: ids and logits in array order, and whether the
    array is known to be sorted by logit, descending."""

    ids: np.ndarray
    logits: np.ndarray
    sorted: bool = False

    def keep(self, positions: np.ndarray | slice, sorted_: bool) -> None:
        self.ids, self.logits, self.sorted = self.ids[positions], self.logits[positions], sorted_


def _expf(values: np.ndarray) -> np.ndarray:
    # glibc's expf and logf are correctly rounded in nearly all cases: compute in double and round.
    return np.exp(values.astype(np.float64)).astype(FLOAT)


def _logf(values: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore"):
        return np.log(values.astype(np.float64)).astype(FLOAT)


def _running_sum(values: np.ndarray) -> np.ndarray:
    """``sum += value`` in float32, one value after the other (NumPy's cumsum is sequential)."""
    return np.cumsum(values, dtype=FLOAT)


def _sort_descending(candidates: Candidates, count: int) -> None:
    """The ``count`` largest logits first. llama.cpp's partial sort orders tied tokens its own way;
    a stable sort keeps them in their current order."""
    order = np.argsort(-candidates.logits, kind="stable")[:count]
    candidates.keep(order, True)


def _softmax(candidates: Candidates) -> np.ndarray:
    """``llama_sampler_softmax_impl`` without sorting: float32 exponentials summed in array order."""
    max_logit = candidates.logits[0] if candidates.sorted else candidates.logits.max()
    exponentials = _expf(candidates.logits - max_logit)
    return exponentials / _running_sum(exponentials)[-1]


def _top_k(candidates: Candidates, k: int) -> None:
    if k <= 0:
        return
    k = min(k, len(candidates.ids))
    if not candidates.sorted:
        _sort_descending(candidates, k)
    candidates.keep(slice(0, k), candidates.sorted)


def _top_p(candidates: Candidates, p: float) -> None:
    p = FLOAT(p)
    if p >= 1:
        return
    probs = _softmax(candidates)
    if not candidates.sorted:
        order = np.argsort(-candidates.logits, kind="stable")
        candidates.keep(order, True)
        probs = probs[order]
    reached = np.flatnonzero(_running_sum(probs) >= p)
    last = reached[0] + 1 if len(reached) else len(probs)
    candidates.keep(slice(0, last), True)


def _min_p(candidates: Candidates, p: float) -> None:
    p = FLOAT(p)
    if p <= 0 or not len(candidates.ids):
        return
    if not candidates.sorted:
        min_logit = FLOAT(candidates.logits.max() + _logf(np.array([p]))[0])
        passing = candidates.logits >= min_logit
        if passing.any():
            candidates.keep(passing, False)
            return
    min_logit = FLOAT(candidates.logits[0] + _logf(np.array([p]))[0])
    passing = candidates.logits >= min_logit
    passing[0] = True
    candidates.keep(slice(0, int(np.argmin(passing)) if not passing.all() else len(passing)), True)


def _typical(candidates: Candidates, p: float) -> None:
    p = FLOAT(p)
    if p >= 1:
        return
    if not candidates.sorted:
        _sort_descending(candidates, len(candidates.ids))
    probs = _softmax(candidates)
    log_probs = _logf(probs)
    with np.errstate(invalid="ignore"):
        entropy = _running_sum(-probs * log_probs)[-1]
        shifted = np.abs(-log_probs - entropy)
    order = np.argsort(shifted, kind="stable")
    exceeded = np.flatnonzero(_running_sum(probs[order]) > p)
    last = exceeded[0] + 1 if len(exceeded) else len(order)
    candidates.keep(order[:last], False)


def _temperature(candidates: Candidates, temperature: float) -> None:
    temperature = FLOAT(temperature)
    if temperature <= 0:
        # The first maximum in array order survives; the others become -inf but stay in the array.
        best = int(np.argmax(candidates.logits))
        survivor = candidates.logits[best]
        candidates.logits = np.full_like(candidates.logits, -np.inf)
        candidates.logits[best] = survivor
        return
    candidates.logits = candidates.logits / temperature


PORTED: dict[str, Callable[[Candidates, float], None]] = {
    "top_k": lambda candidates, value: _top_k(candidates, int(value)),
    "typical_p": _typical,
    "top_p": _top_p,
    "min_p": _min_p,
    "temperature": _temperature,
}


def _ported_row(row: np.ndarray, stages: list[tuple[str, float]]) -> list[np.ndarray]:
    candidates = Candidates(np.arange(len(row)), row.astype(FLOAT))
    outputs = []
    for name, value in stages:
        PORTED[name](candidates, value)
        outputs.append(_full_row(len(row), candidates.ids, candidates.logits))
    return outputs
