"""Repetition, frequency and presence penalties: each engine's definition on hand-worked cases,
their place in each chain, which tokens each engine counts, and that they follow the context in
the next-token view, in `generate` and on the page."""

import json
import re

import numpy as np
import pytest
import torch

from transformers import GenerationConfig

from apptest_helpers import new_app
from hostile_model import build_hostile_model
from sampling import Context, SamplingConfig, apply, chain, load_model
from sampling.config import model_defaults
from sampling.engines import llama_cpp

LOGITS = torch.tensor([[2.0, 1.0, -1.0, 0.5, 3.0, 0.0]])
PROMPT = [0, 2, 0, 4]  # token 0 twice, tokens 2 and 4 once; 1, 3 and 5 never
LLAMA_CHOICES = ["port"] + (["native"] if llama_cpp.native_module() is not None else [])


def final(config: SamplingConfig, context: Context, **options) -> list[float]:
    return apply(LOGITS, config, context=context, **options).final_logits[0].tolist()


def test_transformers_divides_positive_and_multiplies_negative_logits_of_every_input_token():
    # RepetitionPenaltyLogitsProcessor itself: once per token, however often it occurs.
    assert final(SamplingConfig(repetition_penalty=2.0), Context.of(PROMPT)) == pytest.approx(
        [1.0, 1.0, -2.0, 0.5, 1.5, 0.0])
    generated = Context.of(PROMPT, torch.tensor([[1]]))
    assert final(SamplingConfig(repetition_penalty=2.0), generated)[1] == pytest.approx(0.5), "output tokens too"


def test_vllm_counts_the_prompt_for_repetition_but_only_the_output_for_frequency_and_presence():
    config = SamplingConfig(order="vllm", repetition_penalty=2.0, frequency_penalty=0.5, presence_penalty=0.25)
    # The next token after a prompt: no output yet, so only the repetition penalty acts.
    assert final(config, Context.of(PROMPT)) == pytest.approx([1.0, 1.0, -2.0, 0.5, 1.5, 0.0])
    # After generating 4, 4, 1: token 4 counts 2 in the output, token 1 counts 1; token 0 (prompt only) none.
    after = final(config, Context.of(PROMPT, torch.tensor([[4, 4, 1]])))
    assert after == pytest.approx([1.0, 0.5 - 0.5 - 0.25, -2.0, 0.5, 1.5 - 2 * 0.5 - 0.25, 0.0])


@pytest.mark.parametrize("choice", LLAMA_CHOICES)
def test_llama_cpp_counts_the_last_n_tokens_of_prompt_and_output(choice):
    config = SamplingConfig(order="llama.cpp", repetition_penalty=2.0, frequency_penalty=0.5, presence_penalty=0.25,
                            temperature=1.0, top_k=0, penalty_last_n=64)
    # token 0: 2 / 2 − (2·0.5 + 0.25); token 2: −1 · 2 − 0.75; token 4: 3 / 2 − 0.75.
    assert final(config, Context.of(PROMPT), llama_cpp=choice) == pytest.approx(
        [1.0 - 1.25, 1.0, -2.0 - 0.75, 0.5, 1.5 - 0.75, 0.0])
    # The window: only the last 2 tokens (0, 4) count, once each.
    last_two = final(config.with_values(penalty_last_n=2), Context.of(PROMPT), llama_cpp=choice)
    assert last_two == pytest.approx([1.0 - 0.75, 1.0, -1.0, 0.5, 1.5 - 0.75, 0.0])
    # A window longer than the context counts all of it: 3 of 5 tokens are no "last 2".
    assert final(config.with_values(penalty_last_n=5), Context.of(PROMPT), llama_cpp=choice) == pytest.approx(
        [1.0 - 1.25, 1.0, -2.0 - 0.75, 0.5, 1.5 - 0.75, 0.0])
    # 0 switches the penalties off, and so does -1: llama_sampler_init_penalties clamps it to 0 (0.3.36).
    for off in (0, -1, -64):
        assert final(config.with_values(penalty_last_n=off), Context.of(PROMPT * 40), llama_cpp=choice) == \
            LOGITS[0].tolist()


@pytest.mark.parametrize("choice", LLAMA_CHOICES)
def test_llama_cpp_window_longer_than_a_short_context_counts_all_of_it(choice):
    # The case an independent check found: window 4, prompt [0, 1, 2]; llama.cpp penalises all three.
    config = SamplingConfig(order="llama.cpp", repetition_penalty=2.0, penalty_last_n=4)
    probs = apply(torch.ones(4), config, context=Context.of([0, 1, 2]), llama_cpp=choice).probs
    assert probs.tolist() == pytest.approx([0.2151, 0.2151, 0.2151, 0.3547], abs=1e-4)


