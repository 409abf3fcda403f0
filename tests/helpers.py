"""Test helpers shared by several test files: an injected sleep, a recording display publisher,
stream and connection-pool helpers. (Fixtures built on them live in conftest.py.)"""

from __future__ import annotations

import json
import threading
from typing import Any

from IPython.core.displaypub import DisplayPublisher

KEY = "test.key"


class Sleeps(list):
    """An injected sleep that records the delays instead of waiting."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def consume(stream: Any) -> None:
    """Read a stream to its end (or its error)."""
    for _ in stream:
        pass


def pool_connections(client: Any) -> int:
    """How many TCP connections the client ever opened (urllib3 counts them per pool)."""
    total = 0
    for adapter in client._transport.session.adapters.values():
        for key in list(adapter.poolmanager.pools.keys()):
            total += adapter.poolmanager.pools[key].num_connections
    return total


class Recorder(DisplayPublisher):
    """Records publishes; can raise KeyboardInterrupt on the Nth update (an interrupt in display)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.calls: list[dict[str, Any]] = []
        self.interrupt_on_update: int | None = None

    def publish(self, data, metadata=None, source=None, *, transient=None, update=False, **kw):
        self.calls.append(
            {
                "data": dict(data),
                "id": (transient or {}).get("display_id"),
                "update": update,
                "metadata": metadata,
            }
        )
        due = self.interrupt_on_update
        # Ctrl-C reaches the main thread only: a card polling on its own thread is never interrupted
        main = threading.current_thread() is threading.main_thread()
        if main and update and due is not None and sum(c["update"] for c in self.calls) >= due:
            self.interrupt_on_update = None
            raise KeyboardInterrupt

    def clear_output(self, wait=False):
        pass

    def final(self) -> list[dict[str, str]]:
        """Outputs as a notebook would keep them: one per display (updated in place)."""
        outputs: dict[Any, dict[str, str]] = {}
        order = []
        for i, call in enumerate(self.calls):
            key = call["id"] or f"anon-{i}"
            if key not in outputs:
                order.append(key)
            outputs[key] = call["data"]
        return [outputs[k] for k in order]

    def all_text(self) -> str:
        return json.dumps([c["data"] for c in self.calls], ensure_ascii=False)
