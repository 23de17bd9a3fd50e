"""llama.cpp's sampler chain: the logit bias, then by default penalties → top-n-sigma → top_k →
typical → top_p → min_p → XTC → temperature (``common_params_sampling.samplers``; its
``--samplers`` option reorders them, which the custom order does here).

The penalties sampler counts the last ``penalty_last_n`` tokens of everything it was given (the
prompt's tokens, then each generated one, as ``llama-server`` feeds it; all of them when fewer were
given; none when ``penalty_last_n`` is 0 or negative) and, for each token among
them, divides a positive logit by ``penalty_repeat`` (multiplies one ≤ 0), then subtracts
``count · penalty_freq + penalty_present``, all in one pass. Shown as three stages, each is
llama.cpp's penalties sampler with the penalties up to it switched on, so the last is exactly
llama.cpp's one pass.

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

One stage is always the port's arithmetic: DRY with sequence breakers, because llama.cpp builds
the breakers' tokens only from a GGUF model's vocabulary; with the native samplers, the port's DRY
then works on llama.cpp's own candidates array between llama.cpp's samplers.

`implementation()` says which one runs.
"""

from __future__ import annotations

import ctypes
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from functools import cache, lru_cache

import numpy as np
import torch

from sampling.engines.base import EMPTY_CONTEXT, PENALTIES, Context, StageOutput, Vocabulary

SAMPLERS: dict[str, tuple[str, ...]] = {
    "penalties": PENALTIES,
    "dry": ("dry_multiplier",),
    "top_n_sigma": ("top_n_sigma",),
    "top_k": ("top_k",),
    "typ_p": ("typical_p",),
    "top_p": ("top_p",),
    "min_p": ("min_p",),
    "xtc": ("xtc_probability",),
    "temperature": ("temperature",),
}
"""llama.cpp's samplers by their ``--samplers`` names, and the stages each is shown as."""
SAMPLER_OF = {stage: sampler for sampler, stages in SAMPLERS.items() for stage in stages}
DEFAULT_SAMPLERS = tuple(SAMPLERS)
"""``common_params_sampling.samplers``."""
DEFAULT_DRY_BREAKERS = ("\n", ":", "\"", "*")
"""``common_params_sampling.dry_sequence_breakers``."""
DRY_MAX_BREAKER_CHARS = 40
DRY_MAX_TAIL_TOKENS = 20
DEFAULT_PENALTY_LAST_N = 64
"""``common_params_sampling.penalty_last_n``: how many of the last tokens the penalties count."""


def stage_order(samplers: tuple[str, ...] = DEFAULT_SAMPLERS) -> tuple[str, ...]:
    """The stages in the order ``samplers`` runs them: the logit bias first, as
    ``common_sampler_init`` adds it before the chain."""
    return ("logit_bias", *(stage for sampler in samplers for stage in SAMPLERS[sampler]))


MIROSTAT_ORDER = ("logit_bias", "temperature", "mirostat")
"""With mirostat, ``common_sampler_init`` builds no other sampler (the temperature is plain)."""
ORDER = (*stage_order(), "mirostat")


def chain_stages(samplers: tuple[str, ...] = DEFAULT_SAMPLERS, mirostat: bool = False) -> tuple[str, ...]:
    """The stages llama.cpp may run, in order: mirostat's short chain, or ``samplers``'."""
    return MIROSTAT_ORDER if mirostat else stage_order(samplers)


