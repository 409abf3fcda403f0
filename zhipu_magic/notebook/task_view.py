"""How an async task shows in a cell: the live card when submitted, the answer (or video) when done.

One place for ``%%glm --async/--wait``, ``%glm wait ID`` and ``%glm result ID``, so a finished task
looks the same whichever way it was fetched. ``-o NAME`` binds the answer (or the first video link);
``-o PATH`` (a ``/`` or a ``.`` in it) saves the video, or a chat answer as UTF-8 text, to that file.
A Batch API job shows as its batch card (once final: one line of status, counts and where the output
is); ``-o out.jsonl`` saves its output file, ``-o NAME`` binds its record.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from shlex import quote
from types import SimpleNamespace
from typing import Any

from IPython.core.error import UsageError

from ..api.download import atomic_file
from ..api.errors import GLMError, NotFoundError
from ..core.tasks.batches import is_batch
from ..core.tasks.polling import wait_for_task
from ..core.tasks.records import FAIL, SUCCESS, is_final, reply_from_record
from ..core.tasks.store import TaskStore
from . import hints, render


def show_submitted(task: Mapping[str, Any], client: Any) -> None:
    """A submitted (or unfinished) task: its live card in a widget front end, else the static card
    (a batch: the batch card, with its counts and Cancel)."""
    if is_batch(task):
        from .widgets.batch_card import show_batch

        show_batch(task, client)
        return
    stamp_context(task)  # before the card's first poll, which may log it
    from .widgets import show_task  # ipywidgets loads here, on the first task shown, not at %load_ext

    show_task(task, client)


Output = str | Path | None  # -o: a variable name, a file to save to, or nothing


def output_target(magics: Any, value: str | None) -> Output:
    """``-o``: a file path when it has a ``/`` or a ``.`` (relative to the working directory), else
    a variable name (refused when it is not one, or is one of IPython's own)."""
    if value is None or not ("/" in value or "." in value or os.sep in value):
        if value is not None and not value.isidentifier():
            raise UsageError("-o needs a Python variable name, or a file name with a . or a / (-o video.mp4)")
        return magics.checked_name(value)
    path = Path(value).expanduser()
    if value.endswith(("/", os.sep)) or path.is_dir():
        raise UsageError(f"-o {value}: that is a folder; name a file in it, e.g. -o {path / 'video.mp4'}")
    return path


def wait_and_show(magics: Any, store: TaskStore, client: Any, task_id: str, output: Output) -> None:
    """Poll (1 s -> 10 s backoff) until the task is done, then show it like a normal answer.

    An interrupt stops the waiting, not the task: ``%glm wait ID`` resumes it.
    """
    stamp_context(store.get(task_id) or {"id": task_id}, magics)
    try:
        record = wait_for_task(store, client, task_id)
    except KeyboardInterrupt as exc:
        note = f"stopped waiting; task {task_id} is still running: resume with %glm wait {task_id}"
        render.show(render.text_bundle(note[0].upper() + note[1:]))
        raise hints.quiet_interrupt(exc, note) from None
    show_outcome(magics, record, client, output)


def show_outcome(magics: Any, record: Mapping[str, Any], client: Any, output: Output = None) -> None:
    """A task record in a cell: the answer (bound to ``_glm`` and ``output``), the video card (its
    first URL bound to ``output``), the failure as an error, or a pending note. An ``output`` path
    gets the video (or the answer's text) saved to it."""
    if is_batch(record):
        show_batch_outcome(magics, record, client, output)
        return
    task_id = str(record.get("id"))
    status = record.get("status")
    if status == FAIL:
        log_task(magics, record, SimpleNamespace())
        raise GLMError(
            f"task {task_id} failed: {record.get('error')}", hint="submit it again (%%glm --async)"
        )
    if not is_final(status):
        again = f"%glm result {task_id}" + (f" -o {quote(str(output))}" if isinstance(output, Path) else "")
        unsaved = " Nothing saved yet." if isinstance(output, Path) else ""
        render.show(render.text_bundle(f"Task {task_id}: {status}.{unsaved} Run {again} again later."))
        return
    reply = reply_from_record(record)
    if reply is None:  # a video: the card shows the player and the cover image
        show_submitted(record, client)
        urls = [
            v.get("url")
            for v in (record.get("result") or {}).get("video_result") or []
            if isinstance(v, dict)
        ]
        video = SimpleNamespace(
            model=record.get("model"), text="\n".join(filter(None, urls)), task_id=task_id
        )
        log_task(magics, record, video)
        if isinstance(output, Path):
            save_video(client, task_id, urls[0] if urls else None, output)
        elif output:
            magics.bind(output, urls[0] if urls else None)
        return
    assert status == SUCCESS
    magics.bind("_glm", reply)
    magics.count_usage(reply)
    log_task(magics, record, reply)
    render.show(render.reply_bundle(reply, final=True), render.provenance_metadata(reply))
    if isinstance(output, Path):
        save_text(reply.text, output)
    elif output:
        magics.bind(output, reply.text)


def show_batch_outcome(magics: Any, record: Mapping[str, Any], client: Any, output: Output = None) -> None:
    """A batch in a cell: the live card while it runs; once final its static card (one line: status,
    counts, where the output is). ``output``: a variable gets the record, a path the output file."""
    batch_id = str(record.get("id"))
    show_submitted(record, client)
    if isinstance(output, Path):
        file_id = record.get("output_file_id")
        if not file_id:
            status = record.get("status")
            if is_final(status):
                raise GLMError(f"batch {batch_id} ended {status} without an output file", hint="")
            again = f"%glm wait {batch_id} -o {quote(str(output))}"
            raise GLMError(f"batch {batch_id} has no output file yet ({status})", hint=f"{again} saves it")
        replaced = output.exists()
        data = client.file_content(str(file_id))
        with atomic_file(output) as out:
            out.write(data)
        say_saved(output, len(data), replaced)
    elif output:
        magics.bind(output, dict(record))


def save_text(text: str, path: Path) -> None:
    """A chat task's answer to ``path`` as UTF-8, whole or not at all, said in one line."""
    replaced, data = path.exists(), text.encode("utf-8")
    with atomic_file(path) as out:
        out.write(data)
    say_saved(path, len(data), replaced)


def save_video(client: Any, task_id: str, url: str | None, path: Path) -> None:
    """Download the task's video to ``path`` and say so in one line; an expired link says how to
    get a fresh one, an interrupt that nothing was saved."""
    if not url:
        raise GLMError(f"task {task_id} has no video to save", hint="")
    replaced = path.exists()
    try:
        size = client.download(url, path)
    except NotFoundError as err:
        again = f"%glm result {task_id} -o {quote(str(path))}"
        err.hint = f"links expire: {again} fetches the task again for a fresh one"
        raise
    except KeyboardInterrupt as exc:
        raise hints.quiet_interrupt(exc, f"stopped the download; nothing was saved to {path}") from None
    say_saved(path, size, replaced)


def say_saved(path: Path, size: int, replaced: bool) -> None:
    """``Saved 25.6 KB to video.mp4`` (and whether a file was replaced)."""
    if size >= 1024 * 1024:
        amount = f"{size / (1024 * 1024):.1f} MB"
    else:
        amount = f"{size / 1024:.1f} KB" if size >= 1024 else f"{size} bytes"
    note = ", replacing the file that was there" if replaced else ""
    render.show(render.text_bundle(f"Saved {amount} to {path}{note}"))


def stamp_context(record: Mapping[str, Any], magics: Any = None) -> None:
    """Keep the cell that submitted (or waits for) a task on its record: its call-log row may be made
    later, by a card's poll on another thread, and names that cell and notebook."""
    magics = magics if magics is not None else _magics()
    if magics is None:
        return
    if is_batch(record) or record.get("log_context") or is_final(record.get("status")):
        return
    context = {"cell_id": magics.current_cell_id(), "notebook": magics.notebook_path()}
    if any(context.values()):
        from ..core.tasks.store import get_store

        get_store().put({"id": str(record["id"]), "log_context": context})


def _magics() -> Any:
    from IPython import get_ipython

    shell = get_ipython()
    return shell.magics_manager.registry.get("GLMMagics") if shell is not None else None


def log_task(magics: Any, record: Mapping[str, Any], answer: Any) -> None:
    """A finished task in the call log, once, through the one path every poll takes
    (:func:`zhipu_magic.core.tasks.logbook.log_finished`: already there when a poll finished it);
    ``answer`` gets its ``log_id`` and the provenance its output saves."""
    from ..core.ledger.records import provenance
    from ..core.tasks.logbook import log_finished, task_body
    from ..core.tasks.store import get_store

    if magics.log:
        context = {"cell_id": magics.current_cell_id(), "notebook": magics.notebook_path()}
        record = log_finished(get_store(), dict(record), **context)
    answer.log_id, answer.replayed = record.get("log_id"), None
    answer.provenance = provenance(answer, task_body(record), answer.log_id)
