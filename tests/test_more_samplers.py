"""The logit bias, DRY, top-n-sigma, XTC, dynamic temperature, mirostat v2 and the custom order:
each on hand-worked cases and on llama.cpp's own test cases, against llama.cpp itself when
llama-cpp-python is installed and the port always; their place in each chain; refusals where an
engine lacks them; their state across steps in `generate` (XTC's chance, mirostat's μ, DRY's
context); and the page (URL, greyed controls, step-through, the arithmetic table)."""

import math
import re

import pytest
import torch

from app import resources, tables
from apptest_helpers import new_app, panel_charts, plain_text
from sampling import Context, SamplingConfig, apply, chain, load_model
from sampling.engines import llama_cpp
from sampling.engines.base import Vocabulary
from sampling.pipeline import distribution_to_draw_from

LLAMA_CHOICES = ["port"] + (["native"] if llama_cpp.native_module() is not None else [])
LLAMA = {"order": "llama.cpp", "temperature": 1.0, "top_k": 0}
"""llama.cpp with only the stage under test switched on."""


def kept(logits, config, **options) -> list[bool]:
    return apply(torch.tensor(logits), config, **options).kept.tolist()


@pytest.mark.parametrize("choice", LLAMA_CHOICES)
def test_top_n_sigma_keeps_logits_within_n_standard_deviations_of_the_largest(choice):
    # mean 1.5, population std sqrt(1.25) = 1.118: n = 1 keeps logits ≥ 3 − 1.118 = 1.88.
    assert kept([3.0, 2.0, 1.0, 0.0], SamplingConfig(top_n_sigma=1.0, **LLAMA), llama_cpp=choice) == [
        True, True, False, False]
    # n = 2 keeps ≥ 0.76; -inf logits do not count in the mean or the spread.
    assert kept([3.0, 2.0, 1.0, 0.0, -math.inf], SamplingConfig(top_n_sigma=2.0, **LLAMA), llama_cpp=choice) == [
        True, True, True, False, False]
    assert kept([3.0, 2.0, 1.0, 0.0], SamplingConfig(top_n_sigma=-1.0, **LLAMA), llama_cpp=choice) == [True] * 4


@pytest.mark.parametrize("choice", LLAMA_CHOICES)
def test_xtc_removes_every_likely_token_but_the_least_likely_of_them(choice):
    logits = torch.tensor([0.5, 0.3, 0.15, 0.05]).log().tolist()
    config = SamplingConfig(xtc_probability=1.0, xtc_threshold=0.1, **LLAMA)
    # 0.5, 0.3 and 0.15 are ≥ 0.1: all but 0.15 go.
    assert kept(logits, config, llama_cpp=choice) == [False, False, True, True]
    # One token above the threshold: nothing goes. Above 0.5 llama.cpp switches XTC off.
    assert kept(logits, config.with_values(xtc_threshold=0.4), llama_cpp=choice) == [True] * 4
    trace = apply(torch.tensor(logits), config.with_values(xtc_threshold=0.6), llama_cpp=choice)
    assert trace.kept.all() and "above 0.5" in trace.stages[0].note
    # Its chance: shown when it fires, and said so; when it does not fire nothing goes.
    sometimes = config.with_values(xtc_probability=0.3)
    assert "30% of draws" in apply(torch.tensor(logits), sometimes, llama_cpp=choice).stages[0].note
    assert kept(logits, sometimes, llama_cpp=choice, xtc_fires=False) == [True] * 4


@pytest.mark.parametrize("choice", LLAMA_CHOICES)
def test_dynamic_temperature_follows_the_normalised_entropy(choice):
    config = SamplingConfig(temperature=1.0, dynatemp_range=0.5, dynatemp_exponent=1.0, order="llama.cpp")
    # Uniform: normalised entropy 1, so T + range = 1.5.
    flat = apply(torch.tensor([2.0, 2.0, 2.0, 2.0]), config, llama_cpp=choice)
    assert flat.final_logits.tolist() == pytest.approx([2.0 / 1.5] * 4)
    # Two tokens at probabilities 0.9 and 0.1: entropy / ln 2 = 0.469, T = 0.5 + 1 · 0.469 ** 2 with exponent 2.
    logits = torch.tensor([0.9, 0.1]).log()
    entropy = -(0.9 * math.log(0.9) + 0.1 * math.log(0.1)) / math.log(2)
    temperature = 0.5 + 1.0 * entropy ** 2
    peaked = apply(logits, config.with_values(dynatemp_exponent=2.0), llama_cpp=choice)
    assert peaked.final_logits.tolist() == pytest.approx((logits / temperature).tolist(), rel=1e-5)
    # It runs even at temperature 1, and it needs a temperature above 0.
    assert chain(config) == ["temperature"]
    with pytest.raises(ValueError, match="dynatemp_range needs a temperature above 0"):
        config.with_values(temperature=0.0)


