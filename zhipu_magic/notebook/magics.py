"""``GLMMagics``: the settings (traits) and the ``%%glm`` / ``%glm`` entry point.

A cell goes to :mod:`.cell_flow`, a line to the subcommand registry (:mod:`.commands`). What both need
from the shell is offered here as public methods (``connect``, ``bind``, ``count_usage``, ``key``,
``show_panel``...), so neither reaches into the other. Settings are traitlets, so ``%config
GLMMagics.model = "glm-4-air"`` and ``ipython_config.py`` work; the API key is deliberately *not* a
trait (``%config`` would print it). Errors from the API reach the cell with notebook hints
(:mod:`.hints`).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from IPython.core.error import UsageError
from IPython.core.magic import Magics, line_cell_magic, magics_class
from IPython.core.magic_arguments import kwds, magic_arguments
from traitlets import Bool, Float, Int, TraitError, Unicode, default, observe, validate

from ..api.config import (
    BASE_URL_ENV_VAR,
    DEFAULT_DEADLINE,
    DEFAULT_MODEL,
    DEFAULT_TIMEOUT,
    Secret,
    redact_url,
)
from ..api.errors import GLMError
from ..core import ledger
from ..core.backend import backend
from ..core.session import notebook_path
from . import commands, hints
from .cell_errors import remember as remember_error
from .options import cell_options, check_output_name

if TYPE_CHECKING:
    from ..core.reply import Reply

MAX_TIMEOUT = 3600.0  # seconds without a byte: beyond an hour a connection is dead, not slow
MAX_TOKENS = 1_000_000  # far above any model's output limit; the API checks the model's own

LOCAL_NOTICE = (
    "No API key set: answering from the built-in local server (offline demo). "
    "Set ZHIPUAI_API_KEY or run %glm login to use the real API."
)


class Switch(Bool):  # type: ignore[type-arg]
    """A Bool that ``%glm config`` also sets with ``on``/``off`` and ``yes``/``no``."""

    def from_string(self, s: str) -> Any:
        word = s.strip().lower()
        if word in ("on", "yes"):
            return True
        if word in ("off", "no", "false", "0"):
            return False
        if word in ("true", "1"):
            return True
        raise ValueError(f"{s.strip()[:40]!r} is not on or off (yes/no, true/false and 1/0 work too)")


def _subcommand_help() -> str:
    """The ``%glm`` subcommands for ``%%glm?``, from the registry (never a hand-kept list)."""
    width = max(len(usage) for usage, _ in commands.listing())
    lines = [f"  {usage.ljust(width)}  {summary}" for usage, summary in commands.listing()]
    return "line subcommands (%glm SUBCOMMAND; %glm help):\n" + "\n".join(lines)


@magics_class
class GLMMagics(Magics):
    """Zhipu GLM models in the notebook: ``%%glm`` cells and ``%glm`` subcommands."""

    model = Unicode(DEFAULT_MODEL, help="Default model for %%glm.").tag(config=True)
    system = Unicode(None, allow_none=True, help="Default system prompt.").tag(config=True)
    temperature = Float(None, allow_none=True, help="Default temperature, in [0, 1].").tag(config=True)
    top_p = Float(None, allow_none=True, help="Default top_p, in (0, 1].").tag(config=True)
    max_tokens = Int(None, allow_none=True, help="Default max_tokens (>= 1).").tag(config=True)
    thinking = Bool(None, allow_none=True, help="Thinking mode on/off by default (None: model default).").tag(
        config=True
    )
    stream = Bool(True, help="Stream answers (False = one synchronous call, like --no-stream).").tag(
        config=True
    )
    base_url = Unicode(
        None, allow_none=True, help=f"API base URL (overrides {BASE_URL_ENV_VAR}); needs a key."
    ).tag(config=True)
    interpolate = Bool(True, help="Substitute {name}, {In[n]}, {Out[n]} in %%glm cells.").tag(config=True)
    timeout = Float(
        DEFAULT_TIMEOUT[1], help="Seconds without a byte from the server before a request gives up."
    ).tag(config=True)
    value_limit = Int(
        20_000, help="Characters of one {name} value sent at most; longer values are cut, with a note."
    ).tag(config=True)
    frame_budget = Int(2_000, help="Tokens of a {df} description at most (a DataFrame).").tag(config=True)
    vision_model = Unicode("glm-4.6v-flash", help="Model for images if the model has none.").tag(config=True)
    search_engine = Unicode(
        None, allow_none=True, help="--search engine (default by region: search_std; search-prime on z.ai)."
    ).tag(config=True)
    deadline = Float(
        DEFAULT_DEADLINE,
        allow_none=True,
        help="Seconds a whole call may take, retries and a trickling stream included (None: no limit).",
    ).tag(config=True)
    min_interval = Float(0.1, help="Seconds between live display updates (at most ~10 a second).").tag(
        config=True
    )

    log = Switch(
        help=f"Record every call in the call log (%glm log); default from {ledger.LOG_ENV_VAR} (on)."
    ).tag(config=True)
    replay = Switch(
        help="Answer a request identical to a recorded one from the log (0 tokens; --fresh to send); "
        f"default from {ledger.REPLAY_ENV_VAR} (off)."
    ).tag(config=True)

    def __init__(self, shell: Any = None, **kwargs: Any) -> None:
        super().__init__(shell=shell, **kwargs)
        self._noticed_local = False
        self._cell_id: str | None = None
        self.usage: dict[str, dict[str, int]] = {}
        # Compute the env-based defaults now: a first ``log=off`` would otherwise be compared with the
        # static default (False), seen as no change, and never reach the call log's observer.
        self.log, self.replay  # noqa: B018

    # -- validation of the traits (also what %glm config and %config go through) -----------------
    @default("log")
    def _default_log(self) -> bool:
        return ledger.env_flag(ledger.LOG_ENV_VAR, True)

    @default("replay")
    def _default_replay(self) -> bool:
        return ledger.env_flag(ledger.REPLAY_ENV_VAR, False)

    @observe("log")
    def _log_changed(self, change: Any) -> None:
        ledger.set_logging(change["new"])

    @validate("temperature")
    def _check_temperature(self, proposal: Any) -> Any:
        value = proposal["value"]
        if value is not None and not 0 <= value <= 1:
            raise TraitError(f"temperature must be in [0, 1], got {value}")
        return value

    @validate("top_p")
    def _check_top_p(self, proposal: Any) -> Any:
        value = proposal["value"]
        if value is not None and not 0 < value <= 1:
            raise TraitError(f"top_p must be in (0, 1], got {value}")
        return value

    @validate("timeout")
    def _check_timeout(self, proposal: Any) -> Any:
        return _within("timeout", proposal["value"], 0.001, MAX_TIMEOUT, unit=" s")

    @validate("deadline")
    def _check_deadline(self, proposal: Any) -> Any:
        value = proposal["value"]
        return value if value is None else _within("deadline", value, 1.0, 7 * 86400.0, unit=" s")

    @validate("min_interval")
    def _check_min_interval(self, proposal: Any) -> Any:
        return _within("min_interval", proposal["value"], 0.0, 60.0, unit=" s")

    @validate("value_limit")
    def _check_value_limit(self, proposal: Any) -> Any:
        return _within("value_limit", proposal["value"], 100, 10_000_000, unit=" characters")

    @validate("max_tokens")
    def _check_max_tokens(self, proposal: Any) -> Any:
        value = proposal["value"]
        return value if value is None else _within("max_tokens", value, 1, MAX_TOKENS)

    # -- the magic ---------------------------------------------------------------------------
    @magic_arguments("%glm")  # the usage line then reads "%%glm [-m MODEL] ..."
    @kwds(epilog=_subcommand_help())
    @cell_options
    @line_cell_magic
    def glm(self, line: str, cell: str | None = None) -> None:
        """Ask a Zhipu GLM model. The cell is the message; the answer streams below it.

        ``{name}`` in the cell is replaced by the variable ``name`` (also ``{In[3]}``, ``{Out[3]}``);
        nothing is evaluated and other braces stay as typed. ``_glm`` holds the last reply
        (``.text``, ``.reasoning``, ``.usage``, ...). The key comes from ZHIPUAI_API_KEY or
        ``%glm login``, never from an option; with no key the built-in local server answers.
        """
        try:
            if cell is None:
                commands.dispatch(self, line)
            else:
                from . import cell_flow  # the cell machinery loads with the first cell, not %load_ext

                cell_flow.run(self, line, cell)
        except GLMError as err:
            hints.for_notebook(err)
            raise

    # -- what the cell flow and the subcommands use ---------------------------------------------
    def connect(self) -> tuple[Any, bool]:
        """``(client, local)``: a key -> the configured API; no key and no base URL -> local server."""
        return backend.client(self.base_url, timeout=self.timeout, deadline=self.deadline)

    def key(self) -> Secret | None:
        return backend.key()

    def configured_base_url(self) -> str | None:
        """The configured base URL as it may be shown: never with ``user:pass@``."""
        base = backend.base_url(self.base_url)
        return redact_url(base) if base else None

    def bind(self, name: str, value: Any) -> None:
        """Set a variable in the user's namespace (``_glm``, ``-o NAME``)."""
        if self.shell is not None:
            self.shell.user_ns[name] = value

    checked_name = staticmethod(check_output_name)

    def local_notice(self, local: bool) -> str | None:
        """The one-time note that the local server is answering (first local answer only)."""
        if not local or self._noticed_local:
            return None
        self._noticed_local = True
        return LOCAL_NOTICE

    def count_usage(self, reply: Reply) -> None:
        """Add a reply's tokens and cost to ``%glm usage`` (a cost not known is counted as unknown)."""
        from ..core.ledger.prices import cost

        usage = reply.usage or {}
        row = self.usage.setdefault(
            reply.model,
            {
                "requests": 0,
                "prompt": 0,
                "completion": 0,
                "reasoning": 0,
                "total": 0,
                "cost": 0.0,
                "unknown": 0,
            },
        )
        spent = cost(reply.model, usage, local=reply.local) if usage else 0.0
        row["cost"] += spent or 0.0
        row["unknown"] += spent is None
        row["requests"] += 1
        row["prompt"] += _count(usage.get("prompt_tokens"))
        row["completion"] += _count(usage.get("completion_tokens"))
        row["reasoning"] += reply.reasoning_tokens()[0]
        row["total"] += _count(usage.get("total_tokens"))

    def log_call(
        self, reply: Any, body: Any, *, kind: str, local: bool, base_url: str | None, **context: Any
    ) -> None:
        """Record a finished call in the call log (unless ``log`` is off). Sets ``reply.log_id``,
        ``reply.replayed`` (``None``: a real call) and ``reply.provenance`` (what the output saves)."""
        reply.log_id = reply.replayed = None
        if self.log:
            context.setdefault("cell_id", self.current_cell_id())
            context.setdefault("notebook", self.notebook_path())
            reply.log_id = ledger.record(reply, body, kind=kind, local=local, base_url=base_url, **context)
        from ..core.ledger.records import provenance

        reply.provenance = provenance(reply, body, reply.log_id)

    def notebook_path(self) -> str | None:
        """The notebook's path when the front end tells it (``__session__``, ``JPY_SESSION_NAME``)."""
        return notebook_path(getattr(self.shell, "user_ns", None))

    def show_panel(self, name: str, *args: Any) -> None:
        """Show a panel with our client, so a %glm login key and the local server apply there too."""
        factory = _widget_entry(name)
        try:
            client = self.connect()[0]
        except GLMError:
            client = None  # the panel shows its own message about the missing key
        widget = factory(*args, client=client)
        if widget is not None:
            from .render import show_object

            show_object(widget)

    # -- cell ids (for replacing a re-run cell's turn) -------------------------------------------
    def current_cell_id(self) -> str | None:
        """The running cell's id: from ``pre_run_cell`` info, else the execute request metadata."""
        if self._cell_id:
            return self._cell_id
        header = getattr(self.shell, "parent_header", None) or {}
        cell_id = (header.get("metadata") or {}).get("cellId") if isinstance(header, dict) else None
        return str(cell_id) if cell_id else None

    def _pre_run_cell(self, info: Any) -> None:
        self._cell_id = getattr(info, "cell_id", None) or None

    def _post_run_cell(self, result: Any) -> None:
        self._cell_id = None
        remember_error(self.shell, result)  # for %glm fix and {Err[n]}


