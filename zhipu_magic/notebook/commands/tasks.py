"""``%glm result``, ``wait``, ``tasks``: async tasks, fetched afresh, waited for, or in a panel.

``-o`` binds a variable, or (a ``/`` or a ``.`` in it) saves the video or the answer to a file. A
batch id (``batch_...``) works too: its card (status, counts, where the output is); ``-o out.jsonl``
saves its output file, ``-o NAME`` binds its record.

The task machinery (store, polling, threads) loads when one of these runs, not with ``%load_ext``.
"""

from __future__ import annotations

from typing import Any

from .registry import arg, command

TASK_ID = arg("task_id", metavar="TASK_ID")
OUTPUT = arg(
    "-o",
    "--output",
    metavar="NAME",
    help="a variable for the answer (or the video link), or a file (with a / or a .) to save the video "
    "(or the answer's text) to, relative to the working directory",
)


def _adopt(magics: Any, store: Any, client: Any, task_id: str, local: bool) -> dict[str, Any] | None:
    """Record a task from elsewhere (another machine, the vendor console) before following it; the
    server's answer, or None for a task already known. An id the server does not know fails here,
    before anything is stored."""
    if store.get(task_id) is not None:
        return None
    from ...core.tasks.batches import looks_like_batch_id, record_batch

    if looks_like_batch_id(task_id):  # a batch from elsewhere: kept as a task from now on
        batch = client.batch(task_id)
        record_batch(store, batch, model="", prompt="", base_url=client.base_url, local=local)
        return dict(batch)
    first = client.result(task_id)
    submitted = {k: v for k, v in first.items() if k != "task_status"}  # the status comes with its result
    store.record_submission(
        {**submitted, "id": task_id},
        kind="video" if first.get("video_result") else "chat",
        model=first.get("model") or magics.model,
        prompt="",
        base_url=client.base_url,
        local=local,
    )
    store.apply_result(task_id, first)
    return dict(first)


def _fetch(store: Any, client: Any, task_id: str, fetched: dict[str, Any] | None) -> dict[str, Any]:
    """The task as the server has it now: a finished video's links are fresh (the real API's
    expire). The store keeps a task's first result, so the fresh one is laid over the record shown.
    A task already finished here that cannot be fetched now is shown as stored, with a note."""
    from ...api.errors import GLMError
    from ...core.tasks import SUCCESS, is_final, poll_task
    from .. import render

    record = store.get(task_id) or {"id": task_id}
    if record.get("kind") == "batch":  # its state now (the files stay where they are)
        from ...core.tasks.batches import poll_batch

        return record if fetched is not None else poll_batch(store, client, task_id)
    if fetched is None or not is_final(record.get("status")):  # else: adopted just now, and done
        capture = _Capture(client)
        try:
            record = poll_task(store, capture, task_id)
        except GLMError as err:
            if not is_final(record.get("status")):
                raise
            note = f"Could not fetch task {task_id} again ({err}); shown as stored."
            render.show(render.text_bundle(note))
        fetched = capture.response
    if fetched and fetched.get("task_status") == SUCCESS and record.get("status") == SUCCESS:
        record = {**record, "result": dict(fetched)}
    return record


class _Capture:
    """The client as ``poll_task`` sees it, keeping the server's answer (the store keeps the first)."""

    def __init__(self, client: Any) -> None:
        self.client, self.response = client, None

    def result(self, task_id: str) -> Any:
        self.response = self.client.result(task_id)
        return self.response


@command(
    "result",
    "fetch a task afresh and show it (video links renewed; a batch: status, counts, output file); "
    "-o NAME binds it, -o video.mp4 saves it",
    TASK_ID,
    OUTPUT,
)
def result(magics: Any, args: Any) -> None:
    from ...core.tasks import get_store
    from .. import task_view

    output = task_view.output_target(magics, args.output)  # before anything is sent
    store = get_store()
    client, local = magics.connect()
    fetched = _adopt(magics, store, client, args.task_id, local)
    record = _fetch(store, client, args.task_id, fetched)
    task_view.show_outcome(magics, record, client, output)


@command(
    "wait",
    "poll a task until done and show it (resumes an interrupted --wait); -o NAME binds, -o video.mp4 saves",
    TASK_ID,
    OUTPUT,
)
def wait(magics: Any, args: Any) -> None:
    from ...core.tasks import get_store
    from .. import task_view

    output = task_view.output_target(magics, args.output)  # before anything is sent
    store = get_store()
    client, local = magics.connect()
    _adopt(magics, store, client, args.task_id, local)
    task_view.wait_and_show(magics, store, client, args.task_id, output)


@command(
    "tasks",
    "the task panel: submit chat or video tasks, Refresh, auto-refresh, Cancel a batch; "
    "tasks survive restarts",
)
def tasks(magics: Any, args: Any) -> None:
    magics.show_panel("task_panel")
