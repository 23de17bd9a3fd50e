"""Sampling settings, validated once, shared by every engine order."""

from __future__ import annotations

import math
from dataclasses import dataclass, fields, replace
from collections.abc import Mapping
from typing import Any, Literal

from sampling import engines
from sampling.engines import llama_cpp, vllm

Order = Literal["transformers", "vllm", "llama.cpp", "custom"]
ORDERS: tuple[Order, ...] = ("transformers", "vllm", "llama.cpp", "custom")
SAMPLERS = llama_cpp.SAMPLERS
"""The custom order's building blocks: llama.cpp's samplers by the names of its ``--samplers``."""
DEFAULT_SAMPLERS = llama_cpp.DEFAULT_SAMPLERS

# The parameters each engine's sampler knows; a setting outside its engine is refused, not ignored.
SUPPORTED: dict[str, frozenset[str]] = {order: frozenset(stages) for order, stages in engines.ORDERS.items()}

# The value that switches each parameter off.
OFF: dict[str, float] = {
    "top_k": 0,
    "top_p": 1.0,
    "min_p": 0.0,
    "typical_p": 1.0,
    "epsilon_cutoff": 0.0,
    "eta_cutoff": 0.0,
    "repetition_penalty": 1.0,
    "frequency_penalty": 0.0,
    "presence_penalty": 0.0,
    "top_n_sigma": -1.0,
    "xtc_probability": 0.0,
    "mirostat": 0,
    "dry_multiplier": 0.0,
    "logit_bias": (),
}
LLAMA_ORDERS = ("llama.cpp", "custom")
SETTINGS_OF_A_STAGE: dict[str, tuple[tuple[str, ...], Any]] = {
    "penalty_last_n": (LLAMA_ORDERS, llama_cpp.DEFAULT_PENALTY_LAST_N),
    "xtc_threshold": (LLAMA_ORDERS, 0.1),
    "dynatemp_range": (LLAMA_ORDERS, 0.0),
    "dynatemp_exponent": (LLAMA_ORDERS, 1.0),
    "dry_base": (LLAMA_ORDERS, 1.75),
    "dry_allowed_length": (LLAMA_ORDERS, 2),
    "dry_penalty_last_n": (LLAMA_ORDERS, 64),
    "dry_sequence_breakers": (LLAMA_ORDERS, llama_cpp.DEFAULT_DRY_BREAKERS),
    "mirostat_tau": (LLAMA_ORDERS, 5.0),
    "mirostat_eta": (LLAMA_ORDERS, 0.1),
    "samplers": (("custom",), DEFAULT_SAMPLERS),
}
"""Settings that change how a stage runs, not whether: the orders that have each, and its default."""


def _is_off(name: str, value: Any) -> bool:
    if name in ("top_k", "top_n_sigma", "xtc_probability"):
        return value <= 0  # llama.cpp: top_k <= 0, n <= 0 and probability <= 0 do nothing
    return value == OFF.get(name, 1.0)


def not_run(active: Mapping[str, Any], order: str, samplers: tuple[str, ...], mirostat: int,
            dynatemp_range: float) -> list[str]:
    """The stages ``active`` sets that llama.cpp would not run: with mirostat, all but the logit
    bias, the temperature and mirostat (dynamic temperature included); in the custom order, those
    its ``samplers`` leave out. The other orders run every stage they have."""
    if order not in LLAMA_ORDERS:
        return []
    runs = llama_cpp.chain_stages(samplers if order == "custom" else DEFAULT_SAMPLERS, bool(mirostat))
    return [name for name in active if name not in runs] + (["dynatemp_range"] if mirostat and dynatemp_range > 0
                                                            else [])


def _logit_bias(value: Any) -> tuple[tuple[int, float], ...]:
    """``{token_id: bias}`` or ``((token_id, bias), ...)`` as sorted pairs, checked."""
    pairs = list(value.items()) if isinstance(value, Mapping) else list(value)
    checked = {}
    for pair in pairs:
        if not isinstance(pair, (tuple, list)) or len(pair) != 2:
            raise ValueError(f"logit_bias entries must be (token_id, bias) pairs, got {pair!r}")
        token = _number("a logit_bias token id", pair[0], integer=True)
        bias = _number(f"the logit_bias of token {token}", pair[1])
        _check_range("a logit_bias token id", token, 0, math.inf, "[)")
        if int(token) in checked:
            raise ValueError(f"logit_bias names token {int(token)} twice")
        checked[int(token)] = float(bias)
    return tuple(sorted(checked.items()))


