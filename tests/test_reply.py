"""Reply: chunk accumulation, the <think> split (at every cut), usage, finish reasons."""

from __future__ import annotations

import itertools

import pytest

from zhipu_magic.core.reply import Reply


def chunk(content=None, reasoning=None, finish=None, usage=None, tool_calls=None):
    delta = {"role": "assistant"}
    if content is not None:
        delta["content"] = content
    if reasoning is not None:
        delta["reasoning_content"] = reasoning
    if tool_calls is not None:
        delta["tool_calls"] = tool_calls
    choice = {"index": 0, "delta": delta}
    if finish is not None:
        choice["finish_reason"] = finish
    out = {"id": "req1", "model": "glm-4-flash", "choices": [choice]}
    if usage is not None:
        out["usage"] = usage
    return out


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def feed(pieces, **kw):
    reply = Reply("glm-z1-flash", [{"role": "user", "content": "hi"}], **kw)
    for piece in pieces:
        reply.add_chunk(chunk(piece))
    reply.finish()
    return reply


def test_plain_stream_and_final_chunk():
    clock = Clock()
    reply = Reply("glm-4-flash", [{"role": "user", "content": "hi"}], clock=clock)
    assert reply.text == "" and reply.reasoning == "" and not reply.answering
    clock.now += 0.5
    reply.add_chunk(chunk(reasoning="Let me "))
    reply.add_chunk(chunk(reasoning="think.", content=""))
    assert reply.reasoning == "Let me think." and not reply.answering
    clock.now += 1.0
    for piece in ("Hello", ", ", "world"):
        reply.add_chunk(chunk(piece))
    usage = {
        "prompt_tokens": 5,
        "completion_tokens": 20,
        "completion_tokens_details": {"reasoning_tokens": 4},
    }
    reply.add_chunk(chunk("", finish="stop", usage=usage))
    clock.now += 1.0
    reply.finish()
    assert reply.text == "Hello, world"
    assert reply.answering and reply.finish_reason == "stop" and reply.usage == usage
    assert reply.first_token_at == 100.5 and reply.elapsed == pytest.approx(2.5)
    assert reply.tokens_per_second() == pytest.approx(10.0)
    assert reply.request_id == "req1" and reply.chunks == 6
    assert str(reply) == "Hello, world"
    assert "Hello, world" in repr(reply) and "stop" in repr(reply)


def test_think_block_in_content():
    reply = feed(["<think>", "step 1\nstep 2", "</think>", "\n\n", "The answer."])
    assert reply.reasoning == "step 1\nstep 2"
    assert reply.text == "The answer."


@pytest.mark.parametrize(
    "text", ["  <think>abc</think>\n\nAnswer <b> x", "<think></think>Hi", "<think>no end"]
)
def test_think_split_at_every_cut(text):
    whole = feed([text])
    for i, j in itertools.combinations(range(1, len(text)), 2):
        split = feed([text[:i], text[i:j], text[j:]])
        assert (split.text, split.reasoning) == (whole.text, whole.reasoning), (i, j)
    for pieces in ([c for c in text],):
        assert (feed(pieces).text, feed(pieces).reasoning) == (whole.text, whole.reasoning)


def test_think_results():
    assert (feed(["<think>no end"]).reasoning, feed(["<think>no end"]).text) == ("no end", "")
    reply = feed(["  <think>abc</think>\n\nAnswer <b> x"])
    assert (reply.reasoning, reply.text) == ("abc", "Answer <b> x")


def test_think_only_at_the_start():
    reply = feed(["Use ", "<think>tags</think> like this"])
    assert reply.reasoning == ""
    assert reply.text == "Use <think>tags</think> like this"


def test_partial_open_tag_that_is_not_a_tag():
    assert feed(["<th", "ere"]).text == "<there"
    assert feed(["<thi"]).text == "<thi"
    assert feed(["   "]).text == ""


