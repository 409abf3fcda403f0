"""How an async task shows in a cell: the live card when submitted, the answer (or video) when done.

One place for ``%%glm --async/--wait``, ``%glm wait ID`` and ``%glm result ID``, so a finished task
looks the same whichever way it was fetched.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import SimpleNamespace
from typing import Any

from ..api.errors import GLMError
from ..core.tasks.polling import wait_for_task
from ..core.tasks.records import FAIL, SUCCESS, is_final, reply_from_record
from ..core.tasks.store import TaskStore
from . import hints, render


def show_submitted(task: Mapping[str, Any], client: Any) -> None:
    """A submitted (or unfinished) task: its live card in a widget front end, else the static card."""
    from .widgets import show_task  # ipywidgets loads here, on the first task shown, not at %load_ext

    show_task(task, client)


def wait_and_show(magics: Any, store: TaskStore, client: Any, task_id: str, output: str | None) -> None:
    """Poll (1 s -> 10 s backoff) until the task is done, then show it like a normal answer.

    An interrupt stops the waiting, not the task: ``%glm wait ID`` resumes it.
    """
    try:
        record = wait_for_task(store, client, task_id)
    except KeyboardInterrupt as exc:
        note = f"stopped waiting; task {task_id} is still running: resume with %glm wait {task_id}"
        render.show(render.text_bundle(note[0].upper() + note[1:]))
        raise hints.quiet_interrupt(exc, note) from None
    show_outcome(magics, record, client, output)


def show_outcome(magics: Any, record: Mapping[str, Any], client: Any, output: str | None = None) -> None:
    """A task record in a cell: the answer (bound to ``_glm`` and ``output``), the video card (its
    first URL bound to ``output``), the failure as an error, or a pending note."""
    task_id = str(record.get("id"))
    status = record.get("status")
    if status == FAIL:
        raise GLMError(
            f"task {task_id} failed: {record.get('error')}", hint="submit it again (%%glm --async)"
        )
    if not is_final(status):
        render.show(render.text_bundle(f"Task {task_id}: {status}. Run %glm result {task_id} again later."))
        return
    reply = reply_from_record(record)
    if reply is None:  # a video: the card shows the player and the cover image
        show_submitted(record, client)
        urls = [
            v.get("url")
            for v in (record.get("result") or {}).get("video_result") or []
            if isinstance(v, dict)
        ]
        if output:
            magics.bind(output, urls[0] if urls else None)
        video = SimpleNamespace(
            model=record.get("model"), text="\n".join(filter(None, urls)), task_id=task_id
        )
        log_task(magics, record, video)
        return
    assert status == SUCCESS
    magics.bind("_glm", reply)
    magics.count_usage(reply)
    log_task(magics, record, reply)
    render.show(render.reply_bundle(reply, final=True), render.provenance_metadata(reply))
    if output:
        magics.bind(output, reply.text)


def log_task(magics: Any, record: Mapping[str, Any], answer: Any) -> None:
    """A finished task in the call log, once (fetching it again records nothing new)."""
    if not magics.log:
        return
    from ..api import inprocess
    from ..core.ledger import get_ledger
    from ..core.ledger.query import has_task

    task_id = str(record.get("id"))
    try:
        if has_task(get_ledger(), task_id):
            return
    except Exception:  # the log never breaks a cell
        return
    kind = "video" if record.get("kind") == "video" else "async"
    body = {
        "model": record.get("model"),
        "messages": [{"role": "user", "content": record.get("prompt") or ""}],
    }
    if kind == "video":
        body = {"model": record.get("model"), "prompt": record.get("prompt") or ""}
    base_url = record.get("base_url")
    local = bool(record.get("local")) or inprocess.is_local(base_url)
    magics.log_call(answer, body, kind=kind, local=local, base_url=base_url, task_id=task_id)
