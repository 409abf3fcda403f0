"""Seeded differential fuzzing: the fast decoder and chunk layer against straightforward references.

The same random streams (LF / CR / CRLF, a CR ending one read and its LF starting the next, a BOM,
comments, event / id / retry / unknown fields, multi-line data, CJK and emoji split across reads,
invalid and truncated UTF-8, empty reads) are cut at random points. The decoder must give exactly
the events of a line-by-line reference written here from the WHATWG text; ``ChatStream`` (over real
HTTP) must give the chunks, text, reasoning, finish reason, usage, error type and ``.partial`` of a
reference chunk layer.
"""

from __future__ import annotations

import json
import random
import re
import socket
import time

import pytest
from rawserver import _ScriptedServer

from zhipu_magic.api.client import GLMClient
from zhipu_magic.api.errors import GLMError, IncompleteStreamError, StreamError
from zhipu_magic.api.sse import Event, SSEDecoder

SEED = 20261202
TEXTS = ["a", "hello", " ", "你好", "👋🏽", "x\u2028y", "\u0085", "é", "{}", "[DONE]x", "data: no", ":"]
EOLS = ["\n", "\r", "\r\n"]


# -- references ----------------------------------------------------------------------------------
def reference_events(stream: bytes) -> list[Event]:
    """WHATWG, literally: decode the whole stream (one BOM dropped), split lines, apply the fields."""
    text = stream.decode("utf-8", errors="replace")
    if text.startswith("\ufeff"):
        text = text[1:]
    lines = re.split("\r\n|\r|\n", text)[:-1]  # the last piece has no line end: never processed
    events: list[Event] = []
    data: list[str] = []
    event, last_id, retry = "", None, None
    for line in lines:
        if line == "":
            if data:
                events.append(Event(event or "message", "\n".join(data), last_id, retry))
            data, event = [], ""
            continue
        if line.startswith(":"):
            continue
        field, colon, value = line.partition(":")
        if colon and value.startswith(" "):
            value = value[1:]
        if field == "data":
            data.append(value)
        elif field == "event":
            event = value
        elif field == "id" and "\0" not in value:
            last_id = value
        elif field == "retry" and value and all(c in "0123456789" for c in value):
            retry = int(value)
    return events


def reference_chunks(events: list[Event]) -> dict:
    """What the chunk layer should make of ``events``."""
    chunks: list[dict] = []
    error: type[GLMError] | None = None
    done = False
    for ev in events:
        if ev.data.strip().startswith("[DONE]"):
            done = True
            break
        try:
            obj = json.loads(ev.data)
        except (ValueError, RecursionError):
            error = StreamError
            break
        if ev.event == "error" or (isinstance(obj, dict) and obj.get("error")):
            error = StreamError
            break
        if not isinstance(obj, dict) or not isinstance(obj.get("choices"), list):
            error = StreamError
            break
        chunks.append(obj)
    content, reasoning, finish, usage = "", "", None, None
    for obj in chunks:
        choice = obj["choices"][0] if obj["choices"] else None
        if isinstance(choice, dict):
            delta = choice.get("delta") or {}
            content += delta.get("content") or ""
            reasoning += delta.get("reasoning_content") or ""
            finish = choice.get("finish_reason") or finish
        usage = obj.get("usage") or usage
    if error is None and not done and finish is None:
        error = IncompleteStreamError
    text = content if content.strip() else ""  # leading whitespace waits for a possible <think>
    return {
        "chunks": chunks,
        "text": text,
        "reasoning": reasoning,
        "finish": finish,
        "usage": usage,
        "error": error,
    }


# -- random streams --------------------------------------------------------------------------------
def random_line(rng: random.Random) -> str:
    kind = rng.random()
    value = "".join(rng.choice(TEXTS) for _ in range(rng.randint(0, 3)))
    if kind < 0.45:
        return rng.choice(["data: ", "data:", "data:  "]) + value
    if kind < 0.55:
        return ""
    if kind < 0.62:
        return ":" + value
    if kind < 0.70:
        return "event: " + rng.choice(["message", "ping", "", "x y"])
    if kind < 0.76:
        return "id: " + rng.choice(["1", "a\0b", "", "☃"])
    if kind < 0.82:
        return "retry: " + rng.choice(["100", "1x", "", "٣"])
    if kind < 0.88:
        return rng.choice(["data", "unknown: q", "event", "id"])
    return rng.choice(["data: " + value, "dat: a", " data: a"])