@pytest.mark.parametrize("order", ["transformers", "vllm", "llama.cpp"])
def test_the_logit_bias_is_added_first_in_every_order_even_when_greedy(order):
    logits = torch.tensor([2.0, 1.0, 0.0, -1.0])
    config = SamplingConfig(order=order, logit_bias={3: 4.5, 0: -0.5}, top_k=2)
    trace = apply(logits, config, context=Context.of([1]))
    assert [stage.name for stage in trace.stages][:1] == ["logit_bias"]
    assert trace.stages[0].logits.tolist() == [1.5, 1.0, 0.0, 3.5]
    assert trace.kept.tolist() == [True, False, False, True]  # top_k 2 sees the biased logits
    greedy = apply(logits, config.with_values(temperature=0.0, top_k=0), context=Context.of([1]))
    assert greedy.kept.tolist() == [False, False, False, True]
    assert chain(config.with_values(temperature=0.0, top_k=0))[0] == "logit_bias"


def test_the_logit_bias_is_refused_outside_the_vocabulary_and_taken_at_any_size_and_count():
    with pytest.raises(ValueError, match="logit_bias names token 9, but the vocabulary has 4 tokens"):
        apply(torch.zeros(4), SamplingConfig(logit_bias={9: 1.0}))
    # transformers and llama.cpp add any bias; vLLM's OpenAI server clamps it to ±100 (from_optional).
    for order in ("transformers", "llama.cpp"):
        assert apply(torch.zeros(4), SamplingConfig(order=order, logit_bias={2: 150})).final_logits[2] == 150
    vllm_trace = apply(torch.zeros(4), SamplingConfig(order="vllm", logit_bias={2: 150}))
    assert vllm_trace.final_logits[2] == 100 and "±100" in vllm_trace.stages[0].note
    many = {token: 1.0 for token in range(200)}
    assert apply(torch.zeros(300), SamplingConfig(order="llama.cpp", logit_bias=many)).final_logits[:200].eq(1).all()
    with pytest.raises(ValueError, match="token 2 twice"):
        SamplingConfig(logit_bias=[(2, 1.0), (2, 3.0)])
    assert SamplingConfig(logit_bias={5: 1, 2: -3}).logit_bias == ((2, -3.0), (5, 1.0))


def test_llama_cpp_chain_places_each_sampler_where_common_sampling_does():
    config = SamplingConfig(order="llama.cpp", logit_bias={1: 1.0}, repetition_penalty=1.1, top_n_sigma=1.0,
                            top_k=40, typical_p=0.9, top_p=0.9, min_p=0.05, xtc_probability=0.5, temperature=0.7)
    assert chain(config) == ["logit_bias", "repetition_penalty", "top_n_sigma", "top_k", "typical_p", "top_p",
                             "min_p", "xtc_probability", "temperature"]


@pytest.mark.parametrize("order", ["transformers", "vllm"])
@pytest.mark.parametrize("setting", [{"top_n_sigma": 1.0}, {"xtc_probability": 0.5}, {"dynatemp_range": 0.5},
                                     {"xtc_threshold": 0.2}, {"samplers": ("top_p", "temperature")}])
def test_engines_without_a_sampler_refuse_it_by_name(order, setting):
    name = next(iter(setting))
    with pytest.raises(ValueError, match=name):
        SamplingConfig(order=order, **setting)


