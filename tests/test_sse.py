"""The byte-level SSE decoder: splits, line endings, encodings and WHATWG field rules."""

from __future__ import annotations

import json

import pytest

from zhipu_magic.api.sse import Event, SSEDecoder, iter_events


def _chunk(content: str | None = None, reasoning: str | None = None, **extra: object) -> bytes:
    delta: dict[str, object] = {"role": "assistant"}
    if reasoning is not None:
        delta["reasoning_content"] = reasoning
    if content is not None:
        delta["content"] = content
    choice: dict[str, object] = {"index": 0, "delta": delta, **extra}
    body = {
        "id": "202603130502478edacc33fd1444be",
        "created": 1773349367,
        "object": "chat.completion.chunk",
        "model": "glm-4.7-flash",
        "choices": [choice],
    }
    return b"data: " + json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode() + b"\n\n"


REALISTIC = (
    _chunk(reasoning="用户想要问候", content="")
    + _chunk(content="你好，")
    + _chunk(content=" friend 👋🏽")
    + _chunk(content="\u2028line\u2029sep\u0085nel")
    + _chunk(content="", finish_reason="stop")
    + b"data: [DONE]\n\n"
)


def decode_all(*parts: bytes) -> list[Event]:
    decoder = SSEDecoder()
    events: list[Event] = []
    for part in parts:
        events.extend(decoder.feed(part))
    events.extend(decoder.close())
    return events


def datas(events: list[Event]) -> list[str]:
    return [e.data for e in events]


def test_realistic_stream_whole() -> None:
    events = decode_all(REALISTIC)
    assert len(events) == 6
    assert events[-1] == Event("message", "[DONE]", None, None)
    payloads = [json.loads(e.data) for e in events[:-1]]
    text = "".join(p["choices"][0]["delta"].get("content", "") for p in payloads)
    assert text == "你好， friend 👋🏽\u2028line\u2029sep\u0085nel"


def test_every_frame_split_at_every_offset_gives_identical_events() -> None:
    expected = decode_all(REALISTIC)
    for offset in range(len(REALISTIC) + 1):
        assert decode_all(REALISTIC[:offset], REALISTIC[offset:]) == expected, offset


def test_byte_by_byte_gives_identical_events() -> None:
    expected = decode_all(REALISTIC)
    assert decode_all(*(REALISTIC[i : i + 1] for i in range(len(REALISTIC)))) == expected


@pytest.mark.parametrize("text", ["中文字符测试", "emoji 😀🎉👨‍👩‍👧", "mixed 日本語 and 🚀 rocket"])
def test_multibyte_split_at_every_offset(text: str) -> None:
    raw = b"data: " + text.encode() + b"\n\n"
    for offset in range(len(raw) + 1):
        events = decode_all(raw[:offset], raw[offset:])
        assert datas(events) == [text], offset
        assert "\ufffd" not in events[0].data


def test_three_way_splits_of_cjk() -> None:
    raw = b"data: \xe4\xbd\xa0\xe5\xa5\xbd\r\n\r\n"
    for i in range(len(raw) + 1):
        for j in range(i, len(raw) + 1):
            assert datas(decode_all(raw[:i], raw[i:j], raw[j:])) == ["你好"], (i, j)


@pytest.mark.parametrize(
    "raw",
    [
        b"data: a\n\ndata: b\n\n",
        b"data: a\r\n\r\ndata: b\r\n\r\n",
        b"data: a\r\rdata: b\r\r",
        b"data: a\r\n\ndata: b\n\r\n",
        b"data: a\r\r\ndata: b\n\r",
    ],
)
def test_line_endings(raw: bytes) -> None:
    assert datas(decode_all(raw)) == ["a", "b"]
    for offset in range(len(raw) + 1):
        assert datas(decode_all(raw[:offset], raw[offset:])) == ["a", "b"], offset


def test_crlf_split_across_two_feeds_is_one_line_break() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"data: a\r") == []
    assert decoder.feed(b"\n") == []  # the LF completes the CRLF, it is not a blank line
    assert decoder.feed(b"\r") == [Event("message", "a", None, None)]
    assert decoder.feed(b"\ndata: b\n\n") == [Event("message", "b", None, None)]


def test_cr_then_blank_line_in_next_feed() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"data: a\r") == []
    assert datas(decoder.feed(b"\r")) == ["a"]


