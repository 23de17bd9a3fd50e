"""The training script describes the committed models exactly, and they differ in data, tokenizer
and size."""

import importlib.util
import json
import sys
from pathlib import Path

import pytest
from transformers import GenerationConfig

from sampling.models import BUNDLED_CORPUS, BUNDLED_MODELS

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def script():
    spec = importlib.util.spec_from_file_location("train_demo_models", ROOT / "scripts" / "train_demo_models.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the script loads
    spec.loader.exec_module(module)
    return module


def test_the_script_trains_exactly_the_bundled_models(script):
    assert set(script.SPECS) == set(BUNDLED_MODELS)
    assert {name: spec.corpus for name, spec in script.SPECS.items()} == BUNDLED_CORPUS


@pytest.mark.parametrize("name", BUNDLED_MODELS)
def test_committed_models_match_the_script(script, name):
    directory = ROOT / "models" / name
    config = json.loads((directory / "config.json").read_text())
    spec = script.SPECS[name]
    assert (config["n_layer"], config["n_head"], config["n_embd"]) == (spec.n_layer, spec.n_head, spec.n_embd)
    assert config["vocab_size"] == script.CORPORA[spec.corpus].vocab_size
    assert config["n_positions"] == 256
    facts = json.loads((directory / "training_facts.json").read_text())
    assert facts["steps_trained"] == spec.steps
    assert facts["training_seconds"] <= 30 * 60
    card = (directory / "README.md").read_text()
    assert f"**{facts['validation_perplexity']}**" in card
    for filename in ("config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json",
                     "generation_config.json"):
        assert (directory / filename).exists(), filename
    assert (directory / "model.safetensors").stat().st_size <= 20 * 1024 * 1024
    suggested = GenerationConfig.from_pretrained(directory)
    assert {key: getattr(suggested, key) for key in spec.suggested} == spec.suggested
    assert (ROOT / "sampling" / "data" / "heldout" / f"{spec.corpus}.txt").stat().st_size > 10_000


def test_four_corpora_four_tokenizers_several_sizes(script):
    vocabularies = {script.CORPORA[spec.corpus].vocab_size for spec in script.SPECS.values()}
    corpora = {spec.corpus for spec in script.SPECS.values()}
    sizes = {name: json.loads((ROOT / "models" / name / "training_facts.json").read_text())["parameters"]
             for name in BUNDLED_MODELS}
    assert len(corpora) >= 4 and len(vocabularies) >= 4 and max(vocabularies) >= 16_384
    assert len(set(sizes.values())) == len(sizes)
