"""The page's state: every control, its range and default, presets, and the URL that restores it.

The one place that turns widget or URL values into a `SamplingConfig` is `panel_config`.
Streamlit is not imported: the functions work on any mutable mapping (``st.session_state`` in the
page, a dict in tests).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass, replace
from typing import Any

from app.settings import Settings
from sampling.config import (
    DEFAULT_SAMPLERS,
    OFF,
    ORDERS,
    SAMPLERS,
    SETTINGS_OF_A_STAGE,
    SUPPORTED,
    SamplingConfig,
    not_run,
)
from sampling.engines.llama_cpp import SAMPLER_OF
from sampling.models import RUNTIMES

PANELS = ("a", "b")
MAX_MODEL_NAME = 200
"""Longest model name a local run takes from the URL or the model box."""
DEFAULT_PROMPT = "hello, this is my favorite"
LANGUAGES = ("en", "zh")


@dataclass(frozen=True)
class Control:
    """One value of the page's state: its URL/session key suffix, default and allowed values."""

    name: str
    default: Any
    low: float | None = None
    high: float | None = None
    step: float | None = None
    choices: tuple[str, ...] | None = None
    integer: bool = False
    max_length: int | None = None
    truncate: bool = True
    """Text beyond ``max_length`` is cut to it (a prompt); False: it is refused (a model name)."""

    def parse(self, raw: str) -> tuple[Any, Notice | None]:
        """A URL string to a valid value, and a notice when it had to be changed."""
        if self.choices is not None:
            if raw in self.choices:
                return raw, None
            return self.default, Notice("url_not_allowed", {"value": raw, "used": self.default,
                                                            "allowed": ", ".join(self.choices)})
        if self.max_length is not None:
            if len(raw) > self.max_length:
                return raw[-self.max_length:], Notice("url_too_long", {"length": f"{len(raw):,}",
                                                                       "limit": f"{self.max_length:,}"})
            return raw, None
        try:
            number = float(raw)
        except ValueError:
            number = math.nan
        if math.isnan(number):
            return self.default, Notice("url_not_a_number", {"value": raw, "used": self.default})
        clamped = min(max(number, self.low), self.high)
        if self.integer:
            clamped = int(round(clamped))
        if clamped != number:
            return clamped, Notice("url_clamped", {"value": raw, "low": f"{self.low:g}", "high": f"{self.high:g}",
                                                   "used": f"{clamped:g}"})
        return clamped, None


    def check(self, value: Any) -> tuple[Any, bool]:
        """A session value (what a widget sent, or a crafted websocket message claims it sent) as
        a value of this control, and whether it had to be changed: a choice outside the choices,
        text beyond its length, or a number that is not one, not finite or out of range."""
        if self.choices is not None:
            return (value, False) if isinstance(value, str) and value in self.choices else (self.default, True)
        if self.max_length is not None or isinstance(self.default, str):
            if not isinstance(value, str):
                return self.default, True
            limit = self.max_length if self.max_length is not None else len(value)
            if len(value) <= limit:
                return value, False
            return (value[:limit] if self.truncate else self.default), True
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            return self.default, True
        clamped = min(max(value, self.low), self.high)
        if self.integer:
            clamped = int(round(clamped))
        return clamped, clamped != value or type(clamped) is not type(value)


@dataclass(frozen=True)
class Notice:
    """A message about a URL value that could not be used: the key of its sentence in `app.text`
    and the values to put in it, which come from outside and are shown only as text."""

    key: str
    values: dict[str, Any]


