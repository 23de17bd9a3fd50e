"""Widget values that no browser sends, sent the way a crafted client could: Streamlit's own
websocket protocol against a real server. Each gives the page a message, never a traceback, and
the URL echoes nothing unbounded."""

import asyncio
import json
import math

import pytest

from benchmarks.harness import streamlit_server
from benchmarks.ws_client import Session

CRAFTED = [  # (widget key, (value kind, value), words the page then says)
    ("a_preset", ("string_value", "evil"), "Ignored the unknown preset"),
    ("a_preset", ("int_value", 99), "Ignored values"),
    ("a_samples", ("double_value", math.nan), "Ignored values"),
    ("a_samples", ("int_value", 10**15), ""),  # Streamlit resets an out-of-range number itself
    ("a_seed", ("double_value", math.inf), "Ignored values"),
    ("a_seed", ("double_value", -1e300), ""),
    ("a_order", ("string_value", "sglang"), "Ignored values"),
    ("a_order", ("int_value", -7), "Ignored values"),
    ("model", ("string_value", "/proc/self/cwd/models/fortune-small"), "not in the allow-list"),
    ("model", ("string_value", "x" * 100_000), "at most 200 characters"),
    ("prompt", ("string_value", "y" * 200_000), "only its last tokens are used"),
    ("a_temperature", ("double_array_value", [math.nan]), ""),  # Streamlit's slider clamps it itself
    ("a_temperature", ("double_array_value", [1e308, 5.0]), ""),
    # The live sliders' component: a value no slider can take is ignored, a malformed or huge one dropped.
    ("a_live", ("json_value", json.dumps({"name": "temperature", "value": 1e308, "release": "1"})), ""),
    ("a_live", ("json_value", json.dumps({"name": "__class__", "value": 0.5})), ""),
    ("a_live", ("json_value", "{not json"), "Ignored values"),
    ("a_live", ("json_value", json.dumps({"name": "top_p", "value": "x" * 1_000_000})), "Ignored values"),
    ("a_live", ("string_value", "temperature"), "Ignored values"),
]


@pytest.fixture(scope="module")
def server():
    with streamlit_server({"SAMPLING_MODEL": "fortune-small"}) as running:
        yield running


@pytest.mark.parametrize(("key", "value", "said"), CRAFTED, ids=[f"{key}={value[0]}" for key, value, _ in CRAFTED])
def test_a_crafted_widget_value_gives_no_traceback(server, key, value, said):
    async def scenario():
        async with Session(server.url) as session:
            first = await session.run()
            assert not first.exceptions, first.exceptions
            assert key in session.widgets, sorted(session.widgets)
            crafted = await session.run(raw_values={key: value})
            again = await session.run()
            return crafted, again

    crafted, again = asyncio.run(scenario())
    assert not crafted.exceptions and not again.exceptions, (crafted.exceptions, again.exceptions)
    shown = " ".join(crafted.alerts + again.alerts).replace("\\", "")
    assert said in shown, shown[:500]
