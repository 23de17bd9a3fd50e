"""Lines a test wants in pytest's terminal summary (counts a reader should see even with -q)."""

LINES: list[str] = []


def report(line: str) -> None:
    LINES.append(line)
