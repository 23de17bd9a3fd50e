"""One-line notices about a trace: where the engine changed a setting, and cuts through tied logits."""

from __future__ import annotations

from dataclasses import fields

import transformers

from app.text import t
from sampling.config import SamplingConfig
from sampling.engines import llama_cpp, vllm
from sampling.pipeline import Trace


def implementation_text(order: str, lang: str) -> str:
    """What computes ``order``'s stages, in ``lang`` (`sampling.engines.implementation` in words)."""
    if order == "transformers":
        return t(lang, "implementation_transformers", version=transformers.__version__)
    if order == "vllm":
        return t(lang, "implementation_vllm", version=vllm.VERSION)
    native = llama_cpp.native_module()
    if native is None:
        return t(lang, "implementation_llama_port")
    return t(lang, "implementation_llama_native", version=native.__version__)


def stage_notices(trace: Trace, lang: str) -> list[str]:
    """For each stage of ``trace`` (one row): the engine's own change of its value, then any tie
    that its cut fell inside, with how each engine breaks such a tie."""
    lines = []
    for stage in trace.stages:
        if stage.note:
            lines.append(stage.note if lang == "en" else t(lang, f"note_{stage.name}", engine=trace.config.order,
                                                            given=getattr(trace.config, stage.name), used=stage.value))
        ties = stage.details.get("ties")
        if ties is not None and int(ties["tied"]) > 0:
            lines.append(t(lang, "tie_notice", stage=stage.name, tied=int(ties["tied"]), kept=int(ties["kept"]),
                           logit=float(ties["logit"]), rule=t(lang, f"tie_rule_{trace.config.order}")))
    return lines



def describe_pair(a: SamplingConfig, b: SamplingConfig, lang: str) -> str:
    """One line on what the two panels show: the settings in which A and B differ, and what the
    first of them does."""
    differing = [field.name for field in fields(SamplingConfig) if getattr(a, field.name) != getattr(b, field.name)]
    if not differing:
        return t(lang, "pair_same")
    values = ("、" if lang == "zh" else ", ").join(
        t(lang, "pair_value", name=name, a=_shown(getattr(a, name)), b=_shown(getattr(b, name))) for name in differing)
    explanation = t(lang, "order_explained") if "order" in differing else t(lang, f"{differing[0]}_help")
    return t(lang, "pair_differ", values=values, explanation=explanation)


def describe_config(config: SamplingConfig, lang: str) -> str:
    """The settings that change anything, as "temperature 0.4, top_p 0.9", or "greedy"."""
    parts = [f"{name} {_shown(value)}" for name, value in config.active().items() if name != "temperature"]
    if config.greedy:
        parts.insert(0, t(lang, "greedy_setting"))
    elif "temperature" in config.active():
        parts.insert(0, f"temperature {_shown(config.temperature)}")
    return ", ".join(parts) or t(lang, "nothing_set")


def _shown(value: object) -> str:
    """A setting's value as a person writes it: 0.9, 13:-100 5:2 for a logit bias, top_k,temperature
    for samplers, "none" for an empty one; never a Python tuple."""
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, tuple):
        if not value:
            return "none"
        if all(isinstance(item, tuple) for item in value):
            return " ".join(f"{token}:{bias:g}" for token, bias in value)
        return ",".join(str(item) for item in value)
    return str(value)