def _samplers(value: Any) -> tuple[str, ...]:
    names = (value.split(",") if isinstance(value, str) else list(value))
    names = [name.strip() for name in names if name.strip()]
    unknown = [name for name in names if name not in SAMPLERS]
    if unknown:
        raise ValueError(f"samplers must be names among {', '.join(SAMPLERS)}, got {', '.join(map(repr, unknown))}")
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise ValueError(f"samplers names each sampler once; repeated: {', '.join(repeated)}")
    return tuple(names)


def _number(name: str, value: Any, *, integer: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        kind = "an integer" if integer else "a number"
        raise ValueError(f"{name} must be {kind}, got {value!r} ({type(value).__name__})")
    if not math.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value!r}")
    if integer and value != int(value):
        raise ValueError(f"{name} must be a whole number, got {value!r}")
    return value


def _check_range(name: str, value: float, low: float, high: float, interval: str) -> None:
    low_ok = value >= low if interval[0] == "[" else value > low
    high_ok = value <= high if interval[-1] == "]" else value < high
    if not (low_ok and high_ok):
        raise ValueError(f"{name} must be in {interval[0]}{low}, {high}{interval[-1]}, got {value!r}")


@dataclass(frozen=True)
class SamplingConfig:
    """How to turn next-token logits into the distribution a token is drawn from.

    Every filter has an "off" value, which is its default. ``temperature=0`` means greedy
    decoding (``do_sample=False`` in transformers): the most likely token, whatever the filters.

    ``order`` picks whose pipeline runs:

    - ``"transformers"``: Temperature → TopK → TopP → MinP → Typical → Epsilon → Eta, as
      ``generate(do_sample=True)`` builds it. Beware its hidden default: when neither the call nor
      the model's generation config sets ``top_k``, ``generate`` uses ``top_k=50``. Here 0 means off;
      ``to_generate_kwargs()`` passes ``top_k=0`` explicitly so that ``generate`` agrees.
    - ``"vllm"``: temperature → min_p → top_k → top_p (V1 sampler, its PyTorch path). As vLLM
      does, 0 < temperature < 0.01 runs as 0.01 and a temperature above 2 is refused; top_k -1
      means off. It has no typical, epsilon or eta sampling.
    - ``"llama.cpp"``: logit bias → penalties → top-n-sigma → top_k → typical → top_p → min_p →
      XTC → temperature (its default chain). The filters see the T = 1 distribution and temperature
      only reshapes the survivors; top_k keeps exactly k tokens even when several tie; top_k -1 means
      off. It has no epsilon or eta sampling. ``top_n_sigma`` keeps the logits within n standard
      deviations of the largest; XTC (``xtc_probability``, ``xtc_threshold``) removes, when it fires,
      every token of probability ≥ threshold but the least likely of them; ``dynatemp_range`` and
      ``dynatemp_exponent`` make temperature depend on the entropy (llama.cpp's ``temp_ext``).
      DRY (``dry_multiplier``, after the penalties) subtracts ``multiplier · base^(n − allowed)``
      from a token that would extend a repeat of ``n`` > ``dry_allowed_length`` tokens among the
      last ``dry_penalty_last_n``; a repeat does not reach back past a sequence breaker.
    - ``mirostat=2`` (llama.cpp's mirostat v2, in both llama.cpp orders) replaces the chain, as
      ``common_sampler_init`` does: logit bias → temperature → mirostat, which keeps the tokens
      whose surprise ``-log2 p`` is at most μ (2 · ``mirostat_tau`` at first; `generate` moves it
      by ``mirostat_eta`` times the error of each drawn token's surprise against τ).
    - ``"custom"``: llama.cpp's samplers in the order ``samplers`` lists them (its ``--samplers``
      option; names among `SAMPLERS`), after the logit bias, which llama.cpp always applies first.

    The penalties act on the context, the tokens already there (`apply`'s ``context``), and run
    first in every order: ``repetition_penalty`` (all three engines) divides a positive logit and
    multiplies a negative one of each token seen; ``frequency_penalty`` and ``presence_penalty``
    (vLLM and llama.cpp) subtract ``count · frequency + presence``. Which tokens count differs:
    transformers every input token; vLLM the prompt and output for the repetition penalty but the
    output only for the other two; llama.cpp the last ``penalty_last_n`` tokens (all of them when
    fewer; 0 and below, -1 included, switch its penalties off, as ``llama_sampler_init_penalties``
    clamps the window with ``max(..., 0)`` in 0.3.36).
    ``logit_bias`` (every engine, first of all) adds a bias to the logits of the tokens it names.

    >>> SamplingConfig(temperature=0.7, top_p=0.9).active()
    {'temperature': 0.7, 'top_p': 0.9}
    >>> SamplingConfig(top_p=1.5)
    Traceback (most recent call last):
    ...
    ValueError: top_p must be in (0.0, 1.0], got 1.5
    """

    temperature: float = 1.0
    top_k: int = 0
    top_p: float = 1.0
    min_p: float = 0.0
    typical_p: float = 1.0
    epsilon_cutoff: float = 0.0
    eta_cutoff: float = 0.0
    repetition_penalty: float = 1.0
    frequency_penalty: float = 0.0
    presence_penalty: float = 0.0
    penalty_last_n: int = 64
    top_n_sigma: float = -1.0
    xtc_probability: float = 0.0
    xtc_threshold: float = 0.1
    dynatemp_range: float = 0.0
    dynatemp_exponent: float = 1.0
    dry_multiplier: float = 0.0
    dry_base: float = 1.75
    dry_allowed_length: int = 2
    dry_penalty_last_n: int = 64
    dry_sequence_breakers: tuple[str, ...] = llama_cpp.DEFAULT_DRY_BREAKERS
    mirostat: int = 0
    mirostat_tau: float = 5.0
    mirostat_eta: float = 0.1
    logit_bias: tuple[tuple[int, float], ...] = ()
    samplers: tuple[str, ...] = DEFAULT_SAMPLERS
    order: Order = "transformers"

    def __post_init__(self) -> None:
        if self.order not in ORDERS:
            raise ValueError(f"order must be one of {', '.join(ORDERS)}, got {self.order!r}")
        _check_range("temperature", _number("temperature", self.temperature), 0.0, math.inf, "[)")
        # llama.cpp takes any k (k <= 0 does nothing); vLLM and transformers refuse below -1 and 0.
        _check_range("top_k", _number("top_k", self.top_k, integer=True),
                     -2**31 if self.order in LLAMA_ORDERS else -1, 2**31 - 1, "[]")
        _check_range("top_p", _number("top_p", self.top_p), 0.0, 1.0, "(]")
        _check_range("min_p", _number("min_p", self.min_p), 0.0, 1.0, "[]")
        _check_range("typical_p", _number("typical_p", self.typical_p), 0.0, 1.0, "(]")
        _check_range("epsilon_cutoff", _number("epsilon_cutoff", self.epsilon_cutoff), 0.0, 1.0, "[)")
        _check_range("eta_cutoff", _number("eta_cutoff", self.eta_cutoff), 0.0, 1.0, "[)")
        _check_range("repetition_penalty", _number("repetition_penalty", self.repetition_penalty), 0.0, math.inf,
                     "()")
        # llama.cpp (0.3.36) asks only for finite numbers of its samplers' settings; each does
        # nothing outside its working range (top_n_sigma <= 0, xtc_probability <= 0, a window <= 0,
        # dynatemp_range <= 0, dry_base < 1), which `active` and the engines follow.
        for name in ("frequency_penalty", "presence_penalty", "top_n_sigma", "xtc_probability", "xtc_threshold",
                     "dynatemp_range", "dynatemp_exponent", "dry_multiplier", "dry_base", "mirostat_tau",
                     "mirostat_eta"):
            _number(name, getattr(self, name))
        for name in ("penalty_last_n", "dry_allowed_length", "dry_penalty_last_n"):
            _check_range(name, _number(name, getattr(self, name), integer=True), -2**31, 2**31 - 1, "[]")
        breakers = self.dry_sequence_breakers
        if isinstance(breakers, str) or not all(isinstance(breaker, str) for breaker in breakers):
            raise ValueError(f"dry_sequence_breakers must be a sequence of strings, got {breakers!r}")
        object.__setattr__(self, "dry_sequence_breakers", tuple(breakers))
        object.__setattr__(self, "dry_allowed_length", int(self.dry_allowed_length))
        object.__setattr__(self, "dry_penalty_last_n", int(self.dry_penalty_last_n))
        _number("mirostat", self.mirostat, integer=True)
        if self.mirostat not in (0, 2):
            raise ValueError(f"mirostat must be 0 (off) or 2 (mirostat v2; v1 is not offered), got {self.mirostat!r}")
        object.__setattr__(self, "mirostat", int(self.mirostat))
        object.__setattr__(self, "top_k", int(self.top_k))
        object.__setattr__(self, "penalty_last_n", int(self.penalty_last_n))
        object.__setattr__(self, "logit_bias", _logit_bias(self.logit_bias))
        object.__setattr__(self, "samplers", _samplers(self.samplers))
        if self.dynatemp_range > 0 and self.temperature == 0:
            raise ValueError("dynatemp_range needs a temperature above 0 (temperature 0 is greedy decoding); "
                             f"got dynatemp_range {self.dynatemp_range!r} with temperature 0")
        if self.order == "vllm":
            for name in ("frequency_penalty", "presence_penalty"):
                _check_range(f"{name} (vLLM's SamplingParams)", getattr(self, name), -2.0, 2.0, "[]")
        if self.order == "transformers" and self.top_k < 0:
            raise ValueError("top_k must be 0 (off) or a positive integer for the transformers order, got -1")
        if self.order == "vllm" and self.temperature > vllm.MAX_TEMPERATURE:
            raise ValueError(
                f"temperature must be in [0, {vllm.MAX_TEMPERATURE:g}] for the vllm order (vLLM's SamplingParams "
                f"refuses a higher one), got {self.temperature!r}"
            )
        for name in OFF:
            if not _is_off(name, getattr(self, name)) and name not in SUPPORTED[self.order]:
                raise ValueError(
                    f"{name} is not part of the {self.order} sampler: set it to {OFF[name]} (off) "
                    f"or choose an order that has it ({', '.join(o for o in ORDERS if name in SUPPORTED[o])})"
                )
        for name, (orders, default) in SETTINGS_OF_A_STAGE.items():
            if getattr(self, name) != default and self.order not in orders:
                raise ValueError(f"{name} is a setting of the {' and '.join(orders)} order{'s' * (len(orders) > 1)} "
                                 f"only; the {self.order} order has no such setting: leave it at {default}")

    def ignored(self) -> list[str]:
        """The settings llama.cpp accepts but does not run for this config (`not_run`): with
        mirostat, every sampler but the logit bias and temperature; in the custom order, the
        stages its ``samplers`` leave out. `apply` computes what llama.cpp computes without them."""
        return not_run(self.active(), self.order, self.samplers, self.mirostat, self.dynatemp_range)

    @property
    def greedy(self) -> bool:
        """True when this config picks the most likely token instead of sampling (temperature 0;
        vLLM raises any other temperature below 0.01 to 0.01)."""
        return self.temperature == 0

    def active(self) -> dict[str, float]:
        """The stages that change anything, in field order, and their values (temperature 1 is a
        no-op unless dynamic temperature is on; the logit bias counts its tokens)."""
        active = {
            field.name: getattr(self, field.name)
            for field in fields(self)
            if field.name != "order" and field.name not in SETTINGS_OF_A_STAGE
            and not _is_off(field.name, getattr(self, field.name))
        }
        if self.dynatemp_range > 0:
            active["temperature"] = self.temperature
        if self.logit_bias:
            active["logit_bias"] = float(len(self.logit_bias))
        if self.mirostat:
            active["mirostat"] = self.mirostat_tau
        return active

    def stage_settings(self) -> dict[str, Any]:
        """What the stages need besides their values: `SETTINGS_OF_A_STAGE` and the biases."""
        return {**{name: getattr(self, name) for name in SETTINGS_OF_A_STAGE}, "logit_bias": self.logit_bias}

    def with_values(self, **changes: Any) -> SamplingConfig:
        """A copy with some fields changed, validated again."""
        return replace(self, **changes)

    def to_generate_kwargs(self) -> dict[str, Any]:
        """Keyword arguments that make transformers' ``generate`` sample exactly like this config.

        Only meaningful for the transformers order. ``top_k`` is always passed so that
        transformers' hidden ``top_k=50`` default never applies.
        """
        bias = {"sequence_bias": {(token,): bias for token, bias in self.logit_bias}} if self.logit_bias else {}
        if self.greedy:
            return {"do_sample": False, "repetition_penalty": float(self.repetition_penalty), **bias}
        return {
            **bias,
            "do_sample": True,
            "temperature": float(self.temperature),
            "top_k": self.top_k,
            "top_p": float(self.top_p),
            "min_p": float(self.min_p) if self.min_p else None,
            "typical_p": float(self.typical_p),
            "epsilon_cutoff": float(self.epsilon_cutoff),
            "eta_cutoff": float(self.eta_cutoff),
            "repetition_penalty": float(self.repetition_penalty),
        }


