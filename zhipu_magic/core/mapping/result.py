"""What a ``map`` gives back: the answers aligned with the rows, a :class:`RowError` where a row
failed (a value, never an exception that aborts the run), and per-row facts (usage, retries, time,
whether the answer came from the call log) with their totals.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

NOT_RUN = "not_run"  # the run stopped before this row was answered


@dataclass(frozen=True)
class RowError:
    """Why a row has no answer: ``kind`` (``BadRequestError``, ``json``, ``not_run``...), the API's
    business ``code`` and HTTP ``status`` when there was an answer, and a one-line ``message``.
    Falsy, so ``[a for a in result if a]`` keeps the answers."""

    kind: str
    message: str
    code: str | None = None
    status: int | None = None

    def __bool__(self) -> bool:
        return False

    def __str__(self) -> str:
        return f"{self.kind}: {self.message}"


@dataclass
class RowInfo:
    """One row's facts: token usage, retries (rate limits and HTTP retries), seconds, and whether
    the answer was found in the call log instead of being asked for."""

    usage: dict[str, Any] | None = None
    retries: int = 0
    seconds: float = 0.0
    from_record: bool = False
    log_id: int | None = None


def tokens(usage: dict[str, Any] | None, key: str) -> int:
    value = (usage or {}).get(key)
    return value if type(value) is int else 0


class MapResult(list):  # type: ignore[type-arg]
    """The answers, one per row in the input's order (a ``list``), with ``info`` per row, ``stopped``
    (why the run ended early: ``"interrupted"``, ``"stopped"``, ``"quota: ..."``; None when complete),
    ``concurrency`` (where it settled) and :attr:`totals`."""

    def __init__(self, size: int = 0) -> None:
        super().__init__([RowError(NOT_RUN, "not answered")] * size)
        self.info = [RowInfo() for _ in range(size)]
        self.stopped: str | None = None
        self.concurrency = 0.0
        self.notes: list[str] = []
        self.started, self.ended = time.monotonic(), None

    def __deepcopy__(self, memo: dict[int, Any]) -> MapResult:
        return self  # pandas copies a Series' attrs on every operation: share it instead

    @property
    def errors(self) -> dict[int, RowError]:
        """The failed (and unanswered) rows by position."""
        return {i: v for i, v in enumerate(self) if isinstance(v, RowError)}

    @property
    def totals(self) -> dict[str, Any]:
        """Rows done / failed / not run / from the log, tokens in and out, retries, seconds."""
        errors = [v for v in self if isinstance(v, RowError)]
        not_run = sum(e.kind == NOT_RUN for e in errors)
        seconds = (self.ended or time.monotonic()) - self.started
        return {
            "rows": len(self),
            "done": len(self) - len(errors),
            "failed": len(errors) - not_run,
            "not_run": not_run,
            "from_record": sum(i.from_record for i in self.info),
            "prompt_tokens": sum(tokens(i.usage, "prompt_tokens") for i in self.info if not i.from_record),
            "completion_tokens": sum(
                tokens(i.usage, "completion_tokens") for i in self.info if not i.from_record
            ),
            "retries": sum(i.retries for i in self.info),
            "seconds": round(seconds, 3),
            "stopped": self.stopped,
        }

    def summary(self) -> str:
        """One line: what was done, what failed, what came from the log, and why it stopped."""
        t = self.totals
        parts = [f"{t['done']:,}/{t['rows']:,} rows answered"]
        if t["failed"]:
            parts.append(f"{t['failed']:,} failed")
        if t["from_record"]:
            parts.append(f"{t['from_record']:,} from the call log")
        if t["not_run"]:
            parts.append(f"{t['not_run']:,} not run")
        parts.append(f"{t['prompt_tokens']:,} tokens in, {t['completion_tokens']:,} out")
        parts.append(f"{t['seconds']:.1f} s")
        if self.stopped:
            parts.append(f"stopped ({self.stopped})")
        return ", ".join(parts)

    def __repr__(self) -> str:
        return f"MapResult({list.__repr__(self)}) # {self.summary()}"
