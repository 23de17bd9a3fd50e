"""A model that fails to load, non-finite logits and a generation that raises leave the page usable."""

import shutil

import torch
from safetensors.torch import load_file, save_file

from apptest_helpers import charts, new_app
from sampling.models import bundled_model_path


def model_copy(tmp_path, name, change=None):
    directory = tmp_path / name
    shutil.copytree(bundled_model_path("fortune-small"), directory)
    if change:
        weights = load_file(directory / "model.safetensors")
        change(weights)
        save_file(weights, directory / "model.safetensors", metadata={"format": "pt"})
    return str(directory)


def allow(monkeypatch, *models):
    monkeypatch.setenv("SAMPLING_ALLOWED_MODELS", ",".join(models))


def errors(at) -> str:
    return " ".join(element.value for element in at.error)


def test_a_model_that_fails_to_load_keeps_the_previous_one(tmp_path, monkeypatch):
    corrupt = tmp_path / "corrupt"
    shutil.copytree(bundled_model_path("fortune-small"), corrupt)
    (corrupt / "model.safetensors").write_bytes(b"not a safetensors file")
    missing = str(tmp_path / "missing")
    allow(monkeypatch, "fortune-small", str(corrupt), missing)
    at = new_app()
    at.run()
    assert not at.exception and len(charts(at)) == 6
    for broken in (str(corrupt), missing):
        at.selectbox(key="model").set_value(broken).run()
        assert not at.exception, at.exception
        assert "The model could not be used" in errors(at)
        assert at.selectbox(key="model").value == "fortune-small"
        assert len(charts(at)) == 6
    at.slider(key="a_temperature").set_value(0.5).run()
    assert not at.exception and not at.error


def test_out_of_memory_while_loading_is_a_clear_message(tmp_path, monkeypatch):
    import transformers

    other = model_copy(tmp_path, "other")
    allow(monkeypatch, "fortune-small", other)
    original = transformers.AutoModelForCausalLM.from_pretrained

    def out_of_memory(source, *args, **kwargs):
        # A real out-of-memory cannot be produced on demand here; everything else is real.
        if str(source) == other:
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 GiB")
        return original(source, *args, **kwargs)

    monkeypatch.setattr(transformers.AutoModelForCausalLM, "from_pretrained", out_of_memory)
    at = new_app()
    at.run()
    at.selectbox(key="model").set_value(other).run()
    assert not at.exception
    assert "out of memory" in errors(at)
    assert at.selectbox(key="model").value == "fortune-small"


def test_non_finite_logits_get_a_clear_message(tmp_path, monkeypatch):
    def poison(weights):
        weights["transformer.wte.weight"][:] = float("nan")

    broken = model_copy(tmp_path, "nan-logits", poison)
    allow(monkeypatch, broken, "fortune-small")
    at = new_app()
    at.run()
    assert not at.exception, at.exception
    assert "cannot be used" in errors(at) and "NaN" in errors(at)
    at.selectbox(key="model").set_value("fortune-small").run()
    assert not at.exception and not at.error and len(charts(at)) == 6


def test_a_generation_that_raises_leaves_the_page_usable(tmp_path, monkeypatch):
    def poison_late_positions(weights):
        weights["transformer.wpe.weight"][12:] = float("inf")

    broken = model_copy(tmp_path, "breaks-after-12-tokens", poison_late_positions)
    allow(monkeypatch, broken)
    at = new_app()
    at.run()
    assert not at.exception, at.exception
    assert len(charts(at)) == 6, errors(at)  # the prompt's own positions are fine
    assert "Sampling failed" in errors(at)
    at.slider(key="a_temperature").set_value(0.5).run()
    assert not at.exception and len(charts(at)) == 6
