"""A short run of the load test: 8 concurrent browser sessions, no errors, memory comes back.

The full run (60 s) and its latency figures are in benchmarks/README.md; timings are not asserted.
"""

from browser_helpers import require_chromium

require_chromium()

from benchmarks.load_test import run_load_test  # noqa: E402 - only after the chromium check


def test_eight_sessions_without_errors_and_memory_returns():
    report = run_load_test(sessions=8, seconds=40)
    print("\n".join(report.lines()))
    assert not report.errors, sorted(set(report.errors))
    assert report.reruns >= 8
    assert report.memory_after_mb - report.memory_before_mb <= 100
