"""The card of a Batch API job: its status (validating, in progress, finalizing, completed, failed,
expired, cancelling, cancelled), ``request_counts`` as a bar (completed / failed / total), where the
output is, Refresh and Cancel.

A :class:`~.card.TaskCard` that paints a batch record (:mod:`zhipu_magic.core.tasks.batches`): it
polls by itself like the task card (1 s, 2 s, 4 s, 8 s, then every 10 s) until the batch is final,
and its note output becomes the static card then, so a reopened notebook shows the counts and
files instead of "model not found". Cancel asks the API (``POST batches/{id}/cancel``) on a worker
thread; the card follows the batch through ``cancelling`` to ``cancelled``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import ipywidgets as W

from ...core.tasks.batches import cancel_batch
from ...core.tasks.store import TaskStore, get_store, is_final
from .. import render
from ..render.batch import batch_body_html, batch_card_bundle, batch_header_html
from ..render.panels import gone_note_bundle, reopen_note_bundle
from .card import BACKOFF, TaskCard, show_updatable

NO_CANCEL = ("cancelling",)  # already asked; final statuses cannot be cancelled either


class BatchCard(TaskCard):
    """One batch: status badge, counts bar, output and error files, Refresh, Cancel."""

    noun = "batch"

    def __init__(
        self,
        batch: Mapping[str, Any] | str,
        client: Any,
        store: TaskStore | None = None,
        *,
        auto: bool = True,
        backoff: tuple[float, float] = BACKOFF,
    ) -> None:
        self.cancel_button = W.Button(description="Cancel", icon="stop", tooltip="Cancel this batch")
        self.cancel_button.layout.width = "auto"
        super().__init__(batch, client, store, auto=auto, backoff=backoff)
        self.add_class("zm-batch-card")
        top = self.children[0]
        top.children = (*top.children, self.cancel_button)
        self.cancel_button.on_click(lambda _b: self.cancel())

    def plain_text(self) -> str:
        return batch_card_bundle(self.record)["text/plain"]

    def show_live(self) -> tuple[str, str]:
        """Display the note then the live card, each replaceable in place: ``(note id, card id)``.
        The note becomes the static card when the batch is final (:meth:`TaskCard.update`)."""
        self._note_id = show_updatable(self.reopen_note())
        self._note_final = is_final(self.record.get("status"))
        return self._note_id, show_updatable(self._repr_mimebundle_())

    def drop_note(self) -> None:
        """The card has become a static output: its note goes, and is no longer updated."""
        note_id, self._note_id = self._note_id, None
        if note_id is not None:
            render.show(gone_note_bundle(), display_id=note_id, update=True)

    def paint(self, final: bool) -> None:
        self.header.value = batch_header_html(self.record)
        body = batch_body_html(self.record)
        if self.body.value != body:
            self.body.value = body
        self.refresh_button.disabled = final
        self.cancel_button.disabled = final or self.record.get("status") in NO_CANCEL

    def cancel(self, *, wait: bool = False) -> None:
        """Ask the API to cancel the batch (worker thread; the click returns at once)."""

        def work() -> None:
            self.cancel_button.description = "Cancelling\u2026"
            try:
                self.message.value = ""
                self.update(cancel_batch(self.store, self.client, str(self.record["id"])))
            finally:
                self.cancel_button.description = "Cancel"

        self._worker.run(work, wait=wait)


def show_batch(
    batch: Mapping[str, Any] | str, client: Any, store: TaskStore | None = None
) -> BatchCard | None:
    """Display a batch: a finished one as a plain output (saved with the notebook); an unfinished one
    as the live card in a widget front end, the static card elsewhere."""
    store = store or get_store()
    batch_id = str(batch["id"] if isinstance(batch, Mapping) else batch)
    record = store.get(batch_id) or (dict(batch) if isinstance(batch, Mapping) else {"id": batch_id})
    if is_final(record.get("status")) or not render.is_rich_frontend():
        render.show(batch_card_bundle(record))
        return None
    card = BatchCard(record, client, store)
    render.show_object(card)
    return card


class RunCard(BatchCard):
    """A batch card of a ``%%glm --map --batch`` run: while its batch runs, its note says that running
    the cell again collects it."""

    def reopen_note(self) -> dict[str, str]:
        if is_final(self.record.get("status")):
            return super().reopen_note()
        batch_id = self.record.get("id")
        return reopen_note_bundle(
            f"batch {batch_id} was running when the notebook was saved: run the cell again to collect"
            f" its rows (nothing is sent twice), or %glm result {batch_id} to see it"
        )


class RunCards:
    """The batch cards of one ``%%glm --map --batch`` run: each shown live as its batch is created
    (status, counts, Refresh, Cancel; it polls by itself while the map waits), and replaced in place
    by its static card when the run ends (:meth:`finish`), so the saved notebook holds no widget. Each
    card's note (what a notebook saved mid-run shows once its kernel is gone) is emptied then.

    The kernel is busy running the map, so a click on Refresh or Cancel is seen where the kernel
    routes comm messages (:func:`..map_view.watch_clicks`), like the map's Stop button."""

    def __init__(self, client: Any, store: TaskStore | None = None) -> None:
        self.client, self.store = client, store or get_store()
        self.cards: list[tuple[RunCard, str]] = []

    def add(self, record: Mapping[str, Any]) -> None:
        """Show the live card of a batch the run just created (or found again)."""
        from ..map_view import watch_clicks

        card = RunCard(record, self.client, self.store)
        watch_clicks(card.refresh_button, card.refresh)
        watch_clicks(card.cancel_button, card.cancel)
        self.cards.append((card, card.show_live()[1]))

    def finish(self) -> None:
        """Every card becomes its static card (the batch as it is now), and stops polling."""
        for card, display_id in self.cards:
            if card.poller is not None:
                card.poller.stop()
                card.poller.join(5)  # a poll under way may still repaint the note: let it end first
            card.join(5)
            card.close()  # and every widget in it: a click still queued for the shell thread finds nothing
            record = self.store.get(str(card.record["id"])) or card.record
            render.show(batch_card_bundle(record), display_id=display_id, update=True)
            card.drop_note()
        self.cards.clear()


__all__ = ["BatchCard", "RunCard", "RunCards", "show_batch"]