@dataclass(frozen=True)
class StageSettings:
    """What stages need besides their values (`SamplingConfig.stage_settings`)."""

    penalty_last_n: int = DEFAULT_PENALTY_LAST_N
    xtc_threshold: float = 0.1
    dynatemp_range: float = 0.0
    dynatemp_exponent: float = 1.0
    logit_bias: tuple[tuple[int, float], ...] = ()
    dry_base: float = 1.75
    dry_allowed_length: int = 2
    dry_penalty_last_n: int = 64
    dry_sequence_breakers: tuple[str, ...] = DEFAULT_DRY_BREAKERS
    dry_breakers: dict | None = None
    """The sequence breakers as tokens (`dry_breakers`): head token → tails."""
    xtc_fires: bool = True
    """XTC runs only when a draw falls below its probability: True shows it when it does."""
    mirostat_mu: float | tuple[float, ...] | None = None
    """Mirostat's μ, one for all rows or one per row; None: its first value, 2 τ."""
    tokens: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int32))
    """One row's context (`for_row`), all of it: the penalties and DRY take their windows of it."""

    def for_row(self, row: int, tokens: np.ndarray) -> StageSettings:
        mu = self.mirostat_mu[row] if isinstance(self.mirostat_mu, tuple) else self.mirostat_mu
        return replace(self, mirostat_mu=mu, tokens=tokens)

    @classmethod
    def of(cls, settings: dict) -> StageSettings:
        return cls(**{name: settings[name] for name in settings if name in cls.__dataclass_fields__})
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


def stage_notes(active: dict[str, float], settings: StageSettings) -> dict[str, str]:
    """Where llama.cpp runs a stage otherwise than its value suggests: float32 parameters, XTC's
    chance and its upper limit, dynamic temperature."""
    notes = {}
    if "top_p" in active and FLOAT(active["top_p"]) >= 1:
        notes["top_p"] = f"llama.cpp stores top_p as float32: {active['top_p']!r} is 1, so top_p is off"
    if "xtc_probability" in active:
        xtc = []
        if FLOAT(settings.xtc_threshold) > 0.5:
            xtc.append(f"llama.cpp's XTC does nothing when xtc_threshold is above 0.5 (got {settings.xtc_threshold:g})")
        elif active["xtc_probability"] < 1:
            xtc.append(f"XTC fires on {active['xtc_probability']:.0%} of draws: shown "
                       + ("when it fires" if settings.xtc_fires else "when it does not"))
        if FLOAT(settings.xtc_threshold) <= 0:
            xtc.append("with xtc_threshold 0 or below every candidate reaches it, so when XTC fires llama.cpp keeps "
                       "only the last (least likely) one, even a token an earlier stage removed, and draws it with p = 1")
        if xtc:
            notes["xtc_probability"] = "; ".join(xtc)
    if "temperature" in active and settings.dynatemp_range > 0:
        low = max(0.0, active["temperature"] - settings.dynatemp_range)
        notes["temperature"] = (f"dynamic temperature: between {low:g} and "
                                f"{active['temperature'] + settings.dynatemp_range:g} by the entropy "
                                f"(exponent {settings.dynatemp_exponent:g})")
    return notes


@dataclass(frozen=True)
class Penalties:
    """The penalties sampler's settings (float32, as llama.cpp takes them) and its tokens: for the
    port, the window it counts; for llama.cpp itself, the context, of which it takes its own window."""

    repeat: float
    frequency: float
    presence: float
    tokens: np.ndarray

    @classmethod
    def up_to(cls, stages: list[tuple[str, float]], name: str, tokens: np.ndarray) -> Penalties:
        """The penalties of ``stages`` up to and including ``name``, the later ones still off."""
        names = [stage for stage, _ in stages]
        values = dict(stages[: names.index(name) + 1])
        return cls(FLOAT(values.get("repetition_penalty", 1.0)), FLOAT(values.get("frequency_penalty", 0.0)),
                   FLOAT(values.get("presence_penalty", 0.0)), tokens)


def window(tokens: np.ndarray, last_n: int) -> np.ndarray:
    """The tokens llama.cpp's penalties count: the last ``last_n`` accepted, or all of them when
    fewer were accepted (its ring buffer of ``last_n``). ``llama_sampler_init_penalties`` clamps
    ``last_n`` with ``std::max(penalty_last_n, 0)`` (0.3.36), so 0 and every negative value, -1
    included, switch the penalties off; "-1 = the context size" was older llama.cpp behaviour."""
    if last_n <= 0:
        return tokens[:0]
    return tokens[max(len(tokens) - last_n, 0):]