# Sampling controls, per panel. Their defaults switch everything off (temperature 1).
SAMPLING_CONTROLS = (
    Control("order", "transformers", choices=ORDERS),
    Control("temperature", 1.0, 0.0, 2.0, 0.05),
    Control("top_p", 1.0, 0.01, 1.0, 0.01),
    Control("top_k", 0, 0, 200, 1, integer=True),
    Control("min_p", 0.0, 0.0, 1.0, 0.01),
    Control("typical_p", 1.0, 0.01, 1.0, 0.01),
    Control("epsilon_cutoff", 0.0, 0.0, 0.05, 0.0005),
    Control("eta_cutoff", 0.0, 0.0, 0.05, 0.0005),
    Control("repetition_penalty", 1.0, 0.5, 2.0, 0.05),
    Control("frequency_penalty", 0.0, -2.0, 2.0, 0.05),
    Control("presence_penalty", 0.0, -2.0, 2.0, 0.05),
    Control("penalty_last_n", 64, -1, 1024, 1, integer=True),
    Control("logit_bias", "", max_length=600),
    Control("top_n_sigma", -1.0, -1.0, 5.0, 0.05),
    Control("xtc_probability", 0.0, 0.0, 1.0, 0.01),
    Control("xtc_threshold", 0.1, 0.0, 1.0, 0.01),
    Control("dynatemp_range", 0.0, 0.0, 2.0, 0.05),
    Control("dynatemp_exponent", 1.0, 0.0, 3.0, 0.05),
    Control("dry_multiplier", 0.0, 0.0, 3.0, 0.05),
    Control("dry_base", 1.75, 1.0, 4.0, 0.05),
    Control("dry_allowed_length", 2, 0, 10, 1, integer=True),
    Control("dry_penalty_last_n", 64, 0, 1024, 1, integer=True),
    Control("mirostat", 0, 0, 2, 2, integer=True),
    Control("mirostat_tau", 5.0, 0.0, 10.0, 0.1),
    Control("mirostat_eta", 0.1, 0.0, 1.0, 0.01),
    Control("samplers", ",".join(DEFAULT_SAMPLERS), max_length=200),
)
"""The logit bias is "token id:bias" pairs, the custom order's samplers comma-separated names."""
PAGE_CHOICES = (
    Control("view", "compare", choices=("compare", "study")),
    Control("lang", "en", choices=LANGUAGES),
    Control("top_n", 20, 5, 50, 1, integer=True),
    Control("chat", "off", choices=("off", "on")),
    Control("runtime", "transformers", choices=RUNTIMES),
)
PAGE_CHOICES_BY_NAME = {control.name: control for control in PAGE_CHOICES}
SAMPLING_CONTROLS_BY_NAME = {control.name: control for control in SAMPLING_CONTROLS}


def generation_controls(settings: Settings) -> tuple[Control, ...]:
    """Samples, length and seed of one panel, bounded by the deployment's limits."""
    limits = settings.limits
    return (
        Control("samples", min(4, limits.max_samples), 1, limits.max_samples, 1, integer=True),
        Control("length", min(30, limits.max_new_tokens), 1, limits.max_new_tokens, 1, integer=True),
        Control("seed", 0, 0, 2**31 - 1, 1, integer=True),
    )


def panel_key(panel: str, name: str) -> str:
    return f"{panel}_{name}"


def all_controls(settings: Settings) -> dict[str, Control]:
    """Every state key; the model choice is the allow-list, the prompt as long as the limit."""
    controls = {control.name: control for control in PAGE_CHOICES}
    controls["prompt"] = Control("prompt", DEFAULT_PROMPT, max_length=settings.limits.max_prompt_chars)
    controls["server"] = Control("server", "none", choices=("none", *(server.name for server in settings.servers)))
    controls["model"] = (Control("model", settings.models[0], max_length=MAX_MODEL_NAME, truncate=False)
                         if settings.open_models
                         else Control("model", settings.models[0], choices=settings.models))
    for panel, opening in zip(PANELS, PAIR_PRESETS[OPENING_PAIR], strict=True):
        for control in SAMPLING_CONTROLS + generation_controls(settings):
            if control.name in opening and opening[control.name] != control.default:
                control = replace(control, default=opening[control.name])
            controls[panel_key(panel, control.name)] = control
    return controls


def defaults(settings: Settings) -> dict[str, Any]:
    return {key: control.default for key, control in all_controls(settings).items()}


def read_url(params: Mapping[str, str], settings: Settings) -> tuple[dict[str, Any], list[Notice]]:
    """Initial state from URL query parameters, and a notice for every value that was not usable."""
    controls = all_controls(settings)
    state, notices = defaults(settings), []
    for key, raw in params.items():
        if key not in controls:
            notices.append(Notice("url_unknown", {"key": key}))
            continue
        value, problem = controls[key].parse(str(raw))
        state[key] = value
        if problem:
            notices.append(Notice(problem.key, {"key": key, **problem.values}))
    return state, notices


def to_url(state: Mapping[str, Any], settings: Settings) -> dict[str, str]:
    """The query parameters that restore ``state``: only the values that differ from the default."""
    return {
        key: f"{state[key]:g}" if isinstance(state[key], float) else str(state[key])
        for key, control in all_controls(settings).items()
        if key in state and state[key] != control.default
    }


