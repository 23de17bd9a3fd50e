"""The hosted setup: the README's flags behind docs/hosting/nginx.conf, and the library's own
defences (allow-list, limits, safetensors only, one hub probe per process, remembered failures,
bounded results files)."""

from __future__ import annotations

import gc
import io
import shutil
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch
from transformers import GPT2Config, GPT2LMHeadModel

import sampling
from app.registry import ModelRegistry
from app.slots import ModelSlots
from benchmarks.harness import ROOT, free_port, resident_mb, streamlit_server
from sampling import Limits, ModelLoadError, load_model, sample
from sampling.study import ResultsFileError, read_results

# The README's "Hosting" flags (the ones that matter on one machine; the README adds the address,
# port and CORS origin of the real deployment).
HOSTING_FLAGS = ("--server.enableXsrfProtection=true", "--client.toolbarMode=viewer",
                 "--client.showErrorDetails=type", "--server.maxMessageSize=50", "--server.maxUploadSize=25",
                 "--server.enableStaticServing=false", "--server.enableAgentApi=false",
                 "--server.baseUrlPath=sampling")


def get(url: str) -> tuple[int, dict[str, str], bytes]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


@pytest.fixture(scope="module")
def proxied(tmp_path_factory):
    """The app under the README's flags, behind nginx with docs/hosting/nginx.conf."""
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    if not Path(nginx).exists():
        pytest.skip("nginx is not installed (apt-get install nginx-light)")
    folder = tmp_path_factory.mktemp("nginx")
    with streamlit_server(extra_args=HOSTING_FLAGS, base_path="sampling") as server:
        app_port, proxy_port = server.url.split(":")[2].split("/")[0], free_port()
        site = (ROOT / "docs" / "hosting" / "nginx.conf").read_text()
        site = site.replace("listen 8080;", f"listen 127.0.0.1:{proxy_port};").replace("127.0.0.1:8501",
                                                                                       f"127.0.0.1:{app_port}")
        (folder / "nginx.conf").write_text(
            f"pid {folder}/nginx.pid; error_log {folder}/error.log; events {{}}\n"
            f"http {{ access_log off; client_body_temp_path {folder}; proxy_temp_path {folder};\n{site}\n}}\n")
        process = subprocess.Popen([nginx, "-c", str(folder / "nginx.conf"), "-g", "daemon off;"])
        try:
            url = f"http://127.0.0.1:{proxy_port}/sampling"
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline:
                try:
                    if get(f"{url}/_stcore/health")[2] == b"ok":
                        break
                except OSError:
                    time.sleep(0.2)
            yield server.url, url
        finally:
            process.terminate()
            process.wait(timeout=10)


def test_what_a_public_demo_must_not_expose_is_closed(proxied):
    direct, public = proxied
    assert get(f"{public}/_stcore/health")[2] == b"ok"
    for path in ("_stcore/metrics", "_stcore/agent/openapi.json", "_stcore/agent/interact", "_stcore/agent/mcp"):
        assert get(f"{public}/{path}")[0] == 404, path
    # Behind the proxy or not, the agent API does not act (it only describes itself as off), and
    # files are not served statically.
    request = urllib.request.Request(f"{direct}/_stcore/agent/interact", data=b"{}", method="POST",
                                     headers={"Content-Type": "application/json"})
    try:
        status = urllib.request.urlopen(request, timeout=10).status
    except urllib.error.HTTPError as error:
        status = error.code
    assert status >= 400
    assert b"streamlit_app" not in get(f"{direct}/app/static/streamlit_app.py")[2]


def test_the_proxy_adds_frame_and_content_security_headers_and_the_page_works_under_them(proxied):
    from browser_helpers import require_chromium

    require_chromium()
    from playwright.sync_api import expect, sync_playwright

    from benchmarks.harness import CHROMIUM, CHROMIUM_ARGS

    _, public = proxied
    status, headers, _ = get(f"{public}/")
    assert status == 200
    assert headers["X-Frame-Options"] == "SAMEORIGIN"
    assert "frame-ancestors 'self'" in headers["Content-Security-Policy"]
    assert "script-src 'self'" in headers["Content-Security-Policy"]
    refused: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1400})
        page.on("console", lambda message: refused.append(message.text) if "Content Security Policy" in message.text
                else None)
        page.goto(f"{public}/?a_order=custom")
        expect(page.locator("[data-testid='stVegaLiteChart'] svg")).to_have_count(6, timeout=120_000)
        # The live samplers and the sampler cards, the page's own frames, run their scripts under
        # the same policy.
        expect(page.frame_locator(".st-key-a_live iframe").locator("rect").first).to_be_attached(timeout=60_000)
        page.locator(".st-key-a_more button").filter(has_text="llama.cpp").click()
        expect(page.frame_locator(".st-key-a_chain iframe").locator(".card")).to_have_count(9, timeout=60_000)
        browser.close()
    assert not refused, refused


