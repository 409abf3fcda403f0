"""``%glm result``, ``wait``, ``tasks``: async tasks, fetched once, waited for, or in a panel.

The task machinery (store, polling, threads) loads when one of these runs, not with ``%load_ext``.
"""

from __future__ import annotations

from typing import Any

from .registry import arg, command

TASK_ID = arg("task_id", metavar="TASK_ID")


def _adopt(magics: Any, store: Any, client: Any, task_id: str, local: bool) -> None:
    """Record a task from elsewhere (another machine, the vendor console) before following it. An
    id the server does not know fails here, before anything is stored."""
    if store.get(task_id) is not None:
        return
    first = client.result(task_id)
    store.record_submission(
        {"id": task_id, **first},
        kind="video" if first.get("video_result") else "chat",
        model=first.get("model") or magics.model,
        prompt="",
        base_url=client.base_url,
        local=local,
    )
    store.apply_result(task_id, first)


@command("result", "fetch an async task once (submitted with %%glm --async or --video)", TASK_ID)
def result(magics: Any, args: Any) -> None:
    from ...core.tasks import get_store, is_final, poll_task
    from .. import task_view

    store = get_store()
    client, local = magics.connect()
    _adopt(magics, store, client, args.task_id, local)
    record = store.get(args.task_id) or {"id": args.task_id}
    if not is_final(record.get("status")):
        record = poll_task(store, client, args.task_id)
    task_view.show_outcome(magics, record, client)


@command(
    "wait",
    "poll a task until done and show it (resumes an interrupted --wait, or a task from elsewhere)",
    TASK_ID,
    arg("-o", "--output", metavar="NAME"),
)
def wait(magics: Any, args: Any) -> None:
    from ...core.tasks import get_store
    from .. import task_view

    output = magics.checked_name(args.output)  # before anything is sent
    store = get_store()
    client, local = magics.connect()
    _adopt(magics, store, client, args.task_id, local)
    task_view.wait_and_show(magics, store, client, args.task_id, output)


@command("tasks", "the task panel: submit chat or video tasks, Refresh, auto-refresh; tasks survive restarts")
def tasks(magics: Any, args: Any) -> None:
    magics.show_panel("task_panel")
