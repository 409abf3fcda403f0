"""Widgets: the entry points for the task card (``%%glm --async``), the batch card (``show_batch``:
``%%glm --map --batch``, ``%glm result BATCH_ID``), the task panel (``%glm tasks``) and the chat panel
(``%glm chat``), and ``default_client`` for panels opened without a client.

The widgets are views over ``core`` objects: :mod:`.card` (``TaskCard``), :mod:`.batch_card`
(``BatchCard``, ``RunCards``: the cards of one ``map`` run), :mod:`.tasks`
(``TaskPanel``), :mod:`.chat` (``ChatPanel``), sharing :mod:`.base` (worker thread, client, status
line). The modules are named for what they show, not for the entry points, so that
``widgets.task_card`` stays the function and never becomes a submodule.

ipywidgets is imported by the widget modules only, and they are imported only when a widget is
wanted, so ``%load_ext zhipu_magic`` stays light. Widgets never build HTML from model text or call
IPython's display themselves: their HTML comes from :mod:`..render` (answers rendered safely, every
other string escaped, since ``ipywidgets.HTML`` sets ``innerHTML`` unsanitized), and they are shown
with ``render.show_object`` / ``render.show``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ...core.tasks.store import TaskStore, get_store, is_final
from .. import render
from ..render.panels import task_card_bundle
from .base import default_client
from .batch_card import BatchCard, show_batch
from .card import TaskCard, static_card
from .chat import ChatPanel
from .tasks import TaskPanel


def task_card(
    task: Mapping[str, Any] | str, client: Any, store: TaskStore | None = None, *, auto: bool = True
) -> TaskCard:
    """The card ``%%glm --async`` shows (a widget that polls by itself unless ``auto=False``);
    ``task_card_bundle`` is the non-widget twin."""
    return TaskCard(task, client, store, auto=auto)


def show_task(task: Mapping[str, Any] | str, client: Any, store: TaskStore | None = None) -> TaskCard | None:
    """Display a task: a finished one as a plain output (saved with the notebook, shown with no
    kernel); an unfinished one as the live card in a widget front end, the static card elsewhere."""
    store = store or get_store()
    task_id = str(task["id"] if isinstance(task, Mapping) else task)
    record = store.get(task_id) or (dict(task) if isinstance(task, Mapping) else {"id": task_id})
    if is_final(record.get("status")):
        render.show(static_card(record))
        return None
    if render.is_rich_frontend():
        card = task_card(record, client, store)
        render.show_object(card)
        return card
    render.show(task_card_bundle(record))
    return None


def task_panel(client: Any = None, store: TaskStore | None = None) -> TaskPanel:
    """The ``%glm tasks`` panel."""
    return TaskPanel(client, store)


def chat_panel(name: str | None = None, client: Any = None) -> ChatPanel:
    """The ``%glm chat [NAME]`` panel (default conversation name: ``default``)."""
    return ChatPanel(name or "default", client)


__all__ = [
    "BatchCard",
    "ChatPanel",
    "TaskCard",
    "TaskPanel",
    "chat_panel",
    "default_client",
    "show_batch",
    "show_task",
    "task_card",
    "task_panel",
]