def test_the_allow_list_takes_exact_names_only():
    with pytest.raises(ValueError, match="allowed must be a list or tuple of exact model names, got 'fortune-base,"):
        load_model("fortune", allowed="fortune-base,fortune-small")
    with pytest.raises(ModelLoadError, match="not in the allow-list"):
        load_model("fortune", allowed=("fortune-base", "fortune-small"))


def test_sample_is_bounded_like_every_entry_point():
    with pytest.raises(ValueError, match="n must be an integer from 1 to 4,096, got 5000000"):
        sample(torch.tensor([0.5, 0.5]), 5_000_000, seed=0)
    with pytest.raises(ValueError, match="n must be an integer from 1 to 8"):
        sample(torch.tensor([0.5, 0.5]), 9, seed=0, limits=Limits(max_samples=8))


def test_a_pickle_only_folder_is_refused_when_safetensors_only(tmp_path):
    model = GPT2LMHeadModel(GPT2Config(vocab_size=8, n_positions=8, n_layer=1, n_head=1, n_embd=4,
                                       bos_token_id=0, eos_token_id=0))
    model.config.save_pretrained(tmp_path)
    torch.save(model.state_dict(), tmp_path / "pytorch_model.bin")  # the pickle format of older checkpoints
    shutil.copy(ROOT / "models" / "fortune-small" / "tokenizer.json", tmp_path)
    assert (tmp_path / "pytorch_model.bin").exists() and not list(tmp_path.glob("*.safetensors"))
    with pytest.raises(ModelLoadError, match="has no safetensors weights"):
        load_model(str(tmp_path), safetensors_only=True)


def test_the_hub_is_probed_once_per_process(monkeypatch):
    from huggingface_hub import constants

    from sampling import models

    probes = []

    def refuse(*args, **kwargs):
        probes.append(args)
        raise OSError("unreachable")

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(models.socket, "create_connection", refuse)
    monkeypatch.setattr(models, "_hub_probe", {})
    for _ in range(3):  # three sessions asking for a model that is not here
        with pytest.raises(ModelLoadError, match="cannot be reached"):
            load_model("someone/not-cached")
    assert len(probes) == 1


def test_a_model_that_failed_is_remembered_not_retried():
    attempts = []

    def broken(name):
        attempts.append(name)
        raise ModelLoadError(f"Could not load model {name!r}: corrupt")

    registry = ModelRegistry(broken, capacity=2, failure_ttl=60, slots=ModelSlots(1))
    for _ in range(4):  # four new sessions
        with pytest.raises(ModelLoadError, match="corrupt"):
            registry.get("broken-model")
    assert attempts == ["broken-model"]


def test_a_results_bomb_is_refused_before_it_is_read():
    buffer = io.BytesIO()
    rows = 5_000_000
    table = pa.table({column: pa.array([0] * rows, type=pa.int8()) if column != "sweep" else
                      pa.array(["top_p"] * rows) for column in
                      ("model", "prompt_index", "sweep", "temperature", "top_p", "top_k", "min_p", "entropy_bits",
                       "tokens_kept")})
    pq.write_table(table, buffer, compression="zstd")
    del table
    gc.collect()
    assert buffer.tell() < 1_000_000, "a small file"
    buffer.seek(0)
    buffer.name = "bomb.parquet"
    before = resident_mb(os_pid())
    with pytest.raises(ResultsFileError, match="more than 3,000,000 rows"):
        read_results(buffer)
    assert resident_mb(os_pid()) - before < 100


def os_pid() -> int:
    import os

    return os.getpid()


def test_the_bundled_models_still_load_safetensors_only():
    assert load_model("fortune-small", safetensors_only=True).vocab_size == 4096
    assert sampling.load_model is load_model
