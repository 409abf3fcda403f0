"""Widgets: the entry points for the task card (``%%glm --async``), the task panel (``%glm tasks``)
and the chat panel (``%glm chat``), and ``default_client`` for panels opened without a client.

The widgets live in :mod:`.task_widgets` (task card, task panel) and :mod:`.chat_widget` (chat
panel); their HTML comes from :mod:`.panel_html` and their worker thread from :mod:`.panel_base`.
Every name they define is re-exported here, so ``from zhipu_magic.widgets import ...`` keeps working.

ipywidgets is imported by the widget modules only, and they are imported only when a widget is
wanted, so ``%load_ext zhipu_magic`` stays light. Widgets never turn model text into HTML themselves:
answers go through :mod:`.render`, and every other string that reaches an ``HTML`` widget is escaped
with ``render.escape`` (``ipywidgets.HTML`` sets ``innerHTML`` unsanitized).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import ipywidgets as W  # noqa: F401 - re-exported (``widgets.W``); the panels' modules import it too

from . import render
from .chat_widget import ChatPanel, shutdown_stream  # noqa: F401 - re-exported
from .panel_base import Background as _Background  # noqa: F401 - re-exported (old private names)
from .panel_base import client_or_error as _client_or_error  # noqa: F401
from .panel_base import is_local as _is_local  # noqa: F401
from .panel_html import (  # noqa: F401 - re-exported: the HTML pieces were defined here
    BADGE_COLORS,
    badge_html,
    elapsed_text,
    error_html,
    one_line,
    safe_http_url,
    status_html,
    task_body_html,
    task_card_bundle,
    task_header_html,
    video_html,
)
from .task_widgets import TaskCard, TaskPanel, _model_options  # noqa: F401 - re-exported
from .tasks import TaskStore, get_store


def default_client() -> Any:
    """A client for the panels when none is given: the same backend as the magics (so
    ``%glm login`` applies here too): the configured API with a key, else the local server."""
    from .backend import backend

    return backend.client()[0]


def task_card(task: Mapping[str, Any] | str, client: Any, store: TaskStore | None = None) -> TaskCard:
    """The card ``%%glm --async`` shows (a widget); ``task_card_bundle`` is the non-widget twin."""
    return TaskCard(task, client, store)


def show_task(task: Mapping[str, Any] | str, client: Any, store: TaskStore | None = None) -> TaskCard | None:
    """Display a task: the live card in a widget front end, the static bundle elsewhere (terminal)."""
    store = store or get_store()
    if render.is_rich_frontend():
        from IPython.display import display

        card = task_card(task, client, store)
        display(card)
        return card
    task_id = str(task["id"] if isinstance(task, Mapping) else task)
    record = store.get(task_id) or (dict(task) if isinstance(task, Mapping) else {"id": task_id})
    render.show(task_card_bundle(record))
    return None


def task_panel(client: Any = None, store: TaskStore | None = None) -> TaskPanel:
    """The ``%glm tasks`` panel."""
    return TaskPanel(client, store)


def chat_panel(name: str | None = None, client: Any = None) -> ChatPanel:
    """The ``%glm chat [NAME]`` panel (default conversation name: ``default``)."""
    return ChatPanel(name or "default", client)