@pytest.mark.skipif(llama_cpp.native_module() is None, reason="llama-cpp-python is not installed")
def test_the_ported_penalties_equal_llama_cpp_itself_on_random_cases():
    generator = torch.Generator().manual_seed(0)
    rng = np.random.default_rng(0)
    for _ in range(200):
        vocab = int(rng.integers(2, 3000))
        logits = torch.randn(vocab, generator=generator) * float(rng.uniform(0.5, 8))
        context = Context.of(rng.integers(0, vocab, int(rng.integers(0, 300))).tolist())
        config = SamplingConfig(order="llama.cpp", temperature=1.0, repetition_penalty=float(rng.uniform(0.5, 2)),
                                frequency_penalty=float(rng.uniform(-2, 2)), presence_penalty=float(rng.uniform(-2, 2)),
                                penalty_last_n=int(rng.choice([-1, 0, 1, 16, 64, 1000])))
        native, port = (apply(logits, config, context=context, llama_cpp=choice) for choice in ("native", "port"))
        for native_stage, port_stage in zip(native.stages, port.stages, strict=True):
            # llama.cpp's compiler may fuse count·freq + present into one rounding: 1 ulp at most.
            torch.testing.assert_close(native_stage.logits, port_stage.logits, rtol=2e-7, atol=1e-6)


def test_each_engine_runs_the_penalties_first_and_lacks_what_it_lacks():
    assert chain(SamplingConfig(repetition_penalty=1.2, temperature=0.7, top_p=0.9)) == [
        "repetition_penalty", "temperature", "top_p"]
    assert chain(SamplingConfig(order="vllm", presence_penalty=0.5, frequency_penalty=0.1, repetition_penalty=1.1,
                                top_k=5)) == ["repetition_penalty", "frequency_penalty", "presence_penalty", "top_k"]
    assert chain(SamplingConfig(order="llama.cpp", presence_penalty=0.5, top_k=40, temperature=0.8)) == [
        "presence_penalty", "top_k", "temperature"]
    # Greedy decoding still runs the penalties in transformers and vLLM (they are processors, not warpers).
    assert chain(SamplingConfig(temperature=0, repetition_penalty=1.3)) == ["repetition_penalty", "greedy"]
    greedy = apply(torch.tensor([3.0, 2.9, 0.0]), SamplingConfig(temperature=0, repetition_penalty=1.3),
                   context=Context.of([0]))
    assert greedy.kept.tolist() == [False, True, False], "the penalty turned the argmax"
    with pytest.raises(ValueError, match="frequency_penalty is not part of the transformers sampler.*vllm, llama.cpp"):
        SamplingConfig(frequency_penalty=0.5)
    with pytest.raises(ValueError, match="penalty_last_n is a setting of the llama.cpp and custom orders only"):
        SamplingConfig(order="vllm", penalty_last_n=16)
    with pytest.raises(ValueError, match=r"presence_penalty \(vLLM's SamplingParams\) must be in \[-2.0, 2.0\]"):
        SamplingConfig(order="vllm", presence_penalty=2.5)
    # llama.cpp asks only for finite values: no [-2, 2] range there.
    assert SamplingConfig(order="llama.cpp", presence_penalty=2.5, frequency_penalty=-7.0).active()[
        "frequency_penalty"] == -7.0
    with pytest.raises(ValueError, match="act on the tokens before this one"):
        apply(LOGITS, SamplingConfig(repetition_penalty=1.2))


def test_the_same_last_token_after_prompts_that_differ_in_repeated_words():
    handle = load_model("fortune-small")
    once, thrice = (handle.next_token_logits(text) for text in ("a dog, a cat and a", "a dog, a dog, a dog and a"))
    dog = handle.tokenizer.encode(" dog")[0]
    cat = handle.tokenizer.encode(" cat")[0]
    assert cat in once.prompt.ids and cat not in thrice.prompt.ids
    logits = once.logits  # the same logits under both contexts: only the context differs
    config = SamplingConfig(order="llama.cpp", temperature=1.0, top_k=0, frequency_penalty=0.5)
    after_once = apply(logits, config, context=once.context).final_logits
    after_thrice = apply(logits, config, context=thrice.context).final_logits
    assert after_once[dog] == pytest.approx(logits[dog] - 0.5)
    assert after_thrice[dog] == pytest.approx(logits[dog] - 1.5)
    assert after_once[cat] == pytest.approx(logits[cat] - 0.5) and after_thrice[cat] == logits[cat]
    transformers = SamplingConfig(repetition_penalty=1.5)
    assert not torch.equal(apply(logits, transformers, context=once.context).probs,
                           apply(logits, transformers, context=thrice.context).probs)