@pytest.mark.parametrize("choice", LLAMA_CHOICES)
def test_two_custom_orders_of_the_same_stages_keep_different_tokens(choice):
    # Probabilities 0.5, 0.3, 0.2. top_p 0.6 first (T = 1): 0.5 < 0.6, 0.8 ≥ 0.6, so two tokens stay.
    # Temperature 0.5 first: 0.25, 0.09, 0.04 → 0.658, 0.237, 0.105; 0.658 ≥ 0.6, so one stays.
    logits = torch.tensor([0.5, 0.3, 0.2]).log()
    top_p_first = SamplingConfig(order="custom", samplers=("top_p", "temperature"), temperature=0.5, top_p=0.6)
    temperature_first = top_p_first.with_values(samplers=("temperature", "top_p"))
    assert apply(logits, top_p_first, llama_cpp=choice).kept.tolist() == [True, True, False]
    assert apply(logits, temperature_first, llama_cpp=choice).kept.tolist() == [True, False, False]
    assert chain(temperature_first) == ["temperature", "top_p"]
    # The default custom order is llama.cpp's own chain.
    default = SamplingConfig(order="custom", temperature=0.5, top_p=0.6)
    assert apply(logits, default, llama_cpp=choice).kept.tolist() == apply(
        logits, default.with_values(order="llama.cpp"), llama_cpp=choice).kept.tolist()


def test_a_custom_order_ignores_a_stage_it_leaves_out_and_refuses_unknown_names():
    # llama.cpp builds only the samplers of --samplers: a set top_p outside them does nothing.
    config = SamplingConfig(order="custom", samplers=("top_k",), top_p=0.5, top_k=2)
    trace = apply(torch.tensor([3.0, 2.0, 1.0, 0.0]), config)
    assert [stage.name for stage in trace.stages] == ["top_k"] and trace.ignored == ("top_p",)
    assert trace.kept.tolist() == [True, True, False, False]
    with pytest.raises(ValueError, match="samplers must be names among"):
        SamplingConfig(order="custom", samplers=("top_k", "mirostat"))
    with pytest.raises(ValueError, match="repeated: top_k"):
        SamplingConfig(order="custom", samplers="top_k,top_k")


def test_generate_fires_xtc_on_about_its_share_of_draws():
    handle = load_model("fortune-small")
    always = SamplingConfig(order="llama.cpp", temperature=1.0, top_k=0, xtc_probability=1.0, xtc_threshold=0.02)
    never = always.with_values(xtc_probability=0.0)
    half = always.with_values(xtc_probability=0.5)
    next_token = handle.next_token_logits("hello, this is my favorite")
    logits = next_token.logits.expand(400, -1)
    context = next_token.context
    generator = torch.Generator().manual_seed(0)
    fired = apply(logits[:1], always, context=context).final_logits
    _, drawn, fires = distribution_to_draw_from(logits, half, context, generator)
    calm = apply(logits[:1], never, context=context).final_logits
    assert not torch.equal(fired, calm), "the case must cut"
    assert torch.equal(drawn[fires], fired.expand(int(fires.sum()), -1))
    assert torch.equal(drawn[~fires], calm.expand(int((~fires).sum()), -1))
    assert 0.4 < fires.float().mean().item() < 0.6
    # In generate: each token records whether XTC fired at its draw, and its probability is the one
    # of that distribution; the same seed gives the same text.
    first = handle.generate("hello", half, n=4, max_new_tokens=8, seed=3, return_logits=True)
    again = handle.generate("hello", half, n=4, max_new_tokens=8, seed=3)
    assert [c.text for c in first.continuations] == [c.text for c in again.continuations]
    for row, continuation in enumerate(first.continuations):
        ids = [token.id for token in continuation.tokens]
        for step, token in enumerate(continuation.tokens):
            step_context = Context.of(first.prompt.ids, torch.tensor([ids[:step]]))
            trace = apply(first.step_logits[step, row], half, context=step_context, xtc_fires=token.xtc_fired)
            assert token.probability == pytest.approx(float(trace.probs[token.id]), rel=1e-5)
    assert {token.xtc_fired for c in first.continuations for token in c.tokens} == {True, False}


def test_the_page_runs_a_custom_order_from_the_url_and_the_logit_bias():
    at = new_app()
    at.query_params.update({"b_order": "custom", "b_samplers": "temperature,top_p", "b_temperature": "0.5",
                            "b_top_p": "0.6", "a_logit_bias": "13:-100, nonsense"})
    at.run()
    assert not at.exception, at.exception
    stages = panel_charts(at)["b"]["stages"].drop_duplicates("stage")["stage"].tolist()
    assert stages == ["raw", "temperature", "top_p"], "the custom order runs temperature first"
    for panel in ("a", "b"):
        at.pills(key=f"{panel}_more").set_value("llama_samplers").run()
    assert at.multiselect(key="b_samplers_picked").value == ["temperature", "top_p"]
    assert not at.multiselect(key="b_samplers_picked").disabled
    assert at.multiselect(key="a_samplers_picked").disabled, "only the custom order takes an order"
    for name in ("top_n_sigma", "xtc_probability", "dry_multiplier", "dynatemp_range", "mirostat"):
        assert at.slider(key=f"a_{name}").disabled, f"transformers has no {name}"
        assert not at.slider(key=f"b_{name}").disabled
    a_stages = panel_charts(at)["a"]["stages"].drop_duplicates("stage")["stage"].tolist()
    assert a_stages[:2] == ["raw", "logit_bias"]
    captions = [plain_text(caption.value) for caption in at.caption]
    assert any(re.search(r"not used .*: nonsense", caption) for caption in captions), captions
    # Picking another order in the widget changes the stages and the URL.
    at.multiselect(key="b_samplers_picked").set_value(["top_p", "temperature"]).run()
    assert panel_charts(at)["b"]["stages"].drop_duplicates("stage")["stage"].tolist() == ["raw", "top_p", "temperature"]
    assert at.query_params["b_samplers"] in ("top_p,temperature", ["top_p,temperature"])


