"""Model work nobody waits for any more is never started: six sessions ask for the maximum and
leave; no generation starts after they have gone, and a new visitor is served at once."""

import asyncio
import time

from benchmarks.harness import streamlit_server
from benchmarks.ws_client import Session

MAXIMUM = "a_samples=16&a_length=200&b_samples=16&b_length=200"


async def ask_for_the_maximum_and_leave(server, sessions: int) -> None:
    """Open ``sessions`` pages asking for the maximum; leave one second after the first maximum
    generation has started (the others are queued behind it then)."""
    # Distinct seeds: requests of equal settings would wait for each other's cached result instead.
    opened = [await Session(server.url, f"{MAXIMUM}&a_seed={index}&b_seed={index}").__aenter__()
              for index in range(sessions)]
    for session in opened:
        await session.connection.send(_first_run(session))
    deadline = time.monotonic() + 120
    while not server.log_lines("model work started: generate 16 x 200") and time.monotonic() < deadline:
        await asyncio.sleep(0.2)
    await asyncio.sleep(1.0)
    for session in opened:
        session.drop()


def _first_run(session: Session) -> bytes:
    from streamlit.proto.BackMsg_pb2 import BackMsg

    message = BackMsg()
    message.rerun_script.query_string = session.query_string
    return message.SerializeToString()


async def new_visitor(url: str) -> float:
    async with Session(url, "prompt=A+fresh+prompt") as session:
        started = time.perf_counter()
        result = await session.run()
        assert not result.exceptions, result.exceptions
        return time.perf_counter() - started


def test_generations_of_sessions_that_left_never_start():
    with streamlit_server(extra_env={"SAMPLING_MAX_CONCURRENT": "1"}) as server:
        asyncio.run(ask_for_the_maximum_and_leave(server, sessions=6))
        left_at = time.monotonic()
        deadline = left_at + 120
        # The generation running when they left finishes; everything queued behind it is dropped.
        while time.monotonic() < deadline and len(server.log_lines("model work dropped before it started")) < 5:
            time.sleep(0.5)
        time.sleep(3)
        started_after = server.log_lines("model work started: generate", after=left_at + 0.5)
        dropped = server.log_lines("model work dropped before it started")
        assert started_after == [], started_after
        assert len(dropped) >= 5, "\n".join(line for _, line in server.log[-40:])
        assert asyncio.run(new_visitor(server.url)) < 10
