"""The README's production flags start a server that answers its health check under the base path."""

import urllib.error
import urllib.request

import pytest

from benchmarks.harness import streamlit_server

PRODUCTION_FLAGS = (
    "--server.enableXsrfProtection=true", "--server.enableCORS=true",
    "--server.corsAllowedOrigins=https://demo.example.com", "--client.toolbarMode=viewer",
    "--client.showErrorDetails=type", "--server.maxMessageSize=50", "--server.baseUrlPath=sampling",
)


def test_production_flags_and_health_under_a_base_path():
    with streamlit_server(extra_args=PRODUCTION_FLAGS, base_path="sampling") as server:
        assert urllib.request.urlopen(f"{server.url}/_stcore/health", timeout=5).read() == b"ok"
        root = server.url.removesuffix("/sampling")
        with pytest.raises(urllib.error.HTTPError):
            urllib.request.urlopen(f"{root}/_stcore/health", timeout=5)
