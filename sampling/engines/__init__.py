"""Each engine's sampling stages, in its own order, computed by its own rules.

- `hf`: transformers' own warpers.
- `vllm`: vLLM's PyTorch (CPU) path, transcribed rule by rule.
- `llama_cpp`: llama.cpp's own samplers through llama-cpp-python, or a NumPy port of them.
"""

from __future__ import annotations

from typing import Literal

import torch

from sampling.engines import hf, llama_cpp, vllm
from sampling.engines.base import EMPTY_CONTEXT, PENALTIES, REMOVED, Context, StageOutput, run_steps

LlamaCppChoice = Literal["auto", "native", "port"]
ORDERS = {"transformers": hf.ORDER, "vllm": vllm.ORDER, "llama.cpp": llama_cpp.ORDER}


def implementation(order: str, llama_cpp_choice: LlamaCppChoice = "auto") -> str:
    """What computes ``order``'s stages, in one line."""
    if order == "llama.cpp":
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
    penalty_last_n: int = llama_cpp.DEFAULT_PENALTY_LAST_N,
) -> list[StageOutput]:
    """The logits after each stage that ``active`` switches on, in ``order``'s engine order.

    ``logits`` is ``[batch, vocab]`` float32; ``temperature`` is the configured one (0 = greedy);
    ``context`` holds the tokens the penalties count (``penalty_last_n``: llama.cpp's window).
    """
    if order == "transformers":
        return run_steps(hf.steps(active, temperature, context), logits)
    if order == "vllm":
        return run_steps(vllm.steps(active, temperature, context), logits)
    stages = [(name, active[name]) for name in llama_cpp.ORDER if name in active]
    return llama_cpp.run(logits, stages, native=_native(llama_cpp_choice), context=context,
                         penalty_last_n=penalty_last_n)


__all__ = ["ORDERS", "PENALTIES", "REMOVED", "Context", "LlamaCppChoice", "StageOutput", "implementation", "run"]
