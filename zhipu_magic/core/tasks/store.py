"""The persistent async-task store: one small JSON file per task under ``<home>/tasks/``.

Why files and not a database: several kernels (and a restarted one) must see the same tasks, and a
half-written record must never be read. Every write goes to a temp file in the same directory, is
fsynced and ``os.replace``d, so readers always see a whole file without taking any lock.

Status only moves forward: ``PROCESSING`` (or any status string we do not know, stored verbatim and
treated as still pending) -> ``SUCCESS`` | ``FAIL``. A write re-reads the file and merges, so a late
"still PROCESSING" from one kernel never overwrites the ``SUCCESS`` another kernel stored. The merge
alone leaves a read-then-replace window in which two writers could lose an update; a short
``flock`` on ``tasks/.lock`` (where the platform has one) closes it. Readers never lock.

A file that does not parse is renamed aside (``<id>.json.corrupt-<time>``) with one warning, and so is
anything else that is not a plain task record: a link, a FIFO or device (opened without following
links and without blocking, so neither hangs nor streams forever), a file over :data:`MAX_FILE_BYTES`
(never read whole), JSON nested past any sane depth, fields of the wrong type. A home
we cannot write to gives one clear line (:attr:`TaskStore.problem`) and an in-memory store, so the
panel keeps working. The API key is never written: records hold only what we put in and what the
server answered (and the transport never puts the key in a response).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import tempfile
import threading
import time
import warnings
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from .records import (
    FAIL,
    PROCESSING,
    SUCCESS,
    UNKNOWN,
    UnusableRecord,
    failure_reason,
    has_local_assets,
    is_final,
    jsonable,
    merge,
    read_record_file,
    resolve_local_assets,
    shorten,
    stable_local_assets,
)

try:  # POSIX advisory lock; elsewhere the merge-before-write is the only guard
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

_SAFE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")


class TaskStoreWarning(UserWarning):
    """A problem with the task store that does not stop the session (corrupt file, read-only home)."""


class TaskStore:
    """Task records keyed by task id, on disk when possible, in memory otherwise.

    ``problem`` is ``None`` when records are persisted, else one line saying why they are not.
    """

    def __init__(self, home: str | os.PathLike[str] | None = None) -> None:
        if home is None:
            from ...api.config import home_dir

            home = home_dir()
        self.home = Path(home)
        self.directory = self.home / "tasks"
        self.problem: str | None = None
        self._memory: dict[str, dict[str, Any]] = {}
        self._lock = threading.RLock()  # threads of this process (concurrent refresh)
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile(dir=self.directory, prefix=".probe-"):
                pass  # proves we can create files here (mkdir succeeds on an existing read-only dir)
        except OSError as exc:
            self._fall_back(exc)

    # -- public API ---------------------------------------------------------------------------
    @property
    def persistent(self) -> bool:
        """True while records go to disk."""
        return self.problem is None

    def record_submission(
        self,
        response: Mapping[str, Any],
        *,
        kind: str,
        model: str,
        prompt: str,
        base_url: str | None = None,
        **extra: Any,
    ) -> dict[str, Any]:
        """Store a freshly submitted task (call before the first poll, so a wait can be resumed)."""
        task_id = response.get("id")
        if not task_id:
            raise ValueError("the server's answer to a submit has no task id")
        now = time.time()
        record = {
            "id": str(task_id),
            "kind": kind,
            "model": str(response.get("model") or model),
            "prompt": shorten(prompt),
            "submitted": now,
            "updated": now,
            "status": str(response.get("task_status") or PROCESSING),
            "result": None,
            "error": None,
            "last_error": None,
            "polls": 0,
            "request_id": response.get("request_id"),
            "base_url": base_url,
            **extra,
        }
        return self.put(record)

    def apply_result(self, task_id: str, response: Mapping[str, Any]) -> dict[str, Any]:
        """Merge one ``async-result`` answer into the record: status, and the result or reason."""
        raw = response.get("task_status")
        status = str(raw) if isinstance(raw, str) and raw.strip() else UNKNOWN
        now = time.time()
        update: dict[str, Any] = {"id": task_id, "status": status, "updated": now, "last_error": None}
        if status == SUCCESS:
            update["result"] = dict(response)
            update["finished"] = now
        elif status == FAIL:
            update["error"] = failure_reason(response)
            update["result"] = dict(response)
            update["finished"] = now
        return self.put(update, count_poll=True)

    def mark_failed(self, task_id: str, reason: str) -> dict[str, Any]:
        """Final FAIL decided locally (e.g. the server does not know the id)."""
        old = self.get(task_id) or {"id": task_id}
        now = time.time()
        return self.put(
            {**old, "status": FAIL, "error": shorten(reason, 300), "updated": now, "finished": now}
        )

    def note_error(self, task_id: str, message: str) -> dict[str, Any]:
        """A transient polling problem: shown in the list, status unchanged."""
        old = self.get(task_id) or {"id": task_id, "status": PROCESSING}
        return self.put({**old, "last_error": shorten(message, 300), "updated": time.time()})

    def get(self, task_id: str) -> dict[str, Any] | None:
        """The record, or None."""
        if not self.persistent:
            rec = self._memory.get(task_id)
            return _shown(dict(rec)) if rec else None
        rec = self._read(self._path(task_id))
        return _shown(rec) if rec else None

    def list(self, *, pending_only: bool = False) -> list[dict[str, Any]]:
        """All records, newest first."""
        if self.persistent:
            records = [r for r in map(self._read, self._files()) if r and r.get("id")]
        else:
            records = [dict(r) for r in self._memory.values()]
        if pending_only:
            records = [r for r in records if not is_final(r.get("status"))]
        records = [_shown(r) for r in records]
        return sorted(records, key=lambda r: float(r.get("submitted") or 0), reverse=True)

    def pending(self) -> list[dict[str, Any]]:
        """Records still worth polling, newest first."""
        return self.list(pending_only=True)

    def delete(self, task_id: str) -> bool:
        """Forget a task (the task panel's delete); True when there was one. The task itself, on the
        server, is not affected."""
        with self._lock:
            if not self.persistent:
                return self._memory.pop(str(task_id), None) is not None
            with self._dir_lock():
                try:
                    self._path(task_id).unlink()
                except FileNotFoundError:
                    return False
                except OSError as exc:
                    self._fall_back(exc)
                    return self._memory.pop(str(task_id), None) is not None
            return True

    def put(self, record: Mapping[str, Any], *, count_poll: bool = False) -> dict[str, Any]:
        """Merge ``record`` into the stored one (status never backwards) and return the result.

        ``count_poll`` adds one to ``polls`` inside the write lock, so concurrent pollers lose no count.
        """
        record = jsonable(dict(record))
        task_id = str(record["id"])
        with self._lock:
            if self.persistent:
                try:
                    return _shown(self._put_file(task_id, record, count_poll))
                except OSError as exc:
                    self._fall_back(exc)
            merged = self._merge(self._memory.get(task_id), record, count_poll)
            self._memory[task_id] = merged
            return _shown(dict(merged))

    @staticmethod
    def _merge(disk: dict[str, Any] | None, record: dict[str, Any], count_poll: bool) -> dict[str, Any]:
        if count_poll:
            record = {**record, "polls": int((disk or {}).get("polls") or 0) + 1}
        return stable_local_assets(merge(disk, record))

    # -- disk ---------------------------------------------------------------------------------
    def _path(self, task_id: str) -> Path:
        """File name for an id; ids that are not filename-safe are hashed (the id lives inside)."""
        task_id = str(task_id)
        if _SAFE_ID.fullmatch(task_id):
            return self.directory / f"{task_id}.json"
        return self.directory / f"x-{hashlib.sha256(task_id.encode()).hexdigest()[:32]}.json"

    def _files(self) -> list[Path]:
        try:
            return [p for p in self.directory.iterdir() if p.suffix == ".json" and not p.name.startswith(".")]
        except OSError:
            return []

    def _read(self, path: Path) -> dict[str, Any] | None:
        try:
            return read_record_file(path)
        except UnusableRecord as why:
            self._set_aside(path, str(why))
        except OSError:
            pass
        return None

    def _set_aside(self, path: Path, why: str = "not valid JSON") -> None:
        stamp = time.strftime("%Y%m%dT%H%M%S")
        target = path.with_name(f"{path.name}.corrupt-{stamp}-{os.getpid()}")
        try:
            os.replace(path, target)
        except FileNotFoundError:
            return  # another process already moved it (and warned)
        except OSError:
            target = path
        warnings.warn(
            f"zhipu_magic task store: {path.name} was not a usable task record ({why}); "
            f"moved aside to {target.name}",
            TaskStoreWarning,
            stacklevel=4,
        )

    @contextlib.contextmanager
    def _dir_lock(self) -> Iterator[None]:
        if fcntl is None:
            yield
            return
        fd = os.open(self.directory / ".lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # closing releases the lock

    def _put_file(self, task_id: str, record: dict[str, Any], count_poll: bool) -> dict[str, Any]:
        path = self._path(task_id)
        with self._dir_lock():
            merged = self._merge(self._read(path), record, count_poll)
            data = json.dumps(merged, ensure_ascii=False, indent=1, sort_keys=True).encode("utf-8")
            fd, tmp = tempfile.mkstemp(dir=self.directory, prefix=f".{path.name}.", suffix=".tmp")
            try:
                with os.fdopen(fd, "wb") as fh:
                    fh.write(data)
                    fh.flush()
                    os.fsync(fh.fileno())
                os.replace(tmp, path)
            except BaseException:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)
                raise
        return merged

    def _fall_back(self, exc: OSError) -> None:
        """Switch to memory (keeping what we can read) with one clear line."""
        if self.problem is not None:
            return
        kept = {} if not self.directory.is_dir() else {r["id"]: r for r in self.list()}
        reason = exc.strerror or type(exc).__name__
        self.problem = (
            f"zhipu_magic: cannot write the task store at {self.directory} ({reason}); "
            "tasks are kept in memory for this session only. Set ZHIPU_MAGIC_HOME to a writable directory."
        )
        self._memory.update(kept)
        warnings.warn(self.problem, TaskStoreWarning, stacklevel=3)


def _shown(record: dict[str, Any]) -> dict[str, Any]:
    """The record as callers see it: ``zhipu-local:`` asset links point at the local server running
    now (started if needed: the server that made them is gone after a restart)."""
    if not has_local_assets(record):
        return record
    from ...api import inprocess

    base = record.get("base_url")
    if not inprocess.is_local(base):  # the server that made them is gone: the one running now
        from ..backend import local_server_url

        base = local_server_url()
    return resolve_local_assets(record, str(base))


_STORES: dict[Path, TaskStore] = {}
_STORES_LOCK = threading.Lock()


def get_store(home: str | os.PathLike[str] | None = None) -> TaskStore:
    """The process-wide store for ``home`` (default: ``ZHIPU_MAGIC_HOME`` as it is now)."""
    if home is None:
        from ...api.config import home_dir

        home = home_dir()
    key = Path(home).expanduser().absolute()
    with _STORES_LOCK:
        store = _STORES.get(key)
        if store is None:
            store = _STORES[key] = TaskStore(key)
        return store