def _within(name: str, value: float, low: float, high: float, unit: str = "") -> Any:
    """A number setting inside its sane range (``inf``, ``nan`` and ``1e308`` are not)."""
    if not (math.isfinite(value) and low <= value <= high):
        raise TraitError(f"{name} must be between {low:g} and {high:g}{unit}, got {value}")
    return value


def _count(value: Any) -> int:
    """A token count from a server's usage; anything but a non-negative int counts as 0."""
    return value if type(value) is int and value >= 0 else 0


def _widget_entry(name: str) -> Callable[..., Any]:
    """A panel's entry point, imported now (ipywidgets is never imported by ``%load_ext``)."""
    try:
        from . import widgets
    except ImportError as err:
        raise UsageError(f"the widget panels are not available ({err})") from None
    func = getattr(widgets, name, None)
    if func is None:
        raise UsageError(
            f"the widget panels are not available yet (zhipu_magic.notebook.widgets.{name} missing)"
        )
    return func


# -- extension entry points -----------------------------------------------------------------------
def load_ipython_extension(ipython: Any) -> None:
    """Register the magics and the two cell-id callbacks; loading twice replaces, never duplicates."""
    unload_ipython_extension(ipython)
    magics = GLMMagics(shell=ipython)
    ipython.register_magics(magics)
    ipython.events.register("pre_run_cell", magics._pre_run_cell)
    ipython.events.register("post_run_cell", magics._post_run_cell)
    ipython._zhipu_magic = magics


def unload_ipython_extension(ipython: Any) -> None:
    """Remove the magics, callbacks and settings object added by :func:`load_ipython_extension`."""
    magics = getattr(ipython, "_zhipu_magic", None)
    if magics is None:
        return
    ledger.set_logging(None)  # the log switch goes back to ZHIPU_MAGIC_LOG
    for event, callback in (("pre_run_cell", magics._pre_run_cell), ("post_run_cell", magics._post_run_cell)):
        try:
            ipython.events.unregister(event, callback)
        except ValueError:
            pass
    table = ipython.magics_manager.magics
    for kind in ("line", "cell"):
        if getattr(table[kind].get("glm"), "__self__", None) is magics:
            del table[kind]["glm"]
    registry = ipython.magics_manager.registry
    if registry.get(type(magics).__name__) is magics:
        del registry[type(magics).__name__]
    if magics in ipython.configurables:
        ipython.configurables.remove(magics)
    del ipython._zhipu_magic
