"""A short run of the load test: 12 concurrent websocket sessions, no errors, memory comes back.

The full run (60 s) and its latency figures are in benchmarks/README.md; timings are not asserted.
"""

from benchmarks.load_test import run_load_test


def test_twelve_sessions_without_errors_and_memory_returns():
    report = run_load_test(sessions=12, seconds=30)
    print("\n".join(report.lines()))
    assert not report.errors, sorted(set(report.errors))
    assert report.reruns >= 12
    assert report.memory_after_mb - report.memory_before_mb <= 100