def encode(rng: random.Random, lines: list[str]) -> bytes:
    out = b"\xef\xbb\xbf" if rng.random() < 0.2 else b""
    for line in lines:
        raw = line.encode()
        if rng.random() < 0.05 and raw:  # invalid or truncated UTF-8 somewhere in the line
            at = rng.randint(0, len(raw))
            raw = raw[:at] + rng.choice([b"\xff", b"\xe4\xb8", b"\xf0\x9f\x91", b"\x80"]) + raw[at:]
        out += raw + rng.choice(EOLS).encode()
    if rng.random() < 0.3:
        out = out[: rng.randint(0, len(out))]  # truncated anywhere
    return out


def cut(rng: random.Random, data: bytes) -> list[bytes]:
    """``data`` in random reads, with empty reads and CR/LF splits among them."""
    points = sorted(rng.randint(0, len(data)) for _ in range(rng.randint(0, 12)))
    crs = [i + 1 for i in range(len(data) - 1) if data[i : i + 2] == b"\r\n"]
    points = sorted(set(points + rng.sample(crs, min(len(crs), 2))))
    pieces, last = [], 0
    for p in points + [len(data)]:
        pieces.append(data[last:p])
        last = p
    return pieces


def test_decoder_matches_the_reference() -> None:
    rng = random.Random(SEED)
    for case in range(3000):
        stream = encode(rng, [random_line(rng) for _ in range(rng.randint(0, 14))])
        pieces = cut(rng, stream)
        decoder = SSEDecoder()
        got: list[Event] = []
        for piece in pieces:
            got.extend(decoder.feed(piece))
        got.extend(decoder.close())
        assert got == reference_events(stream), (case, stream, pieces)


# -- the chunk layer over real HTTP -----------------------------------------------------------------
def random_chunk_stream(rng: random.Random) -> bytes:
    eol = rng.choice(EOLS)
    lines: list[str] = []
    for _ in range(rng.randint(0, 8)):
        r = rng.random()
        delta = {"content": rng.choice(TEXTS)} if r < 0.6 else {"reasoning_content": rng.choice(TEXTS)}
        choice: dict = {"index": 0, "delta": delta}
        body: dict = {"id": "r1", "choices": [choice]}
        if rng.random() < 0.15:
            choice["finish_reason"] = "stop"
            body["usage"] = {"prompt_tokens": rng.randint(0, 9), "completion_tokens": rng.randint(0, 99)}
        payload = json.dumps(body, ensure_ascii=rng.random() < 0.3)
        if rng.random() < 0.15:  # multi-line data: JSON split at a comma is still JSON
            lines += [f"data: {part}" for part in payload.split(",", 1)]
        else:
            lines.append(f"data: {payload}")
        if rng.random() < 0.1:
            lines.append(": keepalive")
        lines.append("")
        if rng.random() < 0.04:
            lines += [
                rng.choice(
                    [
                        'data: {"error": {"code": "1214", "message": "bad"}}',
                        "data: not json",
                        'data: {"no": "choices"}',
                        "event: error\ndata: {}",
                    ]
                ),
                "",
            ]
    if rng.random() < 0.7:
        lines += ["data: [DONE]", "", "data: ignored", ""]
    out = ("\ufeff" if rng.random() < 0.1 else "") + eol.join(lines) + (eol if lines else "")
    data = out.replace("\n", eol) if eol != "\n" else out
    return data.encode()


class PiecesServer(_ScriptedServer):
    """Answers the Nth connection with the Nth list of body pieces, one ``sendall`` each."""

    def __init__(self, bodies: list[list[bytes]]) -> None:
        super().__init__()
        self.bodies = bodies
        self.served = 0

    def _answer(self, conn: socket.socket) -> None:
        pieces = self.bodies[self.served]
        self.served += 1
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\n")
        for piece in pieces:
            if piece:
                conn.sendall(piece)
                time.sleep(0.0002)


@pytest.mark.timeout(60)
def test_chunk_layer_matches_the_reference_over_http() -> None:
    rng = random.Random(SEED + 1)
    streams = [random_chunk_stream(rng) for _ in range(300)]
    bodies = [cut(rng, s) for s in streams]
    with PiecesServer(bodies) as srv:
        client = GLMClient("fuzz.key", srv.base_url, max_retries=0)
        for case, stream in enumerate(streams):
            want = reference_chunks(reference_events(stream))
            got: list[dict] = []
            error: GLMError | None = None
            s = client.stream("hi")
            try:
                for item in s:
                    got.append(item)
            except GLMError as exc:
                error = exc
            where = (case, stream)
            assert got == want["chunks"], (where, error)
            assert type(error) is (want["error"] or type(None)), (where, error)
            assert s.text == want["text"] and s.reasoning == want["reasoning"], where
            assert s.finish_reason == want["finish"] and s.usage == want["usage"], where
            if error is not None:
                assert error.partial == want["text"], where
