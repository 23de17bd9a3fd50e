"""Sampling explained: the decoding pipelines of transformers, vLLM and llama.cpp, exactly.

>>> import torch, sampling
>>> trace = sampling.apply(torch.tensor([3.0, 2.0, 1.0, 0.0]), sampling.SamplingConfig(top_p=0.9))
>>> trace.kept.tolist()
[True, True, True, False]
"""

from sampling.config import ORDERS, SamplingConfig
from sampling.engines import Context
from sampling.limits import Limits
from sampling.models import BUNDLED_MODELS, ModelHandle, ModelLoadError, default_model_name, load_model
from sampling.pipeline import Stage, Trace, apply, chain, sample

__all__ = [
    "BUNDLED_MODELS",
    "Context",
    "Limits",
    "ORDERS",
    "ModelHandle",
    "ModelLoadError",
    "SamplingConfig",
    "Stage",
    "Trace",
    "apply",
    "chain",
    "default_model_name",
    "load_model",
    "sample",
]