def test_tool_call_fragments_join():
    reply = Reply("glm-4.6", [])
    reply.add_chunk(
        chunk(
            tool_calls=[
                {
                    "index": 0,
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "weather", "arguments": '{"ci'},
                }
            ]
        )
    )
    reply.add_chunk(chunk(tool_calls=[{"index": 0, "function": {"arguments": 'ty":"X"}'}}]))
    reply.add_chunk(chunk(finish="tool_calls"))
    assert reply.tool_calls == [
        {"id": "call_1", "type": "function", "function": {"name": "weather", "arguments": '{"city":"X"}'}}
    ]
    assert reply.finish_reason == "tool_calls"


def test_set_response_sync_and_async():
    reply = Reply("glm-4-flash", [])
    reply.set_response(
        {
            "id": "r1",
            "model": "glm-4-air",
            "choices": [
                {
                    "finish_reason": "length",
                    "message": {"content": "<think>hm</think>Done", "role": "assistant"},
                }
            ],
            "usage": {"prompt_tokens": 1, "completion_tokens": 2},
        }
    )
    assert (reply.text, reply.reasoning, reply.model, reply.finish_reason) == (
        "Done",
        "hm",
        "glm-4-air",
        "length",
    )
    assert reply.done and reply.task_id is None

    task = Reply("glm-4-flash", [])
    task.set_response(
        {
            "id": "t1",
            "task_status": "SUCCESS",
            "model": "glm-4-flash",
            "choices": [{"finish_reason": "stop", "message": {"content": "ok", "reasoning_content": "r"}}],
        }
    )
    assert (task.text, task.reasoning, task.task_id) == ("ok", "r", "t1")


def test_parse_json_with_and_without_fence():
    assert feed(['{"a": [1, 2]}']).parse_json() == {"a": [1, 2]}
    reply = feed(['```json\n{"a": 1}\n```'])
    assert reply.parse_json() == {"a": 1} and reply.parsed == {"a": 1}
    with pytest.raises(ValueError):
        feed(["not json"]).parse_json()


def test_hot_path_is_cheap():
    import time

    reply = Reply("m", [])
    pieces = [chunk(f"tok{i} ") for i in range(50_000)]
    t0 = time.perf_counter()
    for c in pieces:
        reply.add_chunk(c)
    spent = time.perf_counter() - t0
    assert len(reply.text) == sum(len(f"tok{i} ") for i in range(50_000))
    assert spent < 0.5  # ~1-2 us per chunk; generous bound for slow CI


MALFORMED_CHUNKS = [
    {"choices": [None]},
    {"choices": ["x"]},
    {"choices": [{"delta": "str"}]},
    {"choices": [{"index": 0, "delta": {"content": 5}}]},
    {"choices": [{"index": 0, "delta": {"reasoning_content": ["a"]}}]},
    {"choices": [{"index": 0, "delta": {"tool_calls": "nope"}}]},
    {"choices": [{"index": 0, "delta": {"tool_calls": [None, {"index": 10**9, "function": "f"}]}}]},
    {"choices": [{"index": 0, "delta": {"content": ""}}], "usage": ["not", "a", "dict"]},
]


@pytest.mark.parametrize("bad", MALFORMED_CHUNKS, ids=range(len(MALFORMED_CHUNKS)))
def test_malformed_chunks_are_skipped_and_the_text_survives(bad) -> None:
    """Be tolerant in what we accept: an unreadable element never costs the text received."""
    reply = Reply("m", [])
    reply.add_chunk({"choices": [{"index": 0, "delta": {"content": "hello "}}]})
    reply.add_chunk(bad)
    reply.add_chunk({"choices": [{"index": 0, "delta": {"content": "world"}, "finish_reason": "stop"}]})
    reply.finish()
    assert reply.text == "hello world" and reply.finish_reason == "stop"
    assert reply.usage is None or isinstance(reply.usage, dict)
    assert len(reply.tool_calls) <= 1


def test_malformed_sync_response_is_tolerated() -> None:
    for resp in ({"choices": [None]}, {"choices": "x"}, {"choices": [{"message": "s"}]}, {"usage": 3}):
        reply = Reply("m", [])
        reply.set_response(resp)
        assert reply.text == "" and reply.usage is None