def run(logits: torch.Tensor, stages: list[tuple[str, float]], native: bool | None = None,
        context: Context = EMPTY_CONTEXT, settings: StageSettings = StageSettings()) -> list[StageOutput]:
    """Run ``stages`` (name, value) in the given order on each row of ``logits`` ``[batch, vocab]``,
    the penalties counting the last ``settings.penalty_last_n`` tokens of each row's ``context``.

    ``native``: None uses llama.cpp itself when installed; True requires it; False uses the port.
    """
    module = native_module()
    if native and module is None:
        raise RuntimeError(f"llama.cpp's own samplers need {NATIVE_REQUIREMENT}: pip install -r requirements-llama.txt")
    chain = _native_row if (native is not False and module is not None) else _ported_row
    if "dry_multiplier" in dict(stages) and settings.dry_sequence_breakers:
        if context.vocabulary is None:
            raise ValueError("DRY's sequence breakers are text: pass the model's vocabulary in the context "
                             "(Context.of(ids, vocabulary=handle.vocabulary)), or set dry_sequence_breakers=()")
        settings = replace(settings, dry_breakers=dry_breakers(context.vocabulary, settings.dry_sequence_breakers))
    rows = logits.detach().to("cpu", torch.float32).numpy()
    tokens = context.rows(len(rows)).numpy().astype(np.int32)
    per_row = [chain(row, stages, settings.for_row(index, row_tokens))
               for index, (row, row_tokens) in enumerate(zip(rows, tokens))]
    notes = stage_notes(dict(stages), settings)
    drawn_from = torch.from_numpy(np.stack([probs for _, probs in per_row])).to(logits.device)
    return [
        StageOutput(
            name,
            value,
            torch.from_numpy(np.stack([outputs[index] for outputs, _ in per_row])).to(logits.device),
            notes.get(name, ""),
            drawn_from if index == len(stages) - 1 else None,
        )
        for index, (name, value) in enumerate(stages)
    ]


def _drawn_from(vocab: int, ids: np.ndarray, logits: np.ndarray, sorted_: bool, mirostat: bool) -> np.ndarray:
    """The probabilities over the vocabulary that llama.cpp draws from, for the final candidates
    array. ``llama_sampler_dist_apply``: the largest logit taken as the first when the array is
    marked sorted (a bucket sort can misplace a huge logit, and then llama.cpp's p is NaN too),
    ``expf`` of each difference in float32, summed in double in array order, divided in double,
    stored as float32; a lone candidate gets p = 1 whatever its logit. Mirostat draws instead
    from its own ``llama_sampler_softmax_impl``, summed in float32."""
    probs = np.zeros(vocab, dtype=FLOAT)
    if len(ids) == 1 and not mirostat:
        probs[ids] = 1
    elif len(ids):
        max_logit = logits[0] if sorted_ else logits.max()
        with np.errstate(invalid="ignore", over="ignore"):
            exponentials = _expf(logits - max_logit)
            total = _running_sum(exponentials)[-1] if mirostat else np.cumsum(exponentials, dtype=np.float64)[-1]
            probs[ids] = (exponentials / total).astype(FLOAT)
    return probs