ENGINE_DEFAULTS: dict[str, dict[str, Any]] = {
    # GenerationConfig._get_default_generation_params(): what generate() uses for a value the
    # model's generation_config.json leaves unset (min_p, epsilon and eta are then off).
    "transformers": {"do_sample": False, "temperature": 1.0, "top_k": 50, "top_p": 1.0, "typical_p": 1.0,
                     "repetition_penalty": 1.0},
    # SamplingParams' own defaults.
    "vllm": {"temperature": 1.0, "top_k": 0, "top_p": 1.0, "min_p": 0.0, "repetition_penalty": 1.0,
             "frequency_penalty": 0.0, "presence_penalty": 0.0},
    # common_params_sampling's defaults.
    "llama.cpp": {"temperature": 0.8, "top_k": 40, "top_p": 0.95, "min_p": 0.05, "repetition_penalty": 1.0,
                  "penalty_last_n": 64},
}
MODEL_KEYS: dict[str, dict[str, str]] = {
    "transformers": {name: name for name in ("do_sample", "temperature", "top_k", "top_p", "min_p", "typical_p",
                                             "epsilon_cutoff", "eta_cutoff", "repetition_penalty")},
    # ModelConfig.get_diff_sampling_param(): the keys vLLM takes from generation_config.json.
    "vllm": {name: name for name in ("temperature", "top_k", "top_p", "min_p", "repetition_penalty",
                                     "frequency_penalty", "presence_penalty")},
    # gguf-py's Metadata.load: the keys a GGUF file takes from generation_config.json (llama.cpp
    # reads them back as general.sampling.*); penalty_repeat wins over repetition_penalty.
    "llama.cpp": {"temperature": "temperature", "top_k": "top_k", "top_p": "top_p", "min_p": "min_p",
                  "penalty_last_n": "penalty_last_n", "repetition_penalty": "repetition_penalty",
                  "penalty_repeat": "repetition_penalty"},
}