def test_generate_counts_the_prompt_and_the_tokens_generated_so_far():
    handle = load_model("fortune-small")
    config = SamplingConfig(order="vllm", frequency_penalty=1.5, presence_penalty=0.5, repetition_penalty=1.3)
    generation = handle.generate("a dog, a dog and a", config, n=3, max_new_tokens=12, seed=3, return_logits=True)
    prompt = generation.prompt.ids
    for row, continuation in enumerate(generation.continuations):
        ids = [token.id for token in continuation.tokens]
        for step, token in enumerate(continuation.tokens):
            context = Context.of(prompt, torch.tensor([ids[:step]]))
            expected = apply(generation.step_logits[step, row], config, context=context).probs[token.id]
            assert token.probability == pytest.approx(float(expected), rel=1e-5)
        repeated = next((step for step in range(1, len(ids)) if ids[step] in ids[:step]), None)
        if repeated is not None:  # a token drawn again was penalised for its earlier draw
            without_output = apply(generation.step_logits[repeated, row], config, context=Context.of(prompt))
            assert continuation.tokens[repeated].probability < float(without_output.probs[ids[repeated]])


def unescaped(text: str) -> str:
    return re.sub(r"\\(.)", r"\1", text)


def test_the_page_applies_the_penalties_to_the_prompt_tokens():
    at = new_app()
    at.run()
    at.text_area(key="prompt").set_value("a dog, a dog, a dog and a").run()
    at.selectbox(key="b_order").set_value("llama.cpp").run()
    assert not [slider for slider in at.slider if slider.key == "b_frequency_penalty"], "drawn only when picked"
    at.pills(key="b_more").set_value("penalties").run()
    at.slider(key="b_frequency_penalty").set_value(0.5).run()
    assert not at.exception, at.exception
    handle = load_model(at.session_state["model"])
    distinct = len(set(handle.next_token_logits("a dog, a dog, a dog and a").prompt.ids))
    captions = [unescaped(caption.value) for caption in at.caption]
    assert f"frequency penalty: {distinct} tokens penalised" in captions
    assert at.query_params["b_frequency_penalty"] in ("0.5", ["0.5"]), "the URL keeps it"
    at.selectbox(key="b_order").set_value("transformers").run()
    assert at.slider(key="b_frequency_penalty").disabled, "transformers has no frequency penalty"
    assert not at.exception


def test_a_locally_built_models_generation_config_gives_its_defaults(tmp_path):
    path = build_hostile_model(tmp_path / "local")
    GenerationConfig(do_sample=True, temperature=0.6, top_k=20, top_p=0.85, repetition_penalty=1.2,
                     bos_token_id=0, eos_token_id=0).save_pretrained(path)
    handle = load_model(str(path))
    assert handle.default_config() == SamplingConfig(temperature=0.6, top_k=20, top_p=0.85, repetition_penalty=1.2)
    assert handle.default_config("vllm") == SamplingConfig(order="vllm", temperature=0.6, top_k=20, top_p=0.85,
                                                           repetition_penalty=1.2)
    # The custom order runs llama.cpp's samplers, so it reads the file as llama.cpp does.
    assert handle.default_config("custom") == handle.default_config("llama.cpp").with_values(order="custom")
    # A file without do_sample (transformers would not write one; files in the wild have it): generate()
    # is greedy, while vLLM samples at its temperature.
    (path / "generation_config.json").write_text(json.dumps({"temperature": 0.6, "eos_token_id": 0}))
    again = load_model(str(path))
    assert again.default_config().greedy and again.default_config("vllm").temperature == 0.6


def test_the_model_defaults_preset_reads_generation_config_as_each_engine_does(tmp_path):
    handle = load_model("code-py")
    assert handle.generation_config["repetition_penalty"] == 1.1
    assert handle.default_config() == SamplingConfig(temperature=0.4, top_p=0.9, repetition_penalty=1.1)
    assert handle.default_config("llama.cpp") == SamplingConfig(order="llama.cpp", temperature=0.4, top_k=0, top_p=0.9,
                                                                min_p=0.05, repetition_penalty=1.1)
    # A file that does not set do_sample: generate() is greedy, vLLM and llama.cpp sample anyway.
    values = {"temperature": 0.6, "top_p": 0.8, "top_k": 20}
    assert model_defaults(values).greedy
    assert model_defaults(values, "vllm") == SamplingConfig(order="vllm", temperature=0.6, top_p=0.8, top_k=20)
    assert model_defaults({"penalty_repeat": 1.3, "repetition_penalty": 1.1}, "llama.cpp").repetition_penalty == 1.3
    assert model_defaults({"do_sample": True}) == SamplingConfig(top_k=50), "transformers' hidden top_k 50"

    at = new_app()
    at.run()
    at.selectbox(key="a_preset").set_value("this model's defaults").run()
    assert not at.exception, at.exception
    model = load_model(at.session_state["model"])
    expected = model.default_config("transformers")
    assert at.slider(key="a_temperature").value == expected.temperature
    assert at.slider(key="a_top_p").value == pytest.approx(expected.top_p)
    assert f"` {model.name} `'s defaults, as ` transformers ` reads its generation_config.json: ` temperature " \
           f"{expected.temperature:g}, top_p {expected.top_p:g} `." in [unescaped(caption.value) for caption in at.caption]
