import threading
import time

import pytest

from app.settings import read_settings
from app.slots import ModelSlots
from sampling import Limits, ModelLoadError, SamplingConfig, load_model


def test_settings_from_environment_and_secrets():
    environment = {"SAMPLING_ALLOWED_MODELS": "fortune-small, fortune-base", "SAMPLING_MAX_SAMPLES": "4"}
    secrets = {"SAMPLING_MAX_SAMPLES": "8", "SAMPLING_MAX_NEW_TOKENS": "64", "OTHER": "ignored"}
    settings = read_settings(environment, secrets)
    assert settings.models == ("fortune-small", "fortune-base")
    assert settings.limits == Limits(max_prompt_chars=4000, max_new_tokens=64, max_samples=4, max_work=800_000_000)
    assert settings.max_concurrent == 2


def test_default_allow_list_is_the_default_model_and_the_bundled_ones(monkeypatch):
    monkeypatch.delenv("SAMPLING_MODEL", raising=False)
    assert set(read_settings({}).models) >= {"fortune-base", "fortune-small"}


@pytest.mark.parametrize("value", ["0", "-2", "many", "1.5"])
def test_bad_limit_values_are_refused_with_their_name(value):
    with pytest.raises(ValueError, match="SAMPLING_MAX_CONCURRENT must be a positive integer"):
        read_settings({"SAMPLING_MAX_CONCURRENT": value})


def test_a_model_outside_the_allow_list_is_refused_before_any_download(monkeypatch):
    import transformers

    def never(*args, **kwargs):
        raise AssertionError("a load or download was attempted")

    monkeypatch.setattr(transformers.AutoModelForCausalLM, "from_pretrained", never)
    monkeypatch.setattr(transformers.AutoTokenizer, "from_pretrained", never)
    monkeypatch.setattr("sampling.models._locate", never)
    with pytest.raises(ModelLoadError, match="'gpt2' is not in the allow-list"):
        load_model("gpt2", allowed=("fortune-small",))


def test_limits_are_enforced_inside_sampling():
    handle = load_model("fortune-small", limits=Limits(max_prompt_chars=10, max_new_tokens=5, max_samples=2))
    with pytest.raises(ValueError, match="the prompt has 11 characters; the limit is 10"):
        handle.next_token_logits("x" * 11)
    with pytest.raises(ValueError, match="n must be an integer from 1 to 2, got 3"):
        handle.generate("hi", SamplingConfig(), n=3, max_new_tokens=2)
    with pytest.raises(ValueError, match="max_new_tokens must be an integer from 1 to 5, got 6"):
        handle.generate("hi", SamplingConfig(), n=1, max_new_tokens=6)


def test_model_slots_bound_concurrent_calls():
    slots, running, peak = ModelSlots(2), [], []
    lock = threading.Lock()

    def call():
        with slots.hold():
            with lock:
                running.append(1)
                peak.append(len(running))
            time.sleep(0.05)
            with lock:
                running.pop()

    threads = [threading.Thread(target=call) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert max(peak) == 2
    assert not slots.full
