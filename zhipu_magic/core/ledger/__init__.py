"""The ledger: every model call recorded in SQLite under ``ZHIPU_MAGIC_HOME``.

- :mod:`.db`: the database (WAL, short transactions, schema version and migrations, the memory
  fallback), :class:`~.db.Ledger`.
- :mod:`.records`: what a record is, and :func:`~.records.request_hash` (replay and ``map``'s resume).
- :mod:`.query`: listing and search, one record, totals by model / day / notebook, replay lookup.
- :mod:`.prices`: what a call cost, where the price is known.

Importing this package is cheap (``sqlite3`` loads with the first record), so ``%load_ext`` may read
the switches below. :func:`record` is the one call every caller makes (cells, the chat panel, ``map``,
batch rows): it never raises and never stores a key.
"""

from __future__ import annotations

import os
import threading
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .db import Ledger

LOG_ENV_VAR = "ZHIPU_MAGIC_LOG"  # off / 0 / false: record nothing
REPLAY_ENV_VAR = "ZHIPU_MAGIC_REPLAY"  # on / 1 / true: answer identical requests from the log

_OFF = ("0", "off", "false", "no")
_ON = ("1", "on", "true", "yes")
_SWITCH: dict[str, bool | None] = {"log": None}
_LEDGERS: dict[Path, Ledger] = {}
_LOCK = threading.Lock()


def env_flag(name: str, default: bool) -> bool:
    """An on/off environment variable (``on``/``off``, ``1``/``0``, ``true``/``false``, ``yes``/``no``)."""
    value = os.environ.get(name, "").strip().lower()
    return True if value in _ON else False if value in _OFF else default


def logging_enabled() -> bool:
    """Whether calls are recorded: :func:`set_logging` if called, else ``ZHIPU_MAGIC_LOG`` (default on)."""
    chosen = _SWITCH["log"]
    return env_flag(LOG_ENV_VAR, True) if chosen is None else chosen


def set_logging(on: bool | None) -> None:
    """Switch recording on or off for this process (``None``: back to the environment variable)."""
    _SWITCH["log"] = on


def get_ledger(home: str | os.PathLike[str] | None = None) -> Ledger:
    """The process-wide ledger of ``home`` (default: ``ZHIPU_MAGIC_HOME`` as it is now)."""
    from ...api.config import home_dir
    from .db import FILENAME, Ledger

    path = (Path(home) if home is not None else home_dir()).expanduser().absolute() / FILENAME
    with _LOCK:
        found = _LEDGERS.get(path)
        if found is None:
            found = _LEDGERS[path] = Ledger(path)
        return found


def record(
    answer: Any,
    body: Mapping[str, Any] | None,
    *,
    kind: str,
    local: bool = False,
    base_url: str | None = None,
    once_per_task: bool = False,
    **context: Any,
) -> int | None:
    """Record one call (``answer``: an ``Answer``/``Reply``; ``body``: the request JSON) and return its
    log id; ``None`` when logging is off or the record could not be made (one warning, never raised).

    ``context`` fills other columns: ``conversation``, ``cell_id``, ``notebook``, ``task_id``...
    ``once_per_task``: when a row of the same ``task_id`` is already there, nothing is added and its
    id is returned (checked in the insert's own transaction, so two kernels cannot both add one).
    The chat panel: ``record(reply, request.body, kind="chat_panel", local=local,
    base_url=client.base_url, conversation=name)``.
    """
    if not logging_enabled():
        return None
    from .records import backend_name, make_record

    try:
        row = make_record(answer, body, kind=kind, backend=backend_name(base_url, local), **context)
        return get_ledger().add(row, once_per_task=once_per_task)
    except Exception as exc:  # the log must never break a cell
        warnings.warn(f"this call was not logged ({type(exc).__name__}: {exc})", stacklevel=2)
        return None


__all__ = [
    "LOG_ENV_VAR",
    "REPLAY_ENV_VAR",
    "env_flag",
    "get_ledger",
    "logging_enabled",
    "record",
    "set_logging",
]