def panel_config(state: Mapping[str, Any], panel: str) -> SamplingConfig:
    """The SamplingConfig of one panel; never refuses (see `panel_adjustments` for what it changed)."""
    return _panel(state, panel)[0]


def panel_adjustments(state: Mapping[str, Any], panel: str) -> list[Notice]:
    """What `panel_config` had to change so that the panel's controls make a valid config: logit
    bias entries it could not use, stages a custom order leaves out, dynamic temperature in greedy
    decoding. (Settings the chosen engine lacks are simply off: their controls are greyed out.)"""
    return _panel(state, panel)[1]


def _panel(state: Mapping[str, Any], panel: str) -> tuple[SamplingConfig, list[Notice]]:
    order = state[panel_key(panel, "order")]
    values = {
        control.name: state[panel_key(panel, control.name)]
        for control in SAMPLING_CONTROLS
        if control.name != "order"
    }
    adjustments = []
    values["mirostat"] = 2 if values["mirostat"] else 0  # a URL may say 1: mirostat v1 is not offered
    values["logit_bias"], unusable = parse_logit_bias(values["logit_bias"], state.get("vocab"))
    if unusable:
        adjustments.append(Notice("logit_bias_unusable", {"entries": ", ".join(unusable)}))
    values["samplers"] = tuple(dict.fromkeys(name.strip() for name in str(values["samplers"]).split(",")
                                             if name.strip() in SAMPLERS))
    for name in OFF:
        if name not in SUPPORTED[order]:
            values[name] = OFF[name]
    for name, (owners, default) in SETTINGS_OF_A_STAGE.items():
        if order not in owners:
            values[name] = default
    if values["dynatemp_range"] > 0 and values["temperature"] == 0:
        values["dynatemp_range"] = 0.0
        adjustments.append(Notice("dynatemp_greedy", {}))
    samplers = values.pop("samplers")
    if order in ("llama.cpp", "custom"):
        # The llama.cpp order has the same stages as the custom one, and says which are on before the
        # custom order or mirostat is checked.
        active = SamplingConfig(order="llama.cpp", **{**values, "mirostat": 0}).active()
        left_out = not_run(active, order, samplers, values["mirostat"], values["dynatemp_range"])
        for name in left_out:
            values.update({"temperature": 1.0, "dynatemp_range": 0.0} if name == "temperature"
                          else {name: OFF.get(name, 0.0)})
        if left_out:
            names = ", ".join(dict.fromkeys(SAMPLER_OF.get(name, name) for name in left_out))
            adjustments.append(Notice("mirostat_only" if values["mirostat"] else "left_out", {"names": names}))
    if order == "custom":
        values["samplers"] = samplers
    config = SamplingConfig(order=order, **values)
    return config, adjustments


LOGIT_BIAS_ENTRY = re.compile(r"^\s*(\d{1,9})\s*:\s*([-+]?(?:\d{1,6}(?:\.\d{0,6})?|\.\d{1,6}))\s*$")
PAGE_MAX_LOGIT_BIAS_TOKENS = 64
"""A limit of the page (the engines take any number): how many biases one panel reads."""


def parse_logit_bias(text: str, vocab: int | None = None) -> tuple[tuple[tuple[int, float], ...], list[str]]:
    """ "id:bias" pairs, comma-separated, as the biases they give, and the entries that cannot be
    used: not of that form (a bias of up to six digits each side of the point), a token id outside
    ``vocab``, a repeated id, or beyond the page's first 64.

    >>> parse_logit_bias("13:-5, 262:+250, hello, 99999:1", vocab=50257)
    (((13, -5.0), (262, 250.0)), ['hello', '99999:1'])
    """
    biases, unusable = {}, []
    for entry in (part for part in str(text).split(",") if part.strip()):
        match = LOGIT_BIAS_ENTRY.match(entry)
        token, bias = (int(match[1]), float(match[2])) if match else (None, None)
        if (match is None or (vocab is not None and token >= vocab) or token in biases
                or len(biases) >= PAGE_MAX_LOGIT_BIAS_TOKENS):
            unusable.append(entry.strip()[:40])
            continue
        biases[token] = bias
    return tuple(biases.items()), unusable


def unsupported(order: str) -> set[str]:
    """Sampling controls that the ``order``'s engine does not have (shown disabled)."""
    lacking = ({name for name in OFF if name not in SUPPORTED[order]}
               | {name for name, (owners, _) in SETTINGS_OF_A_STAGE.items() if order not in owners})
    return lacking & {control.name for control in SAMPLING_CONTROLS}