@pytest.mark.parametrize("choice", LLAMA_CHOICES)
def test_mirostat_keeps_the_tokens_whose_surprise_is_at_most_mu(choice):
    # Surprises −log2 p: 1, 2, 3, 3 bits. τ = 1 starts at μ = 2: the first two stay, renormalised.
    logits = torch.tensor([0.5, 0.25, 0.125, 0.125]).log()
    config = SamplingConfig(order="llama.cpp", temperature=1.0, top_k=0, top_p=1.0, min_p=0.0, mirostat=2,
                            mirostat_tau=1.0)
    trace = apply(logits, config, llama_cpp=choice)
    assert [stage.name for stage in trace.stages] == ["mirostat"]
    assert trace.kept.tolist() == [True, True, False, False]
    assert trace.probs.tolist() == pytest.approx([2 / 3, 1 / 3, 0, 0])
    assert apply(logits, config, llama_cpp=choice, mirostat_mu=[3.0]).kept.all()
    assert apply(logits, config, llama_cpp=choice, mirostat_mu=[0.1]).kept.tolist() == [True, False, False, False]
    # Its chain: the logit bias, the temperature, mirostat; anything else set is ignored, as llama.cpp does.
    assert chain(config.with_values(temperature=0.7, logit_bias={2: 1.0})) == ["logit_bias", "temperature", "mirostat"]
    assert chain(config.with_values(order="custom", samplers=("top_k",))) == ["mirostat"]
    with_top_k = apply(logits, config.with_values(top_k=1), llama_cpp=choice)
    assert with_top_k.ignored == ("top_k",) and with_top_k.kept.tolist() == [True, True, False, False]
    with pytest.raises(ValueError, match="mirostat is not part of the vllm sampler"):
        SamplingConfig(order="vllm", mirostat=2)
    with pytest.raises(ValueError, match="mirostat must be 0 .* or 2"):
        config.with_values(mirostat=1)


def test_generate_moves_mirostat_mu_after_every_draw():
    handle = load_model("fortune-small")
    config = SamplingConfig(order="llama.cpp", temperature=1.0, top_k=0, top_p=1.0, min_p=0.0, mirostat=2,
                            mirostat_tau=3.0, mirostat_eta=0.5)
    generation = handle.generate("hello, this is my favorite", config, n=2, max_new_tokens=10, seed=1,
                                 return_logits=True)
    for row, continuation in enumerate(generation.continuations):
        mu, ids = 2 * 3.0, [token.id for token in continuation.tokens]
        for step, token in enumerate(continuation.tokens):
            context = Context.of(generation.prompt.ids, torch.tensor([ids[:step]]))
            assert token.mirostat_mu == pytest.approx(mu, rel=1e-5)
            trace = apply(generation.step_logits[step, row], config, context=context, mirostat_mu=[mu])
            assert token.probability == pytest.approx(float(trace.probs[token.id]), rel=1e-5)
            assert token.tokens_kept == int(trace.kept.sum())
            mu = mu - 0.5 * (-math.log2(token.probability) - 3.0)
    assert len({token.tokens_kept for c in generation.continuations for token in c.tokens}) > 1, "μ moved the cut"


