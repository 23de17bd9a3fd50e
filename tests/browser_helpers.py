"""For the tests that need Debian's chromium: the rule (skip without it, unless CI requires it),
and the two module-wide fixtures they share, a `streamlit run` server and the browser."""

import os
from pathlib import Path

import pytest

from benchmarks.harness import CHROMIUM, CHROMIUM_ARGS, streamlit_server


def require_chromium() -> None:
    """Skip the calling test module when chromium is missing; fail instead under REQUIRE_BROWSER_TEST=1
    (set by .ci/run, which installs chromium)."""
    if Path(CHROMIUM).exists():
        return
    if os.environ.get("REQUIRE_BROWSER_TEST") == "1":
        raise RuntimeError(f"REQUIRE_BROWSER_TEST=1 but chromium is not installed at {CHROMIUM}")
    pytest.skip("Debian's chromium is not installed (apt-get install chromium)", allow_module_level=True)


@pytest.fixture(scope="module")
def server():
    """The page's URL, one server for the test module."""
    with streamlit_server() as running:
        yield running.url


@pytest.fixture(scope="module")
def browser():
    """Debian's chromium through playwright (never `playwright install`), one for the test module."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()