OFF_SETTINGS = {control.name: control.default for control in SAMPLING_CONTROLS if control.name != "order"}

PRESETS: dict[str, dict[str, Any]] = {
    # generate() itself is greedy unless the model's generation_config.json sets do_sample (see
    # MODEL_PRESET); with do_sample=True and nothing else set it samples with its hidden top_k 50.
    "transformers do_sample=True defaults": {**OFF_SETTINGS, "order": "transformers", "top_k": 50},
    "vLLM defaults": {**OFF_SETTINGS, "order": "vllm"},
    "llama.cpp defaults": {
        **OFF_SETTINGS, "order": "llama.cpp", "temperature": 0.8, "top_k": 40, "top_p": 0.95, "min_p": 0.05,
    },
    "greedy": {**OFF_SETTINGS, "temperature": 0.0},
    "all filters off": dict(OFF_SETTINGS),
}

# The classic comparisons of temperature and top_p: one setting for A, one for B. The page opens
# on the first.
PAIR_PRESETS: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {
    "temperature": ({**OFF_SETTINGS, "temperature": 0.9}, {**OFF_SETTINGS, "temperature": 0.1}),
    "top_p": ({**OFF_SETTINGS, "top_p": 0.9}, {**OFF_SETTINGS, "top_p": 0.1}),
}
OPENING_PAIR = "temperature"


MODEL_PRESET = "this model's defaults"
"""The preset read from the model's generation_config.json, as the panel's engine reads it."""


def set_config(state: MutableMapping[str, Any], panel: str, config: SamplingConfig) -> list[str]:
    """Set a panel's controls to ``config``; returns the controls whose value was outside the
    slider's range and was clamped to it."""
    clamped = []
    for control in SAMPLING_CONTROLS:
        value = getattr(config, control.name)
        if control.name == "logit_bias":
            value = ", ".join(f"{token}:{bias:g}" for token, bias in value)
        elif control.name == "samplers":
            value = ",".join(value)
        elif control.low is not None:
            within = min(max(value, control.low), control.high)
            if within != value:
                clamped.append(control.name)
            value = within
        state[panel_key(panel, control.name)] = value
    return clamped


def set_panel(state: MutableMapping[str, Any], panel: str, settings: Mapping[str, Any]) -> None:
    for name, value in settings.items():
        state[panel_key(panel, name)] = value


def apply_preset(state: MutableMapping[str, Any], panel: str, name: str) -> None:
    set_panel(state, panel, PRESETS[name])


def apply_pair_preset(state: MutableMapping[str, Any], name: str) -> None:
    for panel, settings in zip(PANELS, PAIR_PRESETS[name], strict=True):
        set_panel(state, panel, settings)


def copy_panel(state: MutableMapping[str, Any], source: str, target: str) -> None:
    """Copy one panel's sampling settings and its sample controls to the other."""
    names = [control.name for control in SAMPLING_CONTROLS] + ["samples", "length", "seed"]
    for name in names:
        state[panel_key(target, name)] = state[panel_key(source, name)]


def initialize(session: MutableMapping[str, Any], url: Mapping[str, str], settings: Settings) -> None:
    """On a session's first run, take the state from the URL and keep a notice for every value that
    was not usable (``session["url_notices"]``).

    On later runs, re-assign every value: Streamlit forgets the value of a widget that a run does
    not draw (the Compare controls while the Study view is shown), and a re-assigned key is kept.
    """
    if "initialized" not in session:
        values, notices = read_url(url, settings)
        session.update(values)
        session["url_notices"] = notices
        session["initialized"] = True
        return
    rejected = []
    for key, control in all_controls(settings).items():
        try:
            current = session.get(key, control.default)
        except (TypeError, ValueError, OverflowError):  # Streamlit could not even convert the value
            current, changed = control.default, True
        value, changed = control.check(current)
        if key.endswith("_samplers"):
            value = ",".join(dict.fromkeys(name for name in value.split(",") if name in SAMPLERS))
        if changed and key in session:
            rejected.append(key)
        session[key] = value
    if rejected:
        session.setdefault("url_notices", []).append(Notice("widget_value_rejected", {"keys": ", ".join(rejected)}))


def sync_url(session: Mapping[str, Any], query_params: Any, settings: Settings) -> None:
    """Write the state that differs from the defaults into the page's URL (``st.query_params``)."""
    query_params.from_dict(to_url(session, settings))
