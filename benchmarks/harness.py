"""Shared by the browser test, the load test and the benchmarks: a real `streamlit run` server on
loopback, and Debian's chromium driven by Playwright (which never downloads a browser here)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-quic"]
APP_READY = "[data-testid='stApp'][data-test-connection-state='CONNECTED']"
SCRIPT_IDLE = "[data-testid='stApp'][data-test-script-state='notRunning']"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def resident_mb(pid: int) -> float:
    """Resident memory of a process, from /proc (Linux)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for process {pid}")


@dataclass(frozen=True)
class Server:
    url: str
    process: subprocess.Popen
    started_at: float
    log: list[tuple[float, str]]
    """The server's output lines as they came, each with its `time.monotonic()`."""

    def log_lines(self, containing: str, after: float = 0.0) -> list[str]:
        return [line for at, line in list(self.log) if containing in line and at >= after]

    @property
    def resident_mb(self) -> float:
        return resident_mb(self.process.pid)


@contextmanager
def streamlit_server(
    extra_env: dict[str, str | None] | None = None, extra_args: tuple[str, ...] = (), base_path: str = "", timeout: float = 60
) -> Iterator[Server]:
    """`streamlit run streamlit_app.py` on a free loopback port; yields once its health check says ok."""
    port = free_port()
    command = [sys.executable, "-m", "streamlit", "run", "streamlit_app.py", "--server.headless=true",
               f"--server.port={port}", "--server.address=127.0.0.1", "--server.fileWatcherType=none",
               "--browser.gatherUsageStats=false", *extra_args]
    # A None in extra_env removes that variable from the server's environment.
    env = {key: value for key, value in {**os.environ, "HF_HUB_OFFLINE": "1", **(extra_env or {})}.items()
           if value is not None}
    started_at = time.perf_counter()
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env)
    url = f"http://127.0.0.1:{port}" + (f"/{base_path}" if base_path else "")
    log: list[tuple[float, str]] = []

    def read_output() -> None:
        # Drained all the time: a full pipe would block the server.
        for line in iter(process.stdout.readline, b""):
            log.append((time.monotonic(), line.decode(errors="replace").rstrip()))

    threading.Thread(target=read_output, daemon=True).start()
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                if urllib.request.urlopen(f"{url}/_stcore/health", timeout=2).read() == b"ok":
                    break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    output = "\n".join(line for _, line in log)
                    raise RuntimeError(f"streamlit did not start: {output[-2000:]}") from None
                time.sleep(0.2)
        yield Server(url, process, started_at, log)
    finally:
        stop(process)


def stop(process: subprocess.Popen) -> None:
    """Terminate a server we started, killing it if it does not end within 20 s."""
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()


LLAMA_SERVER_VERSION = "0.3.36"
LLAMA_SERVER = Path(os.environ.get("SAMPLING_LLAMA_SERVER_DIR", Path.home() / ".cache" / "sampling-explained" /
                                   f"llama-server-{LLAMA_SERVER_VERSION}")) / "bin" / "llama-server"
"""Where `scripts/build_llama_server.sh` puts llama-server."""


@contextmanager
def llama_server(gguf: Path, timeout: float = 120) -> Iterator[str]:
    """llama-server on a free loopback port serving ``gguf``, set as llama-cpp-python runs the same
    file (no flash attention, one slot), so that both compute the same logits; yields its URL."""
    port = free_port()
    process = subprocess.Popen([str(LLAMA_SERVER), "-m", str(gguf), "--host", "127.0.0.1", "--port", str(port),
                                "-c", "2048", "-np", "1", "--threads", "2", "--no-webui", "--flash-attn", "off"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + timeout
    try:
        while True:
            try:
                if urllib.request.urlopen(f"{url}/health", timeout=2).status == 200:
                    break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"llama-server did not start: {process.stderr.read(4000)!r}") from None
                time.sleep(0.3)
        yield url
    finally:
        stop(process)