@pytest.mark.parametrize("char", ["\u2028", "\u2029", "\u0085"])
def test_unicode_line_separators_inside_json_are_not_breaks(char: str) -> None:
    payload = json.dumps({"content": f"one{char}two"}, ensure_ascii=False)
    raw = f"data: {payload}\n\n".encode()
    events = decode_all(raw)
    assert len(events) == 1
    assert json.loads(events[0].data)["content"] == f"one{char}two"


def test_leading_bom_dropped_once() -> None:
    raw = b"\xef\xbb\xbfdata: a\n\n\xef\xbb\xbfdata: b\n\n"
    events = decode_all(raw)
    assert events[0].data == "a"
    # a BOM later in the stream is not a BOM: the field name no longer reads "data"
    assert len(events) == 1
    for offset in range(4):
        assert datas(decode_all(raw[:offset], raw[offset:]))[:1] == ["a"]


def test_invalid_utf8_replaced_and_stream_goes_on() -> None:
    events = decode_all(b"data: bad \xff\xfe here\n\ndata: ok\n\n")
    assert datas(events) == ["bad \ufffd\ufffd here", "ok"]


def test_comments_unknown_fields_and_no_space() -> None:
    raw = b": keepalive\n\nfoo: bar\nbaz\ndata:nospace\n\n:another comment\ndata:  two spaces\n\n"
    assert datas(decode_all(raw)) == ["nospace", " two spaces"]


def test_multiline_data_joined_with_newline() -> None:
    assert datas(decode_all(b"data: first\ndata: second\ndata\n\n")) == ["first\nsecond\n"]


def test_event_id_retry_fields() -> None:
    events = decode_all(b"event: error\nid: 7\nretry: 1500\ndata: {}\n\ndata: x\n\nretry: soon\nid: a\0b\n")
    assert events[0] == Event("error", "{}", "7", 1500)
    assert events[1] == Event("message", "x", "7", 1500)  # id persists, event type resets


def test_empty_data_field_dispatches_empty_string() -> None:
    assert datas(decode_all(b"data:\n\n")) == [""]


def test_blank_lines_without_data_dispatch_nothing() -> None:
    assert decode_all(b"\n\n\r\n: c\n\nevent: x\n\n") == []


def test_incomplete_event_at_eof_discarded() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"data: full\n\ndata: half") == [Event("message", "full", None, None)]
    assert decoder.pending
    assert decoder.close() == []
    assert not decoder.pending


def test_iter_events_yields_as_chunks_arrive() -> None:
    seen: list[str] = []

    def chunks():
        yield b"data: one\n\n"
        seen.append("pulled-2")
        yield b"data: two\n\n"

    it = iter_events(chunks())
    assert next(it).data == "one"
    assert seen == []  # the first event came out before the second chunk was pulled
    assert next(it).data == "two"
    assert list(it) == []


def test_a_long_line_in_small_reads_decodes_in_linear_time() -> None:
    """4 MB in 1 KB reads: each read is scanned once, the unfinished line is never rescanned."""
    import time

    from zhipu_magic.api.sse import MAX_LINE

    payload = b"x" * (4 * 1024 * 1024)
    decoder = SSEDecoder()
    t0 = time.perf_counter()
    assert decoder.feed(b"data: ") == []
    for i in range(0, len(payload), 1024):
        assert decoder.feed(payload[i : i + 1024]) == []
    events = decoder.feed(b"\n\n")
    assert time.perf_counter() - t0 < 1.0
    assert len(events) == 1 and len(events[0].data) == len(payload) < MAX_LINE


@pytest.mark.parametrize("parts", [[b"data: " + b"y" * 2000], [b"data: "] + [b"y" * 700] * 3])
def test_a_line_past_the_cap_is_a_typed_error(parts: list[bytes]) -> None:
    from zhipu_magic.api.sse import LineTooLongError

    decoder = SSEDecoder(max_line=1024)
    with pytest.raises(LineTooLongError):
        for part in parts:
            decoder.feed(part)


def test_an_event_of_many_lines_past_the_cap_is_a_typed_error() -> None:
    from zhipu_magic.api.sse import LineTooLongError

    decoder = SSEDecoder(max_line=1024)
    with pytest.raises(LineTooLongError):
        decoder.feed(b"\n".join([b"data: " + b"z" * 100] * 20) + b"\n")