def _full_row(vocab: int, ids: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Logits over the vocabulary: the candidates' values, ``-inf`` for every other token.

    A lone candidate whose logit is ``-inf`` (XTC with threshold 0 keeps the last candidate of the
    array, even one that top-n-sigma or temperature 0 had set to ``-inf``) is drawn all the same:
    ``llama_sampler_dist_apply`` gives a single candidate p = 1 without looking at its logit. It is
    shown with logit 0, which gives it that p = 1 here too."""
    row = np.full(vocab, -np.inf, dtype=FLOAT)
    row[ids] = values
    if len(ids) == 1 and values[0] == -np.inf:
        row[ids] = 0
    return row


def common_chain(module, config, n_vocab: int, seed: int, vocab=None):
    """``common_sampler_init``'s chain (common/sampling.cpp) for ``config``, with llama.cpp's own
    samplers: the logit bias, then the samplers of the order (each with its value, off ones too) and
    ``dist`` seeded with ``seed``; with mirostat, a plain temperature and mirostat v2. ``vocab``: a
    model's vocabulary, which DRY's sequence breakers need (without one, DRY runs without them)."""
    chain = module.llama_sampler_chain_init(module.llama_sampler_chain_default_params())
    samplers = []
    if config.logit_bias:
        entries = (module.llama_logit_bias * len(config.logit_bias))(
            *(module.llama_logit_bias(token, bias) for token, bias in config.logit_bias))
        samplers.append(module.llama_sampler_init_logit_bias(n_vocab, len(config.logit_bias), entries))
    if config.mirostat:
        samplers += [module.llama_sampler_init_temp(config.temperature),
                     module.llama_sampler_init_mirostat_v2(seed, config.mirostat_tau, config.mirostat_eta)]
    else:
        breakers = [breaker.encode("utf-8") for breaker in config.dry_sequence_breakers] if vocab else []
        breaker_array = (ctypes.c_char_p * max(len(breakers), 1))(*breakers)
        build = {
            "penalties": lambda: module.llama_sampler_init_penalties(
                n_vocab, config.penalty_last_n, config.repetition_penalty, config.frequency_penalty,
                config.presence_penalty),
            "dry": lambda: module.llama_sampler_init_dry(
                vocab, config.dry_multiplier, config.dry_base, config.dry_allowed_length, config.dry_penalty_last_n,
                breaker_array if breakers else None, len(breakers)),
            "top_n_sigma": lambda: module.llama_sampler_init_top_n_sigma(config.top_n_sigma),
            "top_k": lambda: module.llama_sampler_init_top_k(config.top_k),
            "typ_p": lambda: module.llama_sampler_init_typical(config.typical_p, 0),
            "top_p": lambda: module.llama_sampler_init_top_p(config.top_p, 0),
            "min_p": lambda: module.llama_sampler_init_min_p(config.min_p, 0),
            "xtc": lambda: module.llama_sampler_init_xtc(config.xtc_probability, config.xtc_threshold, 0, seed),
            "temperature": lambda: module.llama_sampler_init_temp_ext(
                config.temperature, config.dynatemp_range, config.dynatemp_exponent),
        }
        order = config.samplers if config.order == "custom" else DEFAULT_SAMPLERS
        samplers += [build[name]() for name in order]
        samplers.append(module.llama_sampler_init_dist(seed))
    for sampler in samplers:
        module.llama_sampler_chain_add(chain, sampler)
    return chain


# --- llama.cpp itself ------------------------------------------------------------------------

TOKEN_DATA = np.dtype([("id", np.int32), ("logit", np.float32), ("p", np.float32)])

NATIVE_SAMPLERS: dict[str, Callable] = {
    "logit_bias": lambda llama, value, settings: _native_logit_bias(llama, settings.logit_bias),
    "dry_multiplier": lambda llama, value, settings: _native_dry(llama, value, settings),
    "top_n_sigma": lambda llama, value, settings: llama.llama_sampler_init_top_n_sigma(value),
    "top_k": lambda llama, value, settings: llama.llama_sampler_init_top_k(int(value)),
    "typical_p": lambda llama, value, settings: llama.llama_sampler_init_typical(value, 0),
    "top_p": lambda llama, value, settings: llama.llama_sampler_init_top_p(value, 0),
    "min_p": lambda llama, value, settings: llama.llama_sampler_init_min_p(value, 0),
    # A probability of 1 always fires (its draw is below 1); one that does not fire is no stage.
    "xtc_probability": lambda llama, value, settings: llama.llama_sampler_init_xtc(
        1.0 if settings.xtc_fires else 0.0, settings.xtc_threshold, 0, 0),
    # A fresh sampler's μ is 2 τ: one built with τ = μ / 2 cuts at μ (its draw and update are not used).
    "mirostat": lambda llama, value, settings: llama.llama_sampler_init_mirostat_v2(
        0, _mirostat_mu(value, settings) / 2, 0.0),
    # common/sampling.cpp builds the temperature stage with temp_ext; with no range it is plain temp.
    "temperature": lambda llama, value, settings: llama.llama_sampler_init_temp_ext(
        value, settings.dynatemp_range, settings.dynatemp_exponent),
}


def _native_logit_bias(llama, biases: tuple[tuple[int, float], ...]):
    entries = (llama.llama_logit_bias * len(biases))(*(llama.llama_logit_bias(token, bias) for token, bias in biases))
    # The sampler copies the entries; n_vocab only serves its GPU path.
    return llama.llama_sampler_init_logit_bias(0, len(biases), entries)


def _native_row(row: np.ndarray, stages: list[tuple[str, float]],
                settings: StageSettings) -> tuple[list[np.ndarray], np.ndarray]:
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
        if name in PENALTIES:
            # Each penalty stage runs the penalties sampler afresh on the array the first one got.
            if name == next(stage for stage, _ in stages if stage in PENALTIES):
                before = (_current(llama, candidates).copy(), bool(candidates.sorted))
            penalised = before[0].copy()  # the candidates point into it: it lives as long as they do
            candidates = llama.llama_token_data_array(
                data=penalised.ctypes.data_as(llama.llama_token_data_p), size=len(penalised), selected=-1,
                sorted=before[1])
            sampler = _native_penalties(llama, len(row), Penalties.up_to(stages, name, settings.tokens),
                                        settings.penalty_last_n)
        elif name == "dry_multiplier" and settings.dry_breakers:
            # llama.cpp builds sequence breakers only from a GGUF model's vocabulary: the port's
            # DRY works on llama.cpp's own candidates array here, as its sampler would.
            current = _current(llama, candidates)
            penalties = _dry_penalties(current["id"], value, settings)
            if penalties is not None:
                current["logit"] -= penalties
                candidates.sorted = False
            outputs.append(_full_row(len(row), current["id"], current["logit"]))
            continue
        else:
            sampler = NATIVE_SAMPLERS[name](llama, value, settings)
        try:
            llama.llama_sampler_apply(sampler, ctypes.byref(candidates))
        finally:
            llama.llama_sampler_free(sampler)
        current = _current(llama, candidates)
        outputs.append(_full_row(len(row), current["id"], current["logit"]))
    current = _current(llama, candidates)
    return outputs, _drawn_from(len(row), current["id"], current["logit"], bool(candidates.sorted),
                                bool(stages) and stages[-1][0] == "mirostat")


def _native_dry(llama, multiplier: float, settings: StageSettings):
    """llama.cpp's DRY sampler without sequence breakers (it needs no vocabulary then), given the
    context's tokens as ``llama_sampler_accept`` would (it keeps the last ``dry_penalty_last_n``)."""
    sampler = llama.llama_sampler_init_dry(None, multiplier, settings.dry_base, settings.dry_allowed_length,
                                           settings.dry_penalty_last_n, None, 0)
    # Its ring buffer keeps the last dry_penalty_last_n tokens: the earlier ones need not be given.
    last_n = max(settings.dry_penalty_last_n, 0)
    for token in settings.tokens[max(len(settings.tokens) - last_n, 0):].tolist():
        llama.llama_sampler_accept(sampler, token)
    return sampler


def _current(llama, candidates) -> np.ndarray:
    """The candidates array where it points now (a sampler may point it elsewhere)."""
    address = ctypes.cast(candidates.data, ctypes.c_void_p).value
    size = int(candidates.size)
    return np.frombuffer((ctypes.c_char * (size * TOKEN_DATA.itemsize)).from_address(address), dtype=TOKEN_DATA)


def _native_penalties(llama, vocab: int, penalties: Penalties, last_n: int):
    """llama.cpp's penalties sampler with its own window of ``last_n``, given the context's tokens
    as ``llama_sampler_accept`` would: its ring buffer decides which of them count. Tokens older
    than the last ``last_n`` would only pass through that buffer, so they are not given."""
    sampler = llama.llama_sampler_init_penalties(vocab, last_n, penalties.repeat, penalties.frequency,
                                                 penalties.presence)
    tokens = penalties.tokens
    for token in (tokens[len(tokens) - last_n:] if 0 < last_n < len(tokens) else tokens).tolist():
        llama.llama_sampler_accept(sampler, token)
    return sampler


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


def _exponentials(candidates: Candidates) -> tuple[np.ndarray, np.float32]:
    """``llama_sampler_softmax_impl``'s ``expf(logit - max)`` and their float32 sum, added one after
    the other in array order."""
    max_logit = candidates.logits[0] if candidates.sorted else candidates.logits.max()
    exponentials = _expf(candidates.logits - max_logit)
    return exponentials, _running_sum(exponentials)[-1]


def _softmax(candidates: Candidates) -> np.ndarray:
    """``llama_sampler_softmax_impl`` without sorting: float32 exponentials summed in array order."""
    exponentials, total = _exponentials(candidates)
    return exponentials / total


def softmax_sum(logits: np.ndarray, temperature: float = 1.0) -> float:
    """The float32 sum ``llama_sampler_softmax_impl`` adds up over the candidates ``logits`` (in
    id order, as a chain starts), after ``llama_sampler_temp`` divided them by ``temperature`` > 0:
    what a top_p that runs on the whole vocabulary divides by."""
    candidates = Candidates(np.arange(len(logits)), logits.astype(FLOAT))
    _temperature(candidates, temperature)
    return float(_exponentials(candidates)[1])


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


def _penalties(candidates: Candidates, penalties: Penalties) -> None:
    """``llama_sampler_penalties_apply``: float32 arithmetic on the candidates seen in the window."""
    if not len(penalties.tokens) or (penalties.repeat == 1 and penalties.frequency == 0 and penalties.presence == 0):
        return
    seen, counts = np.unique(penalties.tokens, return_counts=True)
    hit = np.isin(candidates.ids, seen)
    count = counts[np.searchsorted(seen, candidates.ids[hit])].astype(FLOAT)
    logits = candidates.logits[hit]
    logits = np.where(logits <= 0, logits * penalties.repeat, logits / penalties.repeat).astype(FLOAT)
    logits -= count * penalties.frequency + FLOAT(1) * penalties.presence
    candidates.logits = candidates.logits.copy()
    candidates.logits[hit] = logits
    candidates.sorted = False


def _temperature_ext(candidates: Candidates, temperature: float, settings: StageSettings) -> None:
    """``llama_sampler_temp_ext_apply``: with a range, the temperature maps the normalised entropy
    of the candidates (all of them, removed ones too) into [T - range, T + range]."""
    delta = FLOAT(settings.dynatemp_range)
    if delta <= 0:
        _temperature(candidates, temperature)
        return
    if len(candidates.ids) <= 1:
        return
    temperature = FLOAT(temperature)
    low, high = max(FLOAT(0), FLOAT(temperature - delta)), FLOAT(temperature + delta)
    max_entropy = -_logf(np.array([FLOAT(1) / FLOAT(len(candidates.ids))]))[0]
    if not candidates.sorted:
        _sort_descending(candidates, len(candidates.ids))
    probs = _softmax(candidates)
    positive = probs[probs > 0]
    entropy = -_running_sum(np.concatenate([[FLOAT(0)], positive * _logf(positive)]))[-1]
    normalized = FLOAT(entropy / max_entropy)
    power = FLOAT(np.float64(normalized) ** np.float64(FLOAT(settings.dynatemp_exponent)))
    _temperature(candidates, FLOAT(low + FLOAT(FLOAT(high - low) * power)))


def _top_n_sigma(candidates: Candidates, n: float) -> None:
    """``llama_sampler_top_n_sigma_apply``: remove logits below max − n · std of the finite ones;
    the removed stay in the array as -inf."""
    n = FLOAT(n)
    if n <= 0 or len(candidates.ids) <= 1:
        return
    finite = candidates.logits[candidates.logits != -np.inf]
    if not len(finite):
        return
    top = max(candidates.logits[0], finite.max())
    mean = FLOAT(_running_sum(finite)[-1] / FLOAT(len(finite)))
    # acc += pow(logit - mean, 2) in float, one square after the other (a sequential cumsum; the
    # square is rounded to float before each sum, where llama.cpp adds its double: σ can differ
    # in its last bit).
    with np.errstate(over="ignore"):  # an infinite spread, as in llama.cpp, removes nothing
        squares = np.square((finite - mean).astype(np.float64)).astype(FLOAT)
        acc = _running_sum(squares)[-1]
    std = FLOAT(np.sqrt(FLOAT(acc / FLOAT(len(finite)))))
    logits = candidates.logits.copy()
    logits[logits < FLOAT(top - FLOAT(n * std))] = -np.inf
    candidates.logits = logits


def _xtc(candidates: Candidates, settings: StageSettings) -> None:
    """``llama_sample_xtc_apply`` when its draw fires: every token of probability ≥ threshold but
    the last of them (in descending order) leaves the array."""
    if not settings.xtc_fires or FLOAT(settings.xtc_threshold) > FLOAT(0.5) or len(candidates.ids) < 2:
        return
    if not candidates.sorted:
        _sort_descending(candidates, len(candidates.ids))
    probs = _softmax(candidates)
    below = np.flatnonzero(probs < FLOAT(settings.xtc_threshold))
    last_above = (below[0] if len(below) else len(probs)) - 1
    if last_above > 0:
        candidates.keep(slice(int(last_above), None), True)


def _mirostat_mu(tau: float, settings: StageSettings) -> float:
    return float(FLOAT(2 * FLOAT(tau)) if settings.mirostat_mu is None else FLOAT(settings.mirostat_mu))


def _mirostat_v2(candidates: Candidates, mu: float) -> None:
    """``llama_sampler_mirostat_v2_apply``'s cut: sorted, the tokens up to the first whose surprise
    ``-log2f(p)`` exceeds μ (at least one), renormalised."""
    if not candidates.sorted:
        _sort_descending(candidates, len(candidates.ids))
    with np.errstate(divide="ignore"):
        surprise = -np.log2(_softmax(candidates).astype(np.float64)).astype(FLOAT)
    over = np.flatnonzero(surprise > FLOAT(mu))
    candidates.keep(slice(0, max(int(over[0]) if len(over) else len(surprise), 1)), True)


@lru_cache(maxsize=8)
def dry_breakers(vocabulary: Vocabulary, breakers: tuple[str, ...]) -> dict[int, list[tuple[int, ...]]]:
    """``get_overlapping_token_sequences`` for every breaker: each token whose text contains the
    breaker (an empty tail), and each token whose text ends with the breaker's start, with the
    tokens of its rest (at most 20). Breakers longer than 40 characters are cut, as llama.cpp does."""
    found: dict[int, list[tuple[int, ...]]] = {}
    for breaker in breakers:
        breaker = breaker[:DRY_MAX_BREAKER_CHARS]
        if not breaker:
            continue
        for token, word in enumerate(vocabulary.texts):
            if breaker in word:
                found.setdefault(token, []).append(())
                continue
            for position in (index for index, char in enumerate(word) if char == breaker[0]):
                overlap = len(word) - position
                if word[position:] == breaker[:overlap]:
                    tail = tuple(vocabulary.encode(breaker[overlap:])[:DRY_MAX_TAIL_TOKENS])
                    if tail not in found.setdefault(token, []):
                        found[token].append(tail)
    return found


def _dry_penalties(ids: np.ndarray, multiplier: float, settings: StageSettings) -> np.ndarray | None:
    """``llama_sampler_dry_apply``: for each candidate id, the penalty for extending a repeat of the
    last ``dry_penalty_last_n`` tokens longer than ``dry_allowed_length``; None where it returns early."""
    multiplier, base = FLOAT(multiplier), FLOAT(settings.dry_base)
    allowed, last_n = settings.dry_allowed_length, max(settings.dry_penalty_last_n, 0)
    if multiplier == 0 or base < 1 or last_n == 0:
        return None
    tokens = settings.tokens
    recent = tokens[len(tokens) - last_n:].tolist() if len(tokens) > last_n else tokens.tolist()
    count = len(recent)
    if count <= allowed:
        return None
    back = recent[::-1]  # back[i] is ring_buffer.rat(i): i tokens from the end
    breakers = settings.dry_breakers or {}
    # Step 1: the nearest sequence breaker limits how far back a repeat may reach.
    rep_limit = count
    for i in range(count):
        longest = -1
        for tail in breakers.get(back[i], ()):
            if longest < len(tail) <= i and all(tail[o] == back[i - o - 1] for o in range(len(tail))):
                longest = len(tail)
        if longest >= 0:
            rep_limit = i - longest
            break
    if rep_limit < allowed:
        return None
    # Step 2: the Z-algorithm, backwards: how far the text before each position repeats the end.
    repeats, last, left, right = [0] * count, count - 1, 0, 0
    for k in range(1, count):
        if k > right:
            length = 0
            while length + k < count and back[length] == back[length + k]:
                length += 1
            repeats[last - k] = min(length, rep_limit)
            if length > 0:
                left, right = k, k + length - 1
        elif repeats[last - (k - left)] < right - k + 1:
            repeats[last - k] = min(repeats[last - (k - left)], rep_limit)
        else:
            end = right + 1
            while end < count and back[end] == back[end - k]:
                end += 1
            repeats[last - k] = min(end - k, rep_limit)
            left, right = k, end - 1
    # Step 3: the token after each repeat would extend it; keep each token's longest.
    longest_repeat: dict[int, int] = {}
    for i in range(count - 1):
        if repeats[i] >= allowed:
            token = back[count - 2 - i]
            longest_repeat[token] = max(longest_repeat.get(token, 0), repeats[i])
    # Step 4: multiplier · base^(length − allowed), the exponent capped so that it stays finite.
    max_exponent = int(FLOAT(FLOAT(88.7228391) / _logf(np.array([base]))[0])) if base > FLOAT(1.000001) else 0
    penalty_of = {
        token: FLOAT(np.float64(multiplier) * np.float64(base) ** (
            min(length - allowed, max_exponent) if max_exponent > 0 else length - allowed))
        for token, length in longest_repeat.items() if () not in breakers.get(token, ())
    }
    penalties = np.zeros(len(ids), dtype=FLOAT)
    if penalty_of:
        penalised = np.array(sorted(penalty_of))
        where = np.minimum(np.searchsorted(penalised, ids), len(penalised) - 1)
        hit = penalised[where] == ids
        penalties[hit] = np.array([penalty_of[token] for token in penalised], dtype=FLOAT)[where[hit]]
    return penalties


def _dry(candidates: Candidates, multiplier: float, settings: StageSettings) -> None:
    penalties = _dry_penalties(candidates.ids, multiplier, settings)
    if penalties is not None:
        candidates.logits = candidates.logits - penalties
        candidates.sorted = False


def _logit_bias(candidates: Candidates, biases: tuple[tuple[int, float], ...]) -> None:
    logits = candidates.logits.copy()
    for token, bias in biases:
        logits[candidates.ids == token] += FLOAT(bias)
    candidates.logits = logits


PORTED: dict[str, Callable[[Candidates, float, StageSettings], None]] = {
    "logit_bias": lambda candidates, value, settings: _logit_bias(candidates, settings.logit_bias),
    "dry_multiplier": _dry,
    "top_n_sigma": lambda candidates, value, settings: _top_n_sigma(candidates, value),
    "top_k": lambda candidates, value, settings: _top_k(candidates, int(value)),
    "typical_p": lambda candidates, value, settings: _typical(candidates, value),
    "top_p": lambda candidates, value, settings: _top_p(candidates, value),
    "min_p": lambda candidates, value, settings: _min_p(candidates, value),
    "xtc_probability": lambda candidates, value, settings: _xtc(candidates, settings),
    "temperature": _temperature_ext,
    "mirostat": lambda candidates, value, settings: _mirostat_v2(candidates, _mirostat_mu(value, settings)),
}


def _ported_row(row: np.ndarray, stages: list[tuple[str, float]],
                settings: StageSettings) -> tuple[list[np.ndarray], np.ndarray]:
    penalty_window = window(settings.tokens, settings.penalty_last_n)
    candidates = Candidates(np.arange(len(row)), row.astype(FLOAT))
    outputs = []
    for name, value in stages:
        if name in PENALTIES:
            if name == next(stage for stage, _ in stages if stage in PENALTIES):
                before = Candidates(candidates.ids, candidates.logits, candidates.sorted)
            candidates = Candidates(before.ids, before.logits, before.sorted)
            _penalties(candidates, Penalties.up_to(stages, name, penalty_window))
        else:
            PORTED[name](candidates, value, settings)
        outputs.append(_full_row(len(row), candidates.ids, candidates.logits))
    return outputs, _drawn_from(len(row), candidates.ids, candidates.logits, candidates.sorted,
                                bool(stages) and stages[-1][0] == "mirostat")
