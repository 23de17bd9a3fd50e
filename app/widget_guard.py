"""Drop widget values that their own widget cannot read, before Streamlit stores them.

A browser only sends what its widgets produce, but a crafted client can send any value over the
websocket. Streamlit 1.67 then raises in that session before the page's script runs: the number
input's deserializer calls ``int()`` on NaN or infinity, the select box indexes with a string. Each
incoming widget state must be of the kind its widget sends and readable by that widget's
deserializer, and a component's value (JSON, which Streamlit keeps as it comes, up to the
server's message size) at most `MAX_JSON_CHARACTERS` long; one that is not is dropped (the widget
keeps its value), and the page says so (`DROPPED`, a key of the session).
"""

from __future__ import annotations

import threading

from streamlit.proto.WidgetStates_pb2 import WidgetStates
from streamlit.runtime.state.common import unpack_widget_state_value
from streamlit.runtime.state.session_state import SessionState

MAX_JSON_CHARACTERS = 4096
"""The page's components send a few hundred characters at most (a released slider, an order of
nine samplers); a visitor's session keeps no more than this of anything sent to one."""
DROPPED = "widget_values_dropped"
"""The session key that lists the widgets whose values were dropped, for the page to say so."""
_lock = threading.Lock()
_installed = False


def _readable(session: SessionState, states: WidgetStates) -> WidgetStates:
    kept = WidgetStates()
    for state in states.widgets:
        metadata = session._new_widget_state.widget_metadata.get(state.id)
        if metadata is not None and state.WhichOneof("value") is not None:
            try:
                if state.WhichOneof("value") != metadata.value_type:  # not the kind this widget sends
                    raise TypeError(state.WhichOneof("value"))
                if state.WhichOneof("value") == "json_value" and len(state.json_value) > MAX_JSON_CHARACTERS:
                    raise ValueError(f"{len(state.json_value):,} characters of JSON")
                metadata.deserializer(unpack_widget_state_value(state))
            except (TypeError, ValueError, OverflowError, IndexError, KeyError):
                dropped = session[DROPPED] if DROPPED in session else []
                session[DROPPED] = [*dropped, state.id.rsplit("-", 1)[-1][:40]][-20:]
                continue
        kept.widgets.append(state)
    return kept


def install() -> None:
    """Wrap `SessionState.on_script_will_rerun` once per process."""
    global _installed
    with _lock:
        if _installed:
            return
        original = SessionState.on_script_will_rerun

        def on_script_will_rerun(self, fresh_widget_states=None, **options):
            if fresh_widget_states is not None:
                fresh_widget_states = _readable(self, fresh_widget_states)
            return original(self, fresh_widget_states, **options)

        SessionState.on_script_will_rerun = on_script_will_rerun
        _installed = True
