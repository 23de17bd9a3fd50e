"""A real llama-server, built from the llama.cpp tree that the pinned llama-cpp-python sdist vendors
(`scripts/build_llama_server.sh`), serving SmolLM2's GGUF on loopback.

Its post-sampling probabilities for a prompt must equal the llama.cpp order computed here on
llama.cpp's own logits of the same file (llama-cpp-python's forward pass) to 1e-5 on every reported
token, for top_k, top_p, min_p, temperature, typical, the penalties and a custom order; a seeded
completion must draw the tokens that this project's llama.cpp-runtime `generate` draws. CI builds the
server (REQUIRE_LLAMA_SERVER=1); elsewhere the tests skip when it has not been built.
"""

from __future__ import annotations

import os

import pytest

from benchmarks.harness import LLAMA_SERVER, llama_server
from sampling import Context, SamplingConfig, apply
from sampling.engines.llama_cpp import DEFAULT_SAMPLERS
from sampling.fetch import FetchError, fetch
from sampling.runtime import available as llama_cpp_available
from sampling.servers import Backend, LlamaServer, ServerError

PROMPT = "hello, this is my favorite"


def _skip_or_fail(reason: str):
    if os.environ.get("REQUIRE_LLAMA_SERVER") == "1":
        raise RuntimeError(f"REQUIRE_LLAMA_SERVER=1 but {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def gguf():
    try:
        return fetch("smollm2", progress=lambda line: None)
    except FetchError as error:
        _skip_or_fail(f"SmolLM2 cannot be fetched: {error}")


@pytest.fixture(scope="module")
def server(gguf):
    if not LLAMA_SERVER.exists():
        _skip_or_fail(f"llama-server has not been built ({LLAMA_SERVER}); run scripts/build_llama_server.sh")
    if not llama_cpp_available():
        _skip_or_fail("llama-cpp-python is not installed")
    with llama_server(gguf) as url:
        yield LlamaServer(Backend("test llama-server", url, "llama.cpp", timeout=60))


@pytest.fixture(scope="module")
def smollm2(gguf):
    from sampling import load_model

    return load_model("smollm2")


CONFIGS = {
    "llama.cpp defaults": SamplingConfig(order="llama.cpp", temperature=0.8, top_k=40, top_p=0.95, min_p=0.05),
    "top_k": SamplingConfig(order="llama.cpp", temperature=1.0, top_k=12),
    "top_p": SamplingConfig(order="llama.cpp", temperature=1.0, top_p=0.6),
    "min_p": SamplingConfig(order="llama.cpp", temperature=1.3, min_p=0.02),
    "temperature": SamplingConfig(order="llama.cpp", temperature=0.5, top_k=50),
    "typical": SamplingConfig(order="llama.cpp", temperature=1.0, typical_p=0.7),
    "penalties": SamplingConfig(order="llama.cpp", temperature=0.9, top_k=60, repetition_penalty=1.4,
                                frequency_penalty=0.5, presence_penalty=0.3, penalty_last_n=8),
    "custom order": SamplingConfig(order="custom", samplers=("temperature", "top_p"), temperature=0.6, top_p=0.7),
}


def local_probs(smollm2, config: SamplingConfig, ids: list[int]):
    logits = smollm2.logits_after(ids, runtime="llama.cpp")
    return apply(logits, config, context=Context.of(ids), llama_cpp="native").probs


@pytest.mark.parametrize("name", list(CONFIGS))
def test_the_servers_post_sampling_probabilities_equal_the_local_llama_cpp_order(server, smollm2, name):
    config = CONFIGS[name]
    ids = list(smollm2.encode(PROMPT).ids)
    step = server.complete(ids, config, n_predict=1, n_probs=200, seed=1)[0]
    probs = local_probs(smollm2, config, ids)
    kept = int((probs > 0).sum())
    assert len(step.candidates) == min(kept, 200)
    for candidate in step.candidates:
        assert abs(probs[candidate.id].item() - candidate.probability) <= 1e-5, (name, candidate)
    if kept <= 200:
        assert step.not_reported < 1e-5, "the whole post-sampling distribution was reported"


@pytest.mark.parametrize("name", ["llama.cpp defaults", "min_p", "custom order"])
def test_the_agreement_fails_when_the_local_order_is_changed(server, smollm2, name):
    """A mutation: the same values with temperature moved to the other end of the chain."""
    config = CONFIGS[name]
    ids = list(smollm2.encode(PROMPT).ids)
    step = server.complete(ids, config, n_predict=1, n_probs=200, seed=1)[0]
    samplers = config.samplers if config.order == "custom" else DEFAULT_SAMPLERS
    moved = ("temperature", *(s for s in samplers if s != "temperature")) if samplers[-1] == "temperature" else \
        (*(s for s in samplers if s != "temperature"), "temperature")
    wrong = local_probs(smollm2, config.with_values(order="custom", samplers=moved), ids)
    assert max(abs(wrong[c.id].item() - c.probability) for c in step.candidates) > 1e-3


@pytest.mark.parametrize("seed", [3, 11])
def test_a_seeded_completion_draws_what_the_llama_cpp_runtime_draws(server, smollm2, seed):
    config = CONFIGS["llama.cpp defaults"]
    steps = server.complete(list(smollm2.encode(PROMPT).ids), config, n_predict=16, n_probs=1, seed=seed)
    ours = smollm2.generate(PROMPT, config, n=1, max_new_tokens=16, seed=seed, runtime="llama.cpp")
    assert [step.token for step in steps] == [token.id for token in ours.continuations[0].tokens]


def test_the_server_names_itself_and_its_refusals_come_as_one_line(server):
    info = server.info()
    assert info.engine == "llama.cpp" and info.model.endswith(".gguf") and info.version.startswith("llama-server")
    with pytest.raises(ServerError) as error:
        server.complete([1, 2, 3], SamplingConfig(order="llama.cpp", penalty_last_n=-1, repetition_penalty=1.1))
    assert "\n" not in str(error.value)
