"""The live display: the only module that calls IPython's display machinery.

:func:`is_rich_frontend` tells a front end that renders HTML from a terminal; :class:`LiveDisplay`
is the in-place output of one answer (one ``display_id``, at most ~10 updates a second, one exact
final render) or plain streamed text in terminal IPython; :func:`show` publishes a bundle from
:mod:`.bundles` raw (never ``IPython.display.Markdown/HTML``, which fetch a text that starts with
``http`` and read one that names a file); :func:`show_object` displays a widget. IPython is imported
inside the functions, so ``%load_ext`` stays light and the pure modules never need it.

``is_rich_frontend`` is looked up in this module's globals when called: patch it here (the package
forwards ``render.is_rich_frontend = ...`` here too).
"""

from __future__ import annotations

import sys
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

from ...core.reply import Reply
from .bundles import finish_note, footer_text, reply_bundle, status_text
from .markdown import markdown_parser


def is_rich_frontend(shell: Any = None) -> bool:
    """Whether display messages reach a front end that renders HTML.

    No: no shell, or a shell whose display publisher is IPython's base one (terminal IPython and a
    bare shell: it just prints ``text/plain``); there we print plain streamed text instead. Yes:
    any other publisher (ipykernel's, ``capture_output``'s, a test recorder).
    """
    if shell is None:
        try:
            from IPython import get_ipython

            shell = get_ipython()
        except ImportError:
            return False
    if shell is None:
        return False
    pub = getattr(shell, "display_pub", None)
    if pub is None:
        return False
    from IPython.core.displaypub import DisplayPublisher

    return type(pub) is not DisplayPublisher


MAX_TICKING = 900.0  # seconds: a safety stop for the waiting ticker should finish() never come


class LiveDisplay:
    """One in-place output per answer, re-rendered at most every ``min_interval`` seconds.

    ``update`` is called per chunk and is a clock read and a comparison unless a tick is due. If a
    render is slow (a long answer), the interval stretches so rendering stays under ~10% of the
    time. In terminal IPython the text is printed as it arrives instead.
    """

    def __init__(
        self,
        *,
        min_interval: float = 0.1,
        plain: bool | None = None,
        notice: str | None = None,
        clock: Callable[[], float] = time.monotonic,
        stream: Any = None,
    ) -> None:
        self.min_interval = min_interval
        self.plain = (not is_rich_frontend()) if plain is None else plain
        self.notice = notice
        self.display_id: str | None = None
        self.updates = 0  # display calls made (start + ticks + final): what the bench counts
        self._clock = clock
        self._next = 0.0
        self._stream = stream
        self._printed_reasoning = 0
        self._printed_text = 0
        self._lock = threading.Lock()  # the waiting ticker and the main thread both publish
        self._done = threading.Event()

    def start(self, model: str, reply: Reply | None = None, *, tick: float = 1.0) -> None:
        """Show the status line (model, seconds waited) before any token arrives.

        With the ``reply`` being filled, a daemon thread refreshes the seconds waited every
        ``tick`` seconds until the first token (a thinking model can take a while): the main
        thread is blocked in the socket read then, so it cannot do it.
        """
        if not self.plain:
            markdown_parser()  # one-time setup now, so it does not count as a slow tick (and stretch them)
        self._next = self._clock() + self.min_interval
        if self.plain:
            if self.notice:
                self._write(self.notice + "\n")
            return
        from IPython.display import display

        self.display_id = uuid.uuid4().hex
        waiting = reply if reply is not None else Reply(model, [])
        display(reply_bundle(waiting, final=False, notice=self.notice), raw=True, display_id=self.display_id)
        self.updates += 1
        if reply is not None and tick > 0:
            threading.Thread(target=self._tick_waiting, args=(reply, tick), daemon=True).start()

    def _tick_waiting(self, reply: Reply, tick: float) -> None:
        from IPython.display import update_display

        while not self._done.wait(tick):
            with self._lock:
                if self._done.is_set() or reply.first_token_at is not None or reply.waited > MAX_TICKING:
                    return
                bundle = reply_bundle(reply, final=False, notice=self.notice)
                update_display(bundle, raw=True, display_id=self.display_id)
                self.updates += 1

    def update(self, reply: Reply) -> None:
        """Re-render if a tick is due; otherwise return at once (hot path)."""
        now = self._clock()
        if now < self._next:
            return
        self._render(reply, final=False)
        cost = self._clock() - now
        self._next = now + max(self.min_interval, cost * 10)

    def finish(self, reply: Reply, metadata: dict[str, Any] | None = None) -> None:
        """The one exact final render (partial and marked if interrupted or failed); ``metadata``
        is saved with the output (where the answer came from)."""
        self._next = float("inf")
        self._done.set()
        self._render(reply, final=True, metadata=metadata)

    def _render(self, reply: Reply, *, final: bool, metadata: dict[str, Any] | None = None) -> None:
        if self.plain:
            self._print_delta(reply, final=final)
            return
        from IPython.display import display, update_display

        bundle = reply_bundle(reply, final=final, notice=self.notice)
        with self._lock:
            self.updates += 1
            if self.display_id is None:  # finish() without start(): still one output
                self.display_id = uuid.uuid4().hex
                display(bundle, raw=True, display_id=self.display_id, metadata=metadata)
            else:
                update_display(bundle, raw=True, display_id=self.display_id, metadata=metadata)

    def _write(self, text: str) -> None:
        out = self._stream or sys.stdout
        out.write(text)
        out.flush()

    def _print_delta(self, reply: Reply, *, final: bool) -> None:
        reasoning, text = reply.reasoning, reply.text
        chunks = []
        if len(reasoning) > self._printed_reasoning:
            if not self._printed_reasoning:
                chunks.append("[thinking]\n")
            chunks.append(reasoning[self._printed_reasoning :])
            self._printed_reasoning = len(reasoning)
        if len(text) > self._printed_text:
            if not self._printed_text and self._printed_reasoning:
                chunks.append("\n[answer]\n")
            chunks.append(text[self._printed_text :])
            self._printed_text = len(text)
        if final:
            note = finish_note(reply)
            tail = footer_text(reply) if (text or reasoning) else status_text(reply)
            lead = "\n\n" if (self._printed_text or self._printed_reasoning) else ""
            chunks.append(lead + (f"{note}\n" if note else "") + f"[{tail}]\n")
        if chunks:
            self._write("".join(chunks))
        self.updates += 1


def show(
    bundle: dict[str, str],
    metadata: dict[str, Any] | None = None,
    *,
    display_id: str | None = None,
    update: bool = False,
) -> None:
    """Publish a bundle we built ourselves (raw, so nothing is fetched or re-interpreted); with
    ``display_id`` it can later be replaced in place (``update=True``), e.g. a card's note by the
    finished answer. A terminal prints the text once, never the updates."""
    from IPython.display import display, update_display

    if not is_rich_frontend():
        if not update:
            print(bundle["text/plain"])
        return
    if update:
        update_display(bundle, raw=True, display_id=display_id, metadata=metadata)
    else:
        display(bundle, raw=True, metadata=metadata, display_id=display_id)


def show_object(obj: Any) -> None:
    """Display any object (a widget, say) through its own ``_repr_mimebundle_``."""
    from IPython.display import display

    display(obj)
