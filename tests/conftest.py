import os
import socket

import pytest

# Tests never reach a model hub: a miss must fail at once instead of retrying.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
# The page's tests run on the bundled stand-in for speed; the tests of the real default model
# (tests/test_real_models.py, the browser's first screen) clear this.
os.environ.setdefault("SAMPLING_MODEL", "fortune-base")


@pytest.fixture
def no_network(monkeypatch):
    """Fail the test on any attempt to open a connection."""

    def refuse(*args, **kwargs):
        raise AssertionError(f"network access attempted: {args}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


@pytest.fixture(scope="module")
def smollm2_file():
    """SmolLM2's GGUF file, fetched once: skipped where it cannot be fetched, unless CI requires
    it (REQUIRE_REAL_MODELS=1)."""
    from sampling.fetch import FetchError, fetch

    try:
        return fetch("smollm2", progress=lambda line: None)
    except FetchError as error:
        if os.environ.get("REQUIRE_REAL_MODELS") == "1":
            raise
        pytest.skip(f"SmolLM2 cannot be fetched here: {error}")


@pytest.fixture(scope="module")
def smollm2(smollm2_file):
    from sampling import load_model

    return load_model("smollm2")


def pytest_terminal_summary(terminalreporter):
    from summary import LINES

    for line in LINES:
        terminalreporter.write_line(line)
