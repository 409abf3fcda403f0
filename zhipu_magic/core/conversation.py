"""Named conversations, one turn per notebook cell.

``%%glm -c NAME`` and the chat panel share the module-level :data:`conversations` registry. A turn
remembers the cell that produced it (the front end's cell id), so re-running a cell *replaces* its
turn in place instead of piling up duplicates; the history sent for that re-run is the turns
before it, i.e. what the model saw the first time. Cells without an id (terminal, old front ends)
simply append. Thread-safe: the chat panel streams from a worker thread.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Turn:
    """One exchange: the user's message and the model's answer."""

    user: str
    assistant: str
    cell_id: str | None = None
    reasoning: str = ""
    sources: list[dict[str, Any]] = field(default_factory=list)  # web sources the answer cites


class Conversation:
    """An ordered list of turns, with an optional system prompt."""

    def __init__(self, name: str, *, on_change: Callable[[str], None] | None = None) -> None:
        self.name = name
        self.system: str | None = None
        self._turns: list[Turn] = []
        self._lock = threading.RLock()
        self._on_change = on_change

    @property
    def turns(self) -> list[Turn]:
        with self._lock:
            return list(self._turns)

    def __len__(self) -> int:
        return len(self._turns)

    def messages(self, *, before_cell: str | None = None) -> list[dict[str, Any]]:
        """The chat history as API messages (system first when set).

        With ``before_cell``, only the turns before that cell's turn (if it has one): the history
        to send when that cell runs again.
        """
        with self._lock:
            turns = self._turns
            if before_cell is not None:
                index = self._index(before_cell)
                if index is not None:
                    turns = turns[:index]
            out: list[dict[str, Any]] = []
            if self.system:
                out.append({"role": "system", "content": self.system})
            for turn in turns:
                out.append({"role": "user", "content": turn.user})
                out.append({"role": "assistant", "content": turn.assistant})
            return out

    def transcript(self) -> list[dict[str, Any]]:
        """What ``%glm history`` shows: :meth:`messages`, each answer with the web ``sources`` it
        cites (never sent to the model: that is :meth:`messages`)."""
        with self._lock:
            out = [{"role": "system", "content": self.system}] if self.system else []
            for turn in self._turns:
                out.append({"role": "user", "content": turn.user})
                answer: dict[str, Any] = {"role": "assistant", "content": turn.assistant}
                if turn.sources:
                    answer["sources"] = list(turn.sources)
                out.append(answer)
            return out

    def add_turn(
        self,
        user: str,
        assistant: str,
        cell_id: str | None = None,
        *,
        reasoning: str = "",
        sources: list[dict[str, Any]] | None = None,
    ) -> Turn:
        """Record an exchange (and the sources its answer cites); a turn from the same ``cell_id`` is
        replaced in place."""
        turn = Turn(user, assistant, cell_id, reasoning, list(sources or []))
        with self._lock:
            index = self._index(cell_id) if cell_id is not None else None
            if index is None:
                self._turns.append(turn)
            else:
                self._turns[index] = turn
        self._changed()
        return turn

    def reset(self) -> None:
        """Forget every turn (the system prompt too)."""
        with self._lock:
            self._turns.clear()
            self.system = None
        self._changed()

    def _index(self, cell_id: str) -> int | None:
        for i, turn in enumerate(self._turns):
            if turn.cell_id == cell_id:
                return i
        return None

    def _changed(self) -> None:
        if self._on_change is not None:
            self._on_change(self.name)

    def __repr__(self) -> str:
        return f"<Conversation {self.name!r}: {len(self._turns)} turns>"


class ConversationRegistry:
    """Conversations by name, created on first use; listeners hear about every change."""

    def __init__(self) -> None:
        self._items: dict[str, Conversation] = {}
        self._lock = threading.RLock()
        self._listeners: list[Callable[[str], None]] = []

    def get(self, name: str) -> Conversation:
        """The conversation called ``name`` (created empty if new)."""
        with self._lock:
            conv = self._items.get(name)
            if conv is None:
                conv = self._items[name] = Conversation(name, on_change=self._notify)
            return conv

    def messages(self, name: str) -> list[dict[str, Any]]:
        """The messages of ``name`` without creating it: a panel that only looks must not bring a
        reset conversation back to life."""
        with self._lock:
            conv = self._items.get(name)
        return conv.messages() if conv is not None else []

    def names(self) -> list[str]:
        with self._lock:
            return list(self._items)

    def __contains__(self, name: object) -> bool:
        return name in self._items

    def reset(self, name: str | None = None) -> None:
        """Clear one conversation, or remove all of them."""
        with self._lock:
            if name is None:
                items = list(self._items.values())
                self._items.clear()
            else:
                conv = self._items.pop(name, None)
                items = [conv] if conv is not None else []
        for conv in items:
            conv.reset()

    def subscribe(self, listener: Callable[[str], None]) -> Callable[[], None]:
        """Call ``listener(name)`` after each change; returns the function that unsubscribes."""
        with self._lock:
            self._listeners.append(listener)

        def unsubscribe() -> None:
            with self._lock:
                if listener in self._listeners:
                    self._listeners.remove(listener)

        return unsubscribe

    def _notify(self, name: str) -> None:
        for listener in list(self._listeners):
            try:
                listener(name)
            except Exception:  # a broken panel must not break the magic
                pass


conversations = ConversationRegistry()
