"""The rule for tests that need Debian's chromium: skip without it, unless CI requires it."""

import os
from pathlib import Path

import pytest

from benchmarks.harness import CHROMIUM


def require_chromium() -> None:
    """Skip the calling test module when chromium is missing; fail instead under REQUIRE_BROWSER_TEST=1
    (set by .ci/run, which installs chromium)."""
    if Path(CHROMIUM).exists():
        return
    if os.environ.get("REQUIRE_BROWSER_TEST") == "1":
        raise RuntimeError(f"REQUIRE_BROWSER_TEST=1 but chromium is not installed at {CHROMIUM}")
    pytest.skip("Debian's chromium is not installed (apt-get install chromium)", allow_module_level=True)