# llama.cpp's own cases for these samplers (tests/test-sampling.cpp, 0.3.36's copy): probabilities
# in, the context, the distribution out.
DRY_CASES = [  # probs, last tokens, expected, multiplier, base, allowed length, last n, breaker tokens
    ([0.25] * 4, [0, 1], [0.25] * 4, 1.0, 1.1, 2, 4, ()),
    ([0.25] * 4, [0, 1, 2, 0, 1], [0.296923, 0.296923, 0.109232, 0.296923], 1.0, 1.1, 2, 5, ()),
    ([0.2] * 5, [0, 1, 3, 4, 0, 1], [0.2] * 5, 1.0, 1.1, 2, 6, (3,)),
    ([0.2] * 5, [0, 1, 2, 0, 1], [0.241818, 0.241818, 0.032727, 0.241818, 0.241818], 2.0, 1.1, 2, 5, ()),
    ([0.2] * 5, [0, 1, 2, 3, 4, 0, 1], [0.2] * 5, 1.0, 1.1, 4, 7, ()),
]


@pytest.mark.parametrize("choice", LLAMA_CHOICES)
@pytest.mark.parametrize("probs, tokens, expected, multiplier, base, allowed, last_n, breakers", DRY_CASES)
def test_dry_on_llama_cpps_own_cases(choice, probs, tokens, expected, multiplier, base, allowed, last_n, breakers):
    # A breaker token is one whose text contains a breaker string: give those tokens a newline.
    vocabulary = Vocabulary(lambda: ["\n" if token in breakers else f"t{token}" for token in range(len(probs))],
                            lambda text: [])
    config = SamplingConfig(order="llama.cpp", temperature=1.0, top_k=0, top_p=1.0, min_p=0.0,
                            dry_multiplier=multiplier, dry_base=base, dry_allowed_length=allowed,
                            dry_penalty_last_n=last_n, dry_sequence_breakers=("\n",) if breakers else ())
    trace = apply(torch.tensor(probs).log(), config, context=Context.of(tokens, vocabulary=vocabulary),
                  llama_cpp=choice)
    assert trace.probs.tolist() == pytest.approx(expected, abs=1e-5)


def test_dry_sequence_breakers_come_from_the_tokens_text_as_llama_cpp_builds_them():
    texts = ["a", "b", "x\n", "\n", "q:", "c"]
    encode = {":": [4]}.get
    vocabulary = Vocabulary(lambda: texts, lambda text: encode(text, []))
    breakers = llama_cpp.dry_breakers(vocabulary, ("\n", "q::"))
    # Every token containing "\n" is a one-token breaker; "q:" ends with the start of "q::", whose rest
    # ":" is token 4.
    assert breakers == {2: [()], 3: [()], 4: [(4,)]}
    config = SamplingConfig(order="llama.cpp", temperature=1.0, top_k=0, dry_multiplier=1.0, dry_allowed_length=1)
    logits = torch.zeros(len(texts))
    # "a b c a b": c would extend the 2-token repeat "a b" → penalty 1.75^(2 − 1). In "a b \n a b" the
    # token that would extend it is the newline, a breaker, which is never penalised.
    repeated = apply(logits, config, context=Context.of([0, 1, 5, 0, 1], vocabulary=vocabulary)).final_logits
    assert repeated.tolist() == pytest.approx([0, 0, 0, 0, 0, -1.75])
    broken = apply(logits, config, context=Context.of([0, 1, 3, 0, 1], vocabulary=vocabulary)).final_logits
    assert broken.tolist() == [0.0] * 6
    with pytest.raises(ValueError, match="DRY's sequence breakers are text"):
        apply(logits, config, context=Context.of([0, 1]))


@pytest.mark.parametrize("choice", LLAMA_CHOICES)
@pytest.mark.parametrize("n, expected", [(1.0, [0.0, 0.0, 0.428571, 0.571429]), (0.0, [0.1, 0.2, 0.3, 0.4]),
                                         (3.0, [0.1, 0.2, 0.3, 0.4])])
def test_top_n_sigma_on_llama_cpps_own_cases(choice, n, expected):
    config = SamplingConfig(top_n_sigma=n, **LLAMA)
    assert apply(torch.tensor([0.1, 0.2, 0.3, 0.4]).log(), config, llama_cpp=choice).probs.tolist() == pytest.approx(
        expected, abs=1e-5)


@pytest.mark.parametrize("choice", LLAMA_CHOICES)
@pytest.mark.parametrize("threshold, kept_probs", [(0.09, [0.1]), (0.19, [0.2, 0.1]), (0.29, [0.3, 0.2, 0.1]),
                                                   (0.39, [0.4, 0.3, 0.2, 0.1])])