def model_defaults(generation_config: Mapping[str, Any], order: Order = "transformers") -> SamplingConfig:
    """What ``order``'s engine samples with when a request sets nothing, for a model whose
    ``generation_config.json`` holds ``generation_config``.

    transformers' ``generate()`` is greedy unless the file sets ``do_sample``, and fills what it
    leaves unset with its own defaults (top_k 50); vLLM ignores ``do_sample`` and takes temperature,
    top_k, top_p, min_p and the penalties from it; llama.cpp takes temperature, top_k, top_p, min_p
    and the repetition penalty through the GGUF file's ``general.sampling`` keys, its own defaults
    (temperature 0.8, top_k 40, top_p 0.95, min_p 0.05) for the rest.

    The custom order reads it as llama.cpp does.

    >>> model_defaults({"do_sample": True, "temperature": 0.7}).active()
    {'temperature': 0.7, 'top_k': 50}
    >>> model_defaults({"temperature": 0.7}).greedy, model_defaults({"temperature": 0.7}, "vllm").temperature
    (True, 0.7)
    """
    engine = "llama.cpp" if order == "custom" else order
    values = dict(ENGINE_DEFAULTS[engine])
    keys = MODEL_KEYS[engine]
    for key in sorted(keys, key=lambda key: key == "penalty_repeat"):  # penalty_repeat last: it wins
        value = generation_config.get(key)
        if value is None:
            continue
        if key == "do_sample" and not isinstance(value, bool):
            raise ValueError(f"the model's generation config sets do_sample to {value!r} ({type(value).__name__}); "
                             "it must be true or false")
        if key != "do_sample":
            _number(f"the model's generation config value {key}", value)
        values[keys[key]] = value
    if order == "transformers" and not values.pop("do_sample"):
        values["temperature"] = 0.0
    if order != "transformers" and values.get("top_k", 0) < 0:
        values["top_k"] = 0  # -1 and 0 both mean off
    return SamplingConfig(order=order, **values)
