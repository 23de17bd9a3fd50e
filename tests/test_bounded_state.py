"""Nothing a visitor sends grows the server without bound: failed loads, their locks and their
messages are bounded; hostile names and widget values give a message, never a traceback."""

import gc
import tracemalloc

import pytest

from app.registry import MAX_REMEMBERED_FAILURES, ModelRegistry
from app.settings import read_settings
from app.slots import ModelSlots
from apptest_helpers import charts, new_app
from sampling.models import ModelLoadError


def test_memory_levels_off_under_a_stream_of_distinct_bad_model_names():
    def refuse(name: str):
        raise ModelLoadError(f"Could not load model {name[:300]!r}")

    registry = ModelRegistry(refuse, capacity=4, failure_ttl=300, slots=ModelSlots(2))

    def stream(start: int, count: int) -> None:
        for index in range(start, start + count):
            with pytest.raises(ModelLoadError):
                registry.get(f"/evil/{index}/" + "x" * 5_000)

    gc.collect()
    tracemalloc.start()
    try:
        stream(0, 500)  # fills the bounded memo with entries that tracemalloc sees
        snapshots = []
        for start in (500, 1000, 1500):
            stream(start, 500)
            gc.collect()
            snapshots.append(tracemalloc.take_snapshot())
    finally:
        tracemalloc.stop()
    grown = [sum(stat.size_diff for stat in later.compare_to(earlier, "filename"))
             for earlier, later in zip(snapshots, snapshots[1:])]
    assert len(registry._failures) == MAX_REMEMBERED_FAILURES
    assert not registry._models._computing, "no lock is left behind for a failed key"
    assert max(grown) < 20_000, grown  # 500 more names each time: nothing more is retained


def test_a_blank_or_empty_allow_list_fails_at_start_up():
    for blank in ("", " , ,", ","):
        with pytest.raises(ValueError, match="ALLOWED_MODELS is set but names no model"):
            read_settings({"SAMPLING_ALLOWED_MODELS": blank})
    # An empty environment variable does not quietly override a list in the secrets either.
    with pytest.raises(ValueError, match="names no model"):
        read_settings({"SAMPLING_ALLOWED_MODELS": ""}, {"SAMPLING_ALLOWED_MODELS": "fortune-small"})


def test_a_blank_allow_list_stops_the_page_with_one_line(monkeypatch):
    monkeypatch.setenv("SAMPLING_ALLOWED_MODELS", " , ")
    at = new_app()
    at.run()
    assert not at.exception
    assert any("misconfigured" in error.value and "names no model" in error.value for error in at.error)
    assert not charts(at)


def test_closed_by_default_the_model_box_takes_no_outside_name(no_network):
    settings = read_settings({})
    assert not settings.open_models and "fortune-small" in settings.models
    at = new_app()
    at.query_params["model"] = "/proc/self/cwd/models/fortune-small"
    at.run()
    assert not at.exception and at.session_state["model"] == settings.models[0]


def test_two_spellings_of_one_folder_are_one_model(monkeypatch, tmp_path):
    import shutil

    from app import resources
    from sampling.models import bundled_model_path

    monkeypatch.setenv("SAMPLING_OPEN_MODELS", "1")
    folder = tmp_path / "one-model"
    shutil.copytree(bundled_model_path("fortune-small"), folder)
    spellings = [str(folder), str(folder) + "/", str(folder).replace("/one-model", "//one-model"),
                 str(tmp_path / "." / "one-model")]
    registry = resources.registry()
    loads = registry.loads
    handles = {id(resources.model(spelling)) for spelling in spellings}
    assert len(handles) == 1 and registry.loads == loads + 1


@pytest.mark.parametrize(("key", "value"), [
    ("a_samplers", ",".join(["nonsense"] * 10_000)), ("a_logit_bias", "1:1," * 500_000),
])
def test_session_values_beyond_their_bounds_are_reset_with_a_message(key, value):
    """Values AppTest can put in the session; a crafted websocket client's values of the wrong kind
    are tested against a real server in test_crafted_widgets.py."""
    at = new_app()
    at.run()
    at.session_state[key] = value
    at.run()
    assert not at.exception, at.exception
    assert len(charts(at)) == 6
    url = "&".join(f"{k}={v}" for k, v in at.query_params.items())
    assert len(url) < 5_000, len(url)


@pytest.mark.parametrize("top_k", ["5", [5], {"k": 5}])
@pytest.mark.parametrize("order", ["transformers", "vllm", "llama.cpp", "custom"])
def test_the_model_defaults_preset_with_values_of_the_wrong_type_shows_a_message(tmp_path, monkeypatch, order, top_k):
    import json
    import shutil

    from app import state
    from sampling.models import bundled_model_path

    folder = tmp_path / "odd-defaults"
    shutil.copytree(bundled_model_path("fortune-small"), folder)
    (folder / "generation_config.json").write_text(json.dumps({"do_sample": True, "top_k": top_k}))
    monkeypatch.setenv("SAMPLING_MODEL", str(folder))
    at = new_app()
    at.run()
    at.selectbox(key="a_order").set_value(order).run()
    at.selectbox(key="a_preset").set_value(state.MODEL_PRESET).run()
    assert not at.exception, at.exception
    assert any("top_k" in error.value and "must be a number" in error.value for error in at.error), \
        [error.value for error in at.error]
