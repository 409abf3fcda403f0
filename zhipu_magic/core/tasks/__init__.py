"""Async tasks: what a record is (``records``), the persistent store (``store``), the HTTP side
that submits and polls (``polling``), and Batch API jobs kept as tasks (``batches``).

``from zhipu_magic.core import tasks`` gives both; the same names are public on ``zhipu_magic``.
"""

from .batches import batch_summary, cancel_batch, poll_batch
from .polling import (
    AutoRefresher,
    arefresh,
    poll_task,
    refresh,
    run_sync,
    submit_request,
    submit_task,
    wait_for_task,
)
from .records import FAIL, PROCESSING, SUCCESS, is_final, reply_from_record
from .store import TaskStore, TaskStoreWarning, get_store

__all__ = [
    "FAIL",
    "PROCESSING",
    "SUCCESS",
    "AutoRefresher",
    "TaskStore",
    "TaskStoreWarning",
    "arefresh",
    "batch_summary",
    "cancel_batch",
    "get_store",
    "is_final",
    "poll_batch",
    "poll_task",
    "refresh",
    "reply_from_record",
    "run_sync",
    "submit_request",
    "submit_task",
    "wait_for_task",
]
