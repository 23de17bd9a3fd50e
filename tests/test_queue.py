"""A user whose model call has to wait for a free slot is told so."""

import threading
import time

from apptest_helpers import new_app

from app.slots import shared_slots


def test_a_queued_user_is_told_how_long_it_took(monkeypatch):
    monkeypatch.setenv("SAMPLING_MAX_CONCURRENT", "1")
    at = new_app()
    at.run()
    assert not at.caption or all("were using the model" not in c.value for c in at.caption)

    held, release = threading.Event(), threading.Event()

    def another_user():  # another prompt pass: the lane a prompt pass waits in
        with shared_slots(1, "short").hold():
            held.set()
            release.wait(timeout=30)

    threading.Thread(target=another_user).start()
    held.wait(timeout=10)
    threading.Timer(1.0, release.set).start()
    started = time.perf_counter()
    at.text_area(key="prompt").input("A prompt that is not cached yet").run()
    assert time.perf_counter() - started >= 1.0  # it really waited for the other call
    assert not at.exception
    assert any("Other people were using the model" in caption.value for caption in at.caption)