def test_xtc_on_llama_cpps_own_cases(choice, threshold, kept_probs):
    probs = torch.tensor([0.4, 0.3, 0.2, 0.1])
    trace = apply(probs.log(), SamplingConfig(xtc_probability=0.99, xtc_threshold=threshold, **LLAMA), llama_cpp=choice)
    assert sorted(probs[trace.kept].tolist(), reverse=True) == pytest.approx(kept_probs)


def test_dry_follows_the_context_in_generate_and_on_the_page():
    handle = load_model("fortune-small")
    config = SamplingConfig(order="llama.cpp", temperature=1.0, top_k=0, top_p=1.0, min_p=0.0, dry_multiplier=2.0,
                            dry_allowed_length=1)
    prompt = "the cat sat on the mat. the cat sat on the"
    generation = handle.generate(prompt, config, n=2, max_new_tokens=8, seed=0, return_logits=True)
    for row, continuation in enumerate(generation.continuations):
        ids = [token.id for token in continuation.tokens]
        for step, token in enumerate(continuation.tokens):
            context = Context.of(generation.prompt.ids, torch.tensor([ids[:step]]), handle.vocabulary)
            expected = apply(generation.step_logits[step, row], config, context=context).probs[token.id]
            assert token.probability == pytest.approx(float(expected), rel=1e-5)
    next_token = handle.next_token_logits(prompt)
    penalised = apply(next_token.logits, config, context=next_token.context).stages[0].details["penalised"]
    assert int(penalised) > 0, "the prompt repeats itself: DRY penalises the token that would go on"

    at = new_app()
    at.query_params.update({"prompt": prompt, "a_order": "llama.cpp", "a_dry_multiplier": "2",
                            "a_dry_allowed_length": "1"})
    at.run()
    assert not at.exception, at.exception
    assert f"DRY: {int(penalised)} tokens penalised" in [plain_text(caption.value) for caption in at.caption]


def test_the_arithmetic_table_divides_the_logits_the_engine_divides():
    handle = load_model("fortune-small")
    next_token = handle.next_token_logits("the cat sat on the mat. the cat sat on the")
    config = SamplingConfig(order="llama.cpp", temperature=0.7, top_k=0, top_p=1.0, min_p=0.0, repetition_penalty=1.5,
                            logit_bias={5: 3.0})
    trace = apply(next_token.logits, config, context=next_token.context)
    rows = tables.top_tokens(trace, handle.labels, 20)
    before_temperature = trace.stage("temperature").logits_in
    ids = rows["token_id"].tolist()
    assert rows["adjusted_logit"].tolist() == pytest.approx(before_temperature[ids].tolist(), abs=1e-6)
    assert rows["scaled_logit"].tolist() == pytest.approx((before_temperature[ids] / 0.7).tolist(), abs=1e-5)
    assert "adjusted_logit" in tables.arithmetic(rows).columns
    # Dynamic temperature: the T read off the stage is the one llama.cpp divided by.
    dynamic = apply(next_token.logits, config.with_values(dynatemp_range=0.5), context=next_token.context)
    rows = tables.top_tokens(dynamic, handle.labels, 20)
    kept = dynamic.stage("temperature").logits[ids]
    assert rows["scaled_logit"].tolist() == pytest.approx(kept.tolist(), rel=1e-5)
    # Nothing moved the logits: no extra column.
    plain = tables.top_tokens(apply(next_token.logits, SamplingConfig(temperature=0.7)), handle.labels, 20)
    assert "adjusted_logit" not in tables.arithmetic(plain).columns


def test_stepping_through_a_mirostat_sample_shows_the_cut_at_that_draws_mu():
    at = new_app()
    at.query_params.update({"a_order": "llama.cpp", "a_temperature": "1", "a_mirostat": "2", "a_mirostat_tau": "2",
                            "a_mirostat_eta": "0.5", "a_xtc_probability": "0", "a_length": "12"})
    at.run()
    assert not at.exception, at.exception
    continuation = resources.generation(*at.session_state["a_drawn"]).continuations[0]
    step = len(continuation.tokens) - 1
    token = continuation.tokens[step]
    assert token.mirostat_mu != pytest.approx(4.0), "μ has moved from 2τ by the last step"
    at.pills(key="a_step_token").set_value(step).run()
    assert not at.exception, at.exception
    caption = next(plain_text(caption.value) for caption in at.caption if "drawn with p" in caption.value)
    assert f"tokens kept: {token.tokens_kept:,}." in caption, (caption, token)
    assert f"p = {token.probability:.4f}" in caption
