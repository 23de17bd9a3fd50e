"""The model slots: first come, first served; one place per session; nobody's abandoned work runs."""

import threading
import time

import pytest

from app.slots import LeftTheQueue, ModelSlots


def start(slots, owner, log, still_wanted=lambda: True, places=None, seconds=0.3):
    def run():
        try:
            with slots.hold(owner, still_wanted,
                            (lambda place, seconds: places.append(place)) if places is not None else None):
                log.append(("ran", owner))
                time.sleep(seconds)
        except LeftTheQueue as reason:
            log.append(("dropped", owner, str(reason)))

    thread = threading.Thread(target=run)
    thread.start()
    time.sleep(0.1)  # arrive in this order
    return thread


def test_requests_run_in_the_order_they_arrived_and_are_told_their_place():
    slots, log, places = ModelSlots(1), [], []
    threads = [start(slots, f"session {index}", log, places=places if index == 3 else None, seconds=1.0)
               for index in range(4)]
    for thread in threads:
        thread.join(timeout=10)
    assert [entry[1] for entry in log] == ["session 0", "session 1", "session 2", "session 3"]
    assert places[0] >= 2 and places[-1] == 1  # behind others at first, next at the end
    assert places == sorted(places, reverse=True)


def test_a_newer_request_of_the_same_session_replaces_its_waiting_one():
    slots, log = ModelSlots(1), []
    threads = [start(slots, "busy", log), start(slots, "visitor", log), start(slots, "visitor", log)]
    for thread in threads:
        thread.join(timeout=10)
    assert ("ran", "visitor") in log and [entry[0] for entry in log if entry[1] == "visitor"] == ["dropped", "ran"]
    assert "replaced" in next(entry[2] for entry in log if entry[0] == "dropped")


def test_work_of_a_session_that_has_gone_never_starts():
    slots, log = ModelSlots(1), []
    gone = threading.Event()
    threads = [start(slots, "busy", log), start(slots, "leaver", log, still_wanted=lambda: not gone.is_set())]
    gone.set()
    for thread in threads:
        thread.join(timeout=10)
    assert ("ran", "leaver") not in log and log[-1][:2] == ("dropped", "leaver")


def test_a_waiting_script_that_is_stopped_leaves_the_queue():
    slots = ModelSlots(1)

    def stop(place, seconds):
        raise RuntimeError("the script was stopped")

    with slots.hold("first"):
        waiting = threading.Thread(target=lambda: pytest.raises(RuntimeError, lambda: slots.hold("second", while_waiting=stop).__enter__()))
        waiting.start()
        waiting.join(timeout=5)
    with slots.hold("third"):  # nobody is left in front
        assert slots.full
    assert not slots.full
