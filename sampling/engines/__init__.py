"""Each engine's sampling stages, in its own order, computed by its own rules.

- `hf`: transformers' own warpers.
- `vllm`: vLLM's PyTorch (CPU) path, transcribed rule by rule.
- `llama_cpp`: llama.cpp's own samplers through llama-cpp-python, or a NumPy port of them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any, Literal

import torch

from sampling.engines import hf, llama_cpp, vllm
from sampling.engines.base import EMPTY_CONTEXT, PENALTIES, REMOVED, Context, StageOutput, run_steps

LlamaCppChoice = Literal["auto", "native", "port"]
ORDERS = {"transformers": hf.ORDER, "vllm": vllm.ORDER, "llama.cpp": llama_cpp.ORDER, "custom": llama_cpp.ORDER}
"""Every order's stages; the custom order's are llama.cpp's, in the order its ``samplers`` give."""


def implementation(order: str, llama_cpp_choice: LlamaCppChoice = "auto") -> str:
    """What computes ``order``'s stages, in one line."""
    if order in ("llama.cpp", "custom"):
        return llama_cpp.implementation(native=_native(llama_cpp_choice))
    return {"transformers": hf.IMPLEMENTATION, "vllm": vllm.IMPLEMENTATION}[order]


def _native(choice: LlamaCppChoice) -> bool | None:
    return {"auto": None, "native": True, "port": False}[choice]


def run(
    logits: torch.Tensor,
    order: str,
    active: dict[str, float],
    temperature: float,
    llama_cpp_choice: LlamaCppChoice = "auto",
    context: Context = EMPTY_CONTEXT,
    settings: Mapping[str, Any] | None = None,
) -> list[StageOutput]:
    """The logits after each stage that ``active`` switches on, in ``order``'s engine order.

    ``logits`` is ``[batch, vocab]`` float32; ``temperature`` is the configured one (0 = greedy);
    ``context`` holds the tokens the penalties count; ``settings`` what else the stages need
    (`SamplingConfig.stage_settings`: llama.cpp's penalty window, XTC threshold, dynamic
    temperature, the custom order's ``samplers``, the logit biases).
    """
    settings = dict(settings or {})
    biases = tuple(settings.get("logit_bias", ()))
    if biases and max(token for token, _ in biases) >= logits.shape[-1]:
        raise ValueError(f"logit_bias names token {max(token for token, _ in biases)}, but the vocabulary has "
                         f"{logits.shape[-1]:,} tokens (ids 0 to {logits.shape[-1] - 1:,})")
    if order == "transformers":
        return run_steps(hf.steps(active, temperature, context, biases), logits)
    if order == "vllm":
        return run_steps(vllm.steps(active, temperature, context, biases), logits)
    samplers = tuple(settings.get("samplers", llama_cpp.DEFAULT_SAMPLERS)) if order == "custom" else \
        llama_cpp.DEFAULT_SAMPLERS
    names = llama_cpp.chain_stages(samplers, mirostat="mirostat" in active)
    stages = [(name, active[name]) for name in names if name in active]
    stage_settings = llama_cpp.StageSettings.of(settings)
    if "mirostat" in active:  # common_sampler_init gives mirostat a plain llama_sampler_init_temp
        stage_settings = replace(stage_settings, dynatemp_range=0.0)
    return llama_cpp.run(logits, stages, native=_native(llama_cpp_choice), context=context, settings=stage_settings)


__all__ = ["ORDERS", "PENALTIES", "REMOVED", "Context", "LlamaCppChoice", "StageOutput", "implementation", "run"]
