"""What each row asks, and what the call log already answered: the request of every row (built by
:mod:`zhipu_magic.api.calls`, so it is what a dry run would show), its hash in the call log, and the
rows whose identical request already has a recorded answer (the resume: those are not sent again).
"""

from __future__ import annotations

import json
import re
import warnings
from dataclasses import dataclass, field
from typing import Any

from ...api import calls
from ...api.calls import Request
from .. import ledger
from .data import Rows, prompt_for
from .result import MapResult, RowError, RowInfo

_FENCE = re.compile(r"^\s*```[A-Za-z]*\s*\n(.*)\n\s*```\s*$", re.S)


@dataclass
class Job:
    """The settings of one run (the client, who answers, the request parameters)."""

    client: Any
    local: bool
    model: str
    system: str | None = None
    json: bool = False
    concurrency: int = 8
    params: dict[str, Any] = field(default_factory=dict)
    log: bool = True  # record each answer in the call log (and resume from it)
    context: dict[str, Any] = field(default_factory=dict)  # more call-log columns (cell_id, notebook)

    @property
    def base_url(self) -> str:
        return str(self.client.base_url)

    def request(self, prompt: str) -> Request:
        messages: list[dict[str, Any]] = [{"role": "user", "content": prompt}]
        if self.system:
            messages.insert(0, {"role": "system", "content": self.system})
        params = dict(self.params)
        if self.json:
            params.setdefault("response_format", {"type": "json_object"})
        return calls.chat(messages, self.model, **params)


def build_requests(job: Job, template: str, rows: Rows) -> tuple[list[Request], list[str]]:
    """Every row's request, and a note for placeholders no row could fill (sent as typed)."""
    requests, missing = [], []
    for space in rows.spaces:
        prompt, left = prompt_for(template, space)
        requests.append(job.request(prompt))
        missing += [name for name in left if name not in missing]
    notes = []
    if missing:
        shown = ", ".join(missing[:5]) + (" ..." if len(missing) > 5 else "")
        notes.append(f"note: {shown} matched no field of some rows, so sent as typed")
    return requests, notes


def parse_answer(text: str, as_json: bool) -> Any:
    """The row's value: the text, or with ``json`` the parsed object (a RowError if it is not JSON)."""
    if not as_json:
        return text
    fenced = _FENCE.match(text)
    try:
        return json.loads(fenced.group(1) if fenced else text)
    except ValueError as err:
        return RowError("json", f"the answer is not JSON ({err}): {text[:120]!r}")


def resume(job: Job, requests: list[Request], result: MapResult) -> list[int]:
    """Fill ``result`` with the rows the call log already answered; the positions still to send."""
    if not (job.log and ledger.logging_enabled()):
        return list(range(len(requests)))
    from ..ledger.query import find_answer
    from ..ledger.records import backend_name, request_hash

    backend = backend_name(job.base_url, job.local)
    try:
        book = ledger.get_ledger()
    except Exception as exc:  # a broken log never stops a run: everything is sent
        warnings.warn(f"the call log cannot be read, so every row is sent ({exc})", stacklevel=3)
        return list(range(len(requests)))
    pending = []
    for index, request in enumerate(requests):
        found = find_answer(book, request_hash(request.body, backend))
        if found is None:
            pending.append(index)
            continue
        result[index] = parse_answer(found.get("answer") or "", job.json)
        result.info[index] = RowInfo(_usage(found.get("usage")), 0, 0.0, True, found.get("id"))
    return pending


def _usage(text: Any) -> dict[str, Any] | None:
    try:
        usage = json.loads(text) if isinstance(text, str) else None
    except ValueError:
        return None
    return usage if isinstance(usage, dict) else None
