"""A Streamlit session without a browser: Streamlit's own websocket protocol (protobuf BackMsg and
ForwardMsg), enough to open the page, move a slider and see when the run has finished. Load tests
built on it measure the server, not the browsers.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import websockets
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

RUN_TIMEOUT = 600.0


@dataclass
class Widget:
    id: str
    fragment_id: str


@dataclass
class RunResult:
    seconds: float
    exceptions: list[str] = field(default_factory=list)
    finished: bool = True
    stack_traces: list[str] = field(default_factory=list)
    alerts: list[str] = field(default_factory=list)
    first_chart: float | None = None
    """Seconds from the message sent to the run's first chart."""
    """The text of every st.warning, st.info and st.error drawn."""


class Session:
    """One websocket session of the page at ``url`` (http://host:port[/base])."""

    def __init__(self, url: str, query_string: str = "") -> None:
        self.url = url.replace("http://", "ws://").rstrip("/") + "/_stcore/stream"
        self.query_string = query_string
        self.widgets: dict[str, Widget] = {}
        self.connection = None

    async def __aenter__(self) -> Session:
        self.connection = await websockets.connect(self.url, subprotocols=["streamlit"], max_size=None,
                                                   open_timeout=60)
        return self

    async def __aexit__(self, *exc_info) -> None:
        await self.close()

    async def close(self) -> None:
        if self.connection is not None:
            await self.connection.close()
            self.connection = None

    def drop(self) -> None:
        """Cut the connection at once, as a closed browser tab does (no closing handshake)."""
        if self.connection is not None:
            self.connection.transport.abort()
            self.connection = None

    async def send(self, raw_values: dict[str, tuple[str, object]]) -> None:
        """Send widget values (as `run`'s ``raw_values``) and do not wait for the run."""
        await self.connection.send(self._message(None, raw_values).SerializeToString())

    async def run(self, slider_values: dict[str, float] | None = None,
                  raw_values: dict[str, tuple[str, object]] | None = None) -> RunResult:
        """Run the page (the first time) or move sliders (by key) and wait for the run to finish.
        A slider inside a fragment reruns only that fragment, as in a browser. ``raw_values`` sends
        any widget (by key) a value of any of the protocol's kinds, ``(field, value)`` such as
        ``("string_value", "evil")``: what a crafted client could send, unlike a browser."""
        message = self._message(slider_values, raw_values)
        started = time.perf_counter()
        await self.connection.send(message.SerializeToString())
        result = RunResult(0.0)
        while True:
            raw = await self.connection.recv()
            forward = ForwardMsg()
            forward.ParseFromString(raw)
            kind = forward.WhichOneof("type")
            if kind == "delta":
                self._read_delta(forward, result, started)
            elif kind == "script_finished":
                result.seconds = time.perf_counter() - started
                return result

    def _message(self, slider_values: dict[str, float] | None,
                 raw_values: dict[str, tuple[str, object]] | None) -> BackMsg:
        message = BackMsg()
        state = message.rerun_script
        state.query_string = self.query_string
        for key, value in (slider_values or {}).items():
            widget = self.widgets[key]
            entry = state.widget_states.widgets.add()
            entry.id = widget.id
            entry.double_array_value.data.append(value)
            if widget.fragment_id:
                state.fragment_id = widget.fragment_id
        for key, (kind, value) in (raw_values or {}).items():
            entry = state.widget_states.widgets.add()
            entry.id = self.widgets[key].id
            if kind.endswith("_array_value"):
                getattr(entry, kind).data.extend(value)
            else:
                setattr(entry, kind, value)
        return message

    def _read_delta(self, forward: ForwardMsg, result: RunResult, started: float) -> None:
        delta = forward.delta
        if delta.WhichOneof("type") != "new_element":
            return
        element = delta.new_element
        kind = element.WhichOneof("type")
        if kind == "exception":
            result.exceptions.append(f"{element.exception.type}: {element.exception.message}")
            result.stack_traces.append("\n".join(element.exception.stack_trace))
        elif kind in ("vega_lite_chart", "arrow_vega_lite_chart") and result.first_chart is None:
            result.first_chart = time.perf_counter() - started
        elif kind == "alert":
            result.alerts.append(element.alert.body)
        elif kind in ("slider", "selectbox", "number_input", "text_input", "text_area", "radio", "multiselect",
                      "component_instance"):
            widget_id = getattr(element, kind).id
            key = widget_id.rsplit("-", 1)[-1]
            self.widgets[key] = Widget(widget_id, delta.fragment_id)
