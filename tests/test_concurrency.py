"""Eight sessions generating at once against one cached model: same results as alone, no deadlock."""

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
import streamlit as st
from streamlit.runtime.scriptrunner.script_cache import ScriptCache

import sampling
from apptest_helpers import new_app
from sampling import SamplingConfig, load_model

SESSIONS = 8
SEEDS = [11 * (index + 1) for index in range(SESSIONS)]


def new_session(seed: int):
    at = new_app()
    at.query_params.update({"a_seed": str(seed), "b_seed": str(seed + 1), "a_temperature": "0.8"})
    return at


def samples(at) -> list[str]:
    """The HTML of a session's continuations (each token's tooltip gives its raw rank; the page's
    style and the prompt's tokens are HTML elements too)."""
    return [element.proto.body for element in at.get("html") if "raw rank" in element.proto.body]


def rerun(at):
    at.run()
    return samples(at), list(at.exception)


@pytest.fixture
def one_compile_at_a_time(monkeypatch):
    """Every AppTest run compiles its own copy of the script, and CPython 3.11.7 fails ("AST
    constructor recursion depth mismatch") when threads compile at once. A real server compiles
    the script once, under a lock; this gives the AppTest runs one lock to share, like it."""
    lock = threading.Lock()
    compile_script = ScriptCache.get_bytecode

    def locked(self, script_path):
        with lock:
            return compile_script(self, script_path)

    monkeypatch.setattr(ScriptCache, "get_bytecode", locked)


def test_eight_simultaneous_sessions_share_one_model_and_match_their_solo_runs(monkeypatch, one_compile_at_a_time):
    monkeypatch.setenv("SAMPLING_MAX_CONCURRENT", "3")
    loads = []
    real_load = sampling.load_model

    def counting_load(*args, **kwargs):
        loads.append(args)
        return real_load(*args, **kwargs)

    monkeypatch.setattr(sampling, "load_model", counting_load)
    st.cache_resource.clear()
    st.cache_data.clear()
    # Each session first runs alone, one after another.
    sessions = {seed: new_session(seed) for seed in SEEDS}
    alone = {seed: rerun(at) for seed, at in sessions.items()}

    st.cache_data.clear()  # now every session's rerun must generate again, all at the same time
    with ThreadPoolExecutor(max_workers=SESSIONS) as pool:
        together = dict(zip(SEEDS, pool.map(rerun, sessions.values(), timeout=600), strict=True))

    assert len(loads) == 1, f"the model was loaded {len(loads)} times"
    for seed in SEEDS:
        assert not alone[seed][1] and not together[seed][1], (alone[seed][1], together[seed][1])
        assert len(together[seed][0]) == 8  # 4 continuations in each panel
        assert together[seed][0] == alone[seed][0], f"session with seed {seed} differs from its solo run"
    assert len({tuple(html) for html, _ in together.values()}) == SESSIONS


def test_threads_sampling_one_handle_get_their_own_draws():
    handle = load_model("fortune-small")
    config = SamplingConfig(temperature=0.9, top_k=100)

    def draw(seed: int):
        return [c.tokens for c in handle.generate("The", config, n=3, max_new_tokens=15, seed=seed).continuations]

    alone = {seed: draw(seed) for seed in SEEDS}
    barrier = threading.Barrier(SESSIONS)

    def draw_together(seed: int):
        barrier.wait(timeout=60)
        return draw(seed)

    with ThreadPoolExecutor(max_workers=SESSIONS) as pool:
        together = dict(zip(SEEDS, pool.map(draw_together, SEEDS, timeout=300), strict=True))
    assert together == alone
