"""The training script describes the committed models exactly."""

import importlib.util
import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def script():
    spec = importlib.util.spec_from_file_location("train_demo_models", ROOT / "scripts" / "train_demo_models.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the script loads
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("name", ["fortune-small", "fortune-base"])
def test_committed_models_match_the_script(script, name):
    directory = ROOT / "models" / name
    config = json.loads((directory / "config.json").read_text())
    spec = script.SPECS[name]
    assert (config["n_layer"], config["n_head"], config["n_embd"]) == (spec.n_layer, spec.n_head, spec.n_embd)
    assert config["vocab_size"] == script.VOCAB_SIZE
    assert config["n_positions"] == 256
    facts = json.loads((directory / "training_facts.json").read_text())
    assert facts["steps_trained"] == spec.steps
    card = (directory / "README.md").read_text()
    assert f"**{facts['validation_perplexity']}**" in card
    assert "BSD" in card and "fortunes" in card
    for filename in ("config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json",
                     "generation_config.json"):
        assert (directory / filename).exists(), filename
    assert (directory / "model.safetensors").stat().st_size <= 20 * 1024 * 1024


def test_the_two_models_differ_in_size():
    sizes = {name: json.loads((ROOT / "models" / name / "training_facts.json").read_text())["parameters"]
             for name in ("fortune-small", "fortune-base")}
    assert sizes["fortune-small"] < 1_500_000 < 3_000_000 < sizes["fortune-base"] < 6_000_000
