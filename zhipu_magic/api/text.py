"""Text shown to people: one line, cut to a limit. Written once for errors, task lists and panels."""

from __future__ import annotations

ELLIPSIS = "\u2026"


def truncate(text: str, limit: int) -> str:
    """Collapse whitespace to single spaces and cut to ``limit`` characters with an ellipsis."""
    flat = " ".join(str(text).split())
    return flat if len(flat) <= limit else flat[: max(limit - 1, 0)].rstrip() + ELLIPSIS
