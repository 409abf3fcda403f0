"""The local server speaks the v4 wire format byte for byte, injects faults on demand, and is fast
enough to be used as the fixture of every other test."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import requests

from zhipu_magic.api.models import MODELS, get_model
from zhipu_magic.server import LocalServer, start_local_server
from zhipu_magic.server.answers import intents as answer_intents
from zhipu_magic.server.answers import plan as answers

KEY = "abc123.secretXYZ"
AUTH = {"Authorization": f"Bearer {KEY}"}


def chat_body(prompt: str, model: str = "glm-4-flash", **extra: Any) -> dict[str, Any]:
    return {"model": model, "messages": [{"role": "user", "content": prompt}], **extra}


def post(srv: LocalServer, path: str, body: Any, headers: dict[str, str] | None = None, **kw: Any):
    return requests.post(
        f"{srv.base_url}/{path}", json=body, headers=AUTH if headers is None else headers, **kw
    )


def raw_exchange(srv: LocalServer, path: str, body: dict[str, Any], headers: str = "") -> tuple[bytes, bytes]:
    """Send one HTTP/1.1 request on a raw socket; return (head, body-with-chunk-framing)."""
    data = json.dumps(body).encode()
    req = (
        f"POST /api/paas/v4/{path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {KEY}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(data)}\r\nConnection: close\r\n{headers}\r\n"
    ).encode() + data
    with socket.create_connection(("127.0.0.1", srv.port), timeout=10) as s:
        s.sendall(req)
        buf = b""
        while chunk := s.recv(65536):
            buf += chunk
    head, _, rest = buf.partition(b"\r\n\r\n")
    return head, rest


def dechunk(raw: bytes) -> list[bytes]:
    """Split a chunked body into its chunks (checking the framing) and drop the terminator."""
    chunks = []
    while True:
        size_line, _, raw = raw.partition(b"\r\n")
        size = int(size_line, 16)
        if size == 0:
            assert raw == b"\r\n"
            return chunks
        chunks.append(raw[:size])
        assert raw[size : size + 2] == b"\r\n"
        raw = raw[size + 2 :]


def sse_payloads(resp: requests.Response) -> list[str]:
    text = resp.content.decode("utf-8")
    assert text.endswith("\n\n")
    frames = text[:-2].split("\n\n")
    assert all(f.startswith("data: ") and "\n" not in f for f in frames)
    return [f[len("data: ") :] for f in frames]


def stream_json(srv: LocalServer, body: dict[str, Any]) -> list[dict[str, Any]]:
    r = post(srv, "chat/completions", {**body, "stream": True})
    assert r.status_code == 200
    payloads = sse_payloads(r)
    assert payloads[-1] == "[DONE]"
    return [json.loads(p) for p in payloads[:-1]]


# --- wire format ---------------------------------------------------------------------------------


def test_sync_completion_shape(server: LocalServer) -> None:
    before = int(time.time())
    r = post(server, "chat/completions", chat_body("Explain recursion"))
    assert r.status_code == 200
    assert r.headers["Content-Type"] == "application/json; charset=UTF-8"
    assert int(r.headers["Content-Length"]) == len(r.content)
    body = r.json()
    assert body["id"] == body["request_id"]
    assert re.fullmatch(r"\d{14}[0-9a-f]{16}", body["id"])
    assert before <= body["created"] <= int(time.time()) + 1
    assert body["model"] == "glm-4-flash" and body["object"] == "chat.completion"
    choice = body["choices"][0]
    assert choice["finish_reason"] == "stop" and choice["index"] == 0
    assert choice["message"]["role"] == "assistant" and choice["message"]["content"]
    assert "reasoning_content" not in choice["message"]
    usage = body["usage"]
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"] > 0
    assert b"\\u" not in r.content  # UTF-8 on the wire, not ASCII escapes


def test_request_id_is_echoed(server: LocalServer) -> None:
    body = post(server, "chat/completions", chat_body("hi", request_id="my-req-1")).json()
    assert body["request_id"] == "my-req-1" and body["id"] != "my-req-1"


def test_stream_wire_bytes(server: LocalServer) -> None:
    head, raw = raw_exchange(server, "chat/completions", {**chat_body("Explain recursion"), "stream": True})
    lines = head.decode().split("\r\n")
    assert lines[0] == "HTTP/1.1 200 OK"
    hdrs = {k.lower(): v.strip() for k, _, v in (ln.partition(":") for ln in lines[1:])}
    assert hdrs["content-type"] == "text/event-stream;charset=UTF-8"
    assert hdrs["transfer-encoding"] == "chunked" and "content-length" not in hdrs
    chunks = dechunk(raw)
    # one SSE frame per HTTP chunk, nothing else on the wire
    assert all(re.fullmatch(rb"data: [^\n]+\n\n", c) for c in chunks)
    assert chunks[-1] == b"data: [DONE]\n\n"
    events = [json.loads(c[6:]) for c in chunks[:-1]]
    compact = [json.dumps(e, ensure_ascii=False, separators=(",", ":")).encode() for e in events]
    assert [c[6:-2] for c in chunks[:-1]] == compact
    ids = {e["id"] for e in events}
    assert len(ids) == 1
    for e in events:
        assert e["object"] == "chat.completion.chunk" and e["model"] == "glm-4-flash"
        assert e["choices"][0]["delta"]["role"] == "assistant"
    *middle, last = events
    assert all("finish_reason" not in e["choices"][0] and "usage" not in e for e in middle)
    assert last["choices"][0]["finish_reason"] == "stop"
    assert last["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    assert last["usage"]["completion_tokens"] == len(middle)
    text = "".join(e["choices"][0]["delta"]["content"] for e in middle)
    sync = post(server, "chat/completions", chat_body("Explain recursion")).json()
    assert text == sync["choices"][0]["message"]["content"]
    assert last["usage"]["completion_tokens"] == sync["usage"]["completion_tokens"]


def test_chunks_are_small_and_utf8_safe(server: LocalServer) -> None:
    events = stream_json(server, chat_body("请解释递归 with a table 🙂"))
    pieces = [e["choices"][0]["delta"]["content"] for e in events[:-1]]
    assert len(pieces) > 20 and max(len(p.strip()) for p in pieces) <= 6
    text = "".join(pieces)
    assert "\ufffd" not in text and re.search(r"[\u4e00-\u9fff]", text)


def test_keep_alive_serves_several_requests_on_one_connection(server: LocalServer) -> None:
    with requests.Session() as s:
        for prompt in ("a", "b", "c"):
            r = s.post(f"{server.base_url}/chat/completions", json=chat_body(prompt), headers=AUTH)
            assert r.status_code == 200
        r = s.post(
            f"{server.base_url}/chat/completions", json={**chat_body("d"), "stream": True}, headers=AUTH
        )
        assert r.content.endswith(b"data: [DONE]\n\n")
        assert s.post(f"{server.base_url}/chat/completions", json=chat_body("e"), headers=AUTH).ok


# --- answers -------------------------------------------------------------------------------------


def test_answers_are_deterministic_and_rich(server: LocalServer) -> None:
    first = post(server, "chat/completions", chat_body("Tell me about rivers")).json()
    again = post(server, "chat/completions", chat_body("Tell me about rivers")).json()
    other = post(server, "chat/completions", chat_body("Tell me about mountains")).json()
    text = first["choices"][0]["message"]["content"]
    assert text == again["choices"][0]["message"]["content"] != other["choices"][0]["message"]["content"]
    assert text.startswith("## ") and "\n1. " in text and "```python\n" in text
    assert "|---|" in text and "$E=mc^2$" in text and "$$" in text
    assert re.search(r"[\u4e00-\u9fff]", text) and "🎉" in text


def _say(prompt: str) -> str:
    return answers.answer_for(prompt, model="glm-4-flash")


def _paragraph(text: str, i: int) -> str:
    return [p for p in text.split("\n\n") if p.strip()][i]


CJK = re.compile(r"[\u4e00-\u9fff]")
EMOJI = re.compile(r"[\U0001f300-\U0001faff\u2600-\u27bf]")
INTENT_PROMPTS = (
    "Write a haiku about notebooks.",
    "Write a limerick about rings.",
    "Tell a three-sentence story about a robot who learns to paint.",
    "Name five moons of Saturn.",
    "Summarise the benefits of unit tests in two sentences.",
    "Explain what a Jupyter magic command is, in three bullet points.",
    "Compare Python and Rust in a table.",
    "Write a Python function for factorials.",
    "Is 221 a prime number?",
    "Translate 'good morning' into French.",
    "写一首关于春天的诗",
    "Tell me about rivers",
)


@pytest.mark.parametrize("prompt", INTENT_PROMPTS)
def test_intent_answers_are_deterministic_with_chinese_and_emoji(prompt: str) -> None:
    text = _say(prompt)
    assert text == _say(prompt) and text != _say("Tell me about lakes")
    assert CJK.search(text) and EMOJI.search(text)
    assert "".join(answers.tokens(text)) == text


@pytest.mark.parametrize(
    ("prompt", "lines"),
    [
        ("Write a haiku about notebooks.", 3),
        ("Write a haiku about widgets.", 3),
        ("Write a limerick about rings.", 5),
        ("Write a short poem about the sea.", 5),
        ("Write a 7-line poem about autumn.", 7),
        ("写一首关于春天的诗", 5),
    ],
)
def test_poems_have_the_right_number_of_lines(prompt: str, lines: int) -> None:
    text = _say(prompt)
    poem = _paragraph(text, 1).split("\n")
    assert len(poem) == lines, text
    assert "```" not in text and "|---" not in text  # no demo furniture around a poem
    subject = answer_intents._subject(prompt, "?")
    assert subject in text and subject in ("notebooks", "widgets", "rings", "the sea", "autumn", "春天")


@pytest.mark.parametrize(
    ("prompt", "count"),
    [
        ("Tell a three-sentence story about a robot who learns to paint.", 3),
        ("Tell a 5 sentence story about a lighthouse.", 5),
        ("Summarise the benefits of unit tests in two sentences.", 2),
        ("Summarise the plot of Journey to the West in one line.", 1),
    ],
)
def test_stories_and_summaries_have_that_many_sentences(prompt: str, count: int) -> None:
    body = _paragraph(_say(prompt), 1)
    assert len(re.findall(r"[.!?](?:\s|$)", body)) == count, body


def test_summary_echoes_the_request() -> None:
    assert _say("Summarise the benefits of unit tests in two sentences.").startswith(
        "**Summarise the benefits"
    )


@pytest.mark.parametrize(
    ("prompt", "count", "marker"),
    [
        ("Explain what a Jupyter magic command is, in three bullet points.", 3, "- "),
        ("Name five moons of Saturn.", 5, "1. "),
        ("List 4 fruits", 4, "1. "),
        ("I am planning a weekend in Hangzhou. Suggest three things to do.", 3, "1. "),
        ("Give me 10 tips for learning Rust", 10, "1. "),
        ("列出三个水果", 3, "1. "),
    ],
)
def test_lists_have_the_asked_number_of_items(prompt: str, count: int, marker: str) -> None:
    text = _say(prompt)
    listed = [ln for ln in text.splitlines() if re.match(r"(- |\d+\. )", ln)]
    assert len(listed) == count and listed[0].startswith(marker), text
    assert text.startswith("## ") and "```" not in text


def test_known_categories_list_real_things() -> None:
    assert "Titan" in _say("Name seven moons of Saturn.")
    assert any(f in _say("List 7 fruits") for f in ("Apple", "Mango", "Lychee"))


def test_explain_has_a_heading_and_a_list() -> None:
    text = _say("What is a notebook?")
    assert (
        text.startswith("## What is a notebook")
        and "a notebook" in _paragraph(text, 1)
        and "\n1. " in text
        and "```" not in text
    )


def test_format_requests_get_that_format() -> None:
    table = _say("Compare Python and Rust in a table.")
    assert "| Aspect | Python | Rust |" in table and "```" not in table
    assert "<table" not in table and "|---" in _say("explain a table please")
    code = _say("Write a Python function for factorials.")
    assert "```python\ndef factorials(" in code and "|---" not in code
    prime = _say("Is 221 a prime number?")
    assert "$221 = 13 \\times 17$" in prime and "$$" in prime and "not prime" in prime
    assert "**97 is prime**" in _say("Is 97 prime?")
    arithmetic = _say("Calculate 12 * 34")
    assert "$408$" in arithmetic and "$$12 \\times 34 = 408$$" in arithmetic
    proof = _say("Prove that the sum of the first n integers is n(n+1)/2")
    assert "$$" in proof and "\\blacksquare" in proof
    translation = _say("Translate 'good morning' into French.")
    assert "> good morning" in translation and "Bonjour" in translation and "翻译" in translation
    assert "我爱大海" in _say("Translate into Chinese: I love the sea")


@pytest.mark.parametrize(
    "prompt",
    [
        "用一句话介绍土星。",
        "写一首关于春天的诗",
        "讲一个关于小猫的故事",
        "什么是机器学习？",
        "比较猫和狗",
        "随便聊聊吧",
    ],
)
def test_chinese_prompts_get_chinese_answers(prompt: str) -> None:
    text = _say(prompt)
    letters = re.findall(r"[A-Za-z\u4e00-\u9fff]", re.sub(r"```.*?```", "", text, flags=re.S))
    assert len(CJK.findall(text)) * 2 > len(letters), text


def test_chinese_one_sentence() -> None:
    body = _paragraph(_say("用一句话介绍土星。"), 1)
    assert "土星" in body and body.count("。") == 1


def test_greetings_stay_short_and_generic_stays_a_full_demo() -> None:
    assert len(_say("hello")) < 150 and len(_say("你好")) < 150
    demo = _say("Tell me about mountains")
    for piece in ("## Tell me about mountains", "\n1. ", "```python", "|---|", "$E=mc^2$", "$$", "🎉"):
        assert piece in demo
    assert CJK.search(demo)


def test_turn_memory_and_echo_apply_to_every_intent() -> None:
    text = answers.answer_for("Write a haiku about tea.", model="m", turn=3, first_prompt="hi there")
    assert text.endswith("_Turn 3 of this conversation; you first asked: “hi there”._")
    assert answers.answer_for("echo: Write a haiku", model="m") == "Write a haiku"


@pytest.mark.parametrize(
    "prompt",
    [
        "Give three facts about pandas (the animal) as a JSON object with a list named facts.",
        "List 4 fruits",
        "写一首关于春天的诗",
        "Tell me about rivers",
        'Return {"weird": "json"} and `quotes` \\ please',
    ],
)
def test_json_mode_is_always_a_valid_object(prompt: str) -> None:
    raw = answers.json_answer_for(prompt, model="glm-4-flash")
    obj = json.loads(raw)
    assert (
        isinstance(obj, dict) and obj["topic"] and raw == answers.json_answer_for(prompt, model="glm-4-flash")
    )


def test_json_mode_names_the_asked_list() -> None:
    facts = json.loads(
        answers.json_answer_for("Give three facts about pandas as JSON with a list named facts.", model="m")
    )
    assert len(facts["facts"]) == 3 and all(isinstance(f, str) and "pandas" in f for f in facts["facts"])
    fruits = json.loads(answers.json_answer_for("List 4 fruits", model="m"))
    assert len(fruits["fruits"]) == 4


def test_reasoning_mentions_the_intent() -> None:
    assert "write a short poem" in answers.reasoning_for("Write a haiku about tea.")
    assert answers.reasoning_for("Plan a trip").startswith("The user asks")


def test_intents_survive_directives_thinking_and_max_tokens(server: LocalServer) -> None:
    body = post(server, "chat/completions", chat_body("Write a haiku about tea. [[chunks:3]]")).json()
    assert body["choices"][0]["message"]["content"] == _say("Write a haiku about tea.")
    z1 = post(server, "chat/completions", chat_body("Write a haiku about tea.", model="glm-z1-flash")).json()
    assert re.match(
        r"<think>.+write a short poem.+</think>\n\n\*\*Haiku", z1["choices"][0]["message"]["content"], re.S
    )
    cut = post(server, "chat/completions", chat_body("Name ten moons of Saturn.", max_tokens=5)).json()
    assert cut["choices"][0]["finish_reason"] == "length"


def test_echo_and_directives_are_stripped(server: LocalServer) -> None:
    body = post(server, "chat/completions", chat_body("echo: hello [[chunks:3]] world")).json()
    assert body["choices"][0]["message"]["content"] == "hello world"


def test_greeting_and_conversation_memory(server: LocalServer) -> None:
    messages = [
        {"role": "system", "content": "You are helpful."},
        {"role": "user", "content": "What is a list?"},
        {"role": "assistant", "content": "A sequence."},
        {"role": "user", "content": "hi"},
    ]
    text = post(server, "chat/completions", {"model": "glm-4-flash", "messages": messages}).json()
    content = text["choices"][0]["message"]["content"]
    assert content.startswith("Hello!") and "Turn 2" in content and "What is a list" in content


def test_reasoning_streams_first_for_thinking_models(server: LocalServer) -> None:
    events = stream_json(server, chat_body("Plan a trip", model="glm-4.7"))
    deltas = [e["choices"][0]["delta"] for e in events[:-1]]
    kinds = ["r" if "reasoning_content" in d else "c" for d in deltas]
    assert kinds[0] == "r" and "".join(kinds).rstrip("c") == "r" * kinds.count("r")
    assert all(("content" in d) != ("reasoning_content" in d) for d in deltas)
    usage = events[-1]["usage"]
    assert usage["completion_tokens_details"]["reasoning_tokens"] == kinds.count("r")
    sync = post(server, "chat/completions", chat_body("Plan a trip", model="glm-4.7")).json()
    assert sync["choices"][0]["message"]["reasoning_content"] == "".join(
        d.get("reasoning_content", "") for d in deltas
    )


@pytest.mark.parametrize("model", ["glm-4.5", "glm-4.6", "glm-4.7"])  # glm-5: not a confirmed name
def test_thinking_can_be_disabled(server: LocalServer, model: str) -> None:
    events = stream_json(server, chat_body("Plan a trip", model=model, thinking={"type": "disabled"}))
    assert not any("reasoning_content" in e["choices"][0]["delta"] for e in events)
    assert "completion_tokens_details" not in events[-1]["usage"]
    body = post(
        server, "chat/completions", chat_body("Plan", model=model, thinking={"type": "enabled"})
    ).json()
    assert body["choices"][0]["message"]["reasoning_content"]


def test_plain_models_never_reason(server: LocalServer) -> None:
    body = post(
        server, "chat/completions", chat_body("x", model="glm-4-plus", thinking={"type": "enabled"})
    ).json()
    assert "reasoning_content" not in body["choices"][0]["message"]


def test_z1_puts_thinking_in_content(server: LocalServer) -> None:
    body = post(server, "chat/completions", chat_body("Plan a trip", model="glm-z1-flash")).json()
    msg = body["choices"][0]["message"]
    assert "reasoning_content" not in msg
    assert re.match(r"<think>.+</think>\n\n## ", msg["content"], re.S)


def test_json_object_mode(server: LocalServer) -> None:
    fmt = {"type": "json_object"}
    body = post(server, "chat/completions", chat_body("List 3 fruits", response_format=fmt)).json()
    parsed = json.loads(body["choices"][0]["message"]["content"])
    assert isinstance(parsed, dict) and parsed["topic"] == "List 3 fruits"
    events = stream_json(server, chat_body("List 3 fruits", response_format=fmt))
    assert json.loads("".join(e["choices"][0]["delta"]["content"] for e in events)) == parsed


def test_tool_call_then_tool_answer(server: LocalServer) -> None:
    tool = {
        "type": "function",
        "function": {
            "name": "get_weather",
            "parameters": {
                "type": "object",
                "properties": {"city": {"type": "string"}},
                "required": ["city"],
            },
        },
    }
    body = post(server, "chat/completions", chat_body("Weather in Paris?", tools=[tool])).json()
    choice = body["choices"][0]
    assert choice["finish_reason"] == "tool_calls"
    call = choice["message"]["tool_calls"][0]
    assert call["function"]["name"] == "get_weather" and json.loads(call["function"]["arguments"]) == {
        "city": "Paris"
    }
    messages = [
        {"role": "user", "content": "Weather in Paris?"},
        {"role": "assistant", "content": None, "tool_calls": [call]},
        {"role": "tool", "tool_call_id": call["id"], "content": "18 C, cloudy"},
    ]
    body = post(
        server, "chat/completions", {"model": "glm-4-flash", "messages": messages, "tools": [tool]}
    ).json()
    assert "18 C, cloudy" in body["choices"][0]["message"]["content"]
    events = stream_json(server, chat_body("Weather in Paris?", tools=[tool]))
    assert events[-1]["choices"][0]["finish_reason"] == "tool_calls"
    assert any("tool_calls" in e["choices"][0]["delta"] for e in events)


def test_hostile_answer(server: LocalServer) -> None:
    text = post(server, "chat/completions", chat_body("x [[fault:hostile]]")).json()["choices"][0]["message"][
        "content"
    ]
    for needle in (
        "<script>alert(1)</script>",
        '<img src=x onerror="alert(1)">',
        '<svg onload="alert(1)">',
        "[click](javascript:alert(1))",
        "![x](https://example.com/x.png)",
        "\nhttps://example.com/bare-url\n",
    ):
        assert needle in text


def test_tokens_join_back_exactly() -> None:
    for text in (
        "",
        "  a  b\n\n",
        "你好，世界 👋🏽 x=1;",
        answers.HOSTILE,
        answers.answer_for("demo", model="m"),
    ):
        assert "".join(answers.tokens(text)) == text
    assert answers.split_into("abc", 5) and len(answers.split_into("abc", 5)) == 5
    assert "".join(answers.split_into("hello world", 4)) == "hello world"


# --- validation and auth -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "body", "status", "code"),
    [
        ("chat/completions", chat_body("x", model="no-such-model"), 400, "1211"),
        ("chat/completions", chat_body("x", model="cogvideox-flash"), 400, "1212"),
        ("chat/completions", chat_body("x", model="embedding-3"), 400, "1212"),
        ("videos/generations", {"model": "glm-4-flash", "prompt": "a cat"}, 400, "1212"),
        ("videos/generations", {"model": "cogvideox-flash"}, 400, "1213"),
        ("chat/completions", {"model": "glm-4-flash"}, 400, "1213"),
        ("chat/completions", {"messages": [{"role": "user", "content": "x"}]}, 400, "1213"),
        ("chat/completions", {"model": "glm-4-flash", "messages": []}, 400, "1214"),
        ("chat/completions", {"model": "glm-4-flash", "messages": "hi"}, 400, "1214"),
        (
            "chat/completions",
            {"model": "glm-4-flash", "messages": [{"role": "system", "content": "x"}]},
            400,
            "1214",
        ),
        ("chat/completions", chat_body("x", temperature=1.5), 400, "1214"),
        ("chat/completions", chat_body("x", temperature=-0.1), 400, "1214"),
        ("chat/completions", chat_body("x", temperature="hot"), 400, "1214"),
        ("chat/completions", chat_body("x", max_tokens=-1), 400, "1214"),
        ("chat/completions", chat_body("x", thinking={"type": "maybe"}), 400, "1214"),
        ("chat/completions", chat_body("x [[fault:nonsense]]"), 400, "1214"),
        ("async/chat/completions", chat_body("x", model="nope"), 400, "1211"),
        ("no/such/api", {}, 404, "1222"),
    ],
)
def test_validation_errors(server: LocalServer, path: str, body: dict, status: int, code: str) -> None:
    r = post(server, path, body)
    assert r.status_code == status
    assert r.headers["Content-Type"] == "application/json; charset=UTF-8"
    err = r.json()["error"]
    assert err["code"] == code and isinstance(err["message"], str) and err["message"]


def test_bad_json_is_1210(server: LocalServer) -> None:
    r = requests.post(f"{server.base_url}/chat/completions", data=b"{not json", headers=AUTH)
    assert r.status_code == 400 and r.json()["error"]["code"] == "1210"


def test_nulls_and_unknown_fields_are_tolerated(server: LocalServer) -> None:
    body = chat_body(
        "x",
        temperature=None,
        top_p=None,
        max_tokens=None,
        thinking=None,
        response_format=None,
        stream=None,
        tools=None,
        seed=7,
        stream_options={"include_usage": True},
        user="u",
        whatever={"a": [1]},
    )
    assert post(server, "chat/completions", body).status_code == 200
    assert post(server, "chat/completions", chat_body("x", temperature=0, top_p=1)).status_code == 200


def test_auth_rules() -> None:
    with LocalServer(api_key=KEY) as srv:
        url = f"{srv.base_url}/chat/completions"
        body = chat_body("hi")

        def code(headers: dict[str, str]) -> tuple[int, str | None]:
            r = requests.post(url, json=body, headers=headers)
            return r.status_code, (r.json().get("error") or {}).get("code")

        assert code({}) == (401, "1001")
        assert code({"Authorization": ""}) == (401, "1001")
        assert code({"Authorization": "Bearer "}) == (401, "1001")
        assert code({"Authorization": "Bearer wrong.key"}) == (401, "1000")
        assert code({"Authorization": f"Bearer {KEY}"}) == (200, None)
        assert code({"Authorization": KEY}) == (200, None)
        assert code({"Authorization": f"bearer {KEY}"}) == (200, None)
        assert code({"Authorization": f"Bearer {_jwt(KEY, 60_000)}"}) == (200, None)
        assert code({"Authorization": _jwt(KEY, 60_000)}) == (200, None)
        assert code({"Authorization": f"Bearer {_jwt(KEY, -1000)}"}) == (401, "1003")
        assert code({"Authorization": f"Bearer {_jwt('abc123.othersecret', 60_000)}"}) == (401, "1002")
        # assets are public (a video URL must open in a browser), everything else is not
        assert requests.get(f"{srv.base_url}/files/sample.mp4").status_code == 200
        assert requests.get(f"{srv.base_url}/async-result/x").status_code == 401


def _jwt(key: str, ttl_ms: int) -> str:
    kid, _, secret = key.partition(".")

    def b64(obj: dict) -> str:
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()

    now = int(time.time() * 1000)
    header = b64({"alg": "HS256", "sign_type": "SIGN"})
    signing = f"{header}.{b64({'api_key': kid, 'exp': now + ttl_ms, 'timestamp': now})}"
    sig = hmac.new(secret.encode(), signing.encode(), hashlib.sha256).digest()
    return signing + "." + base64.urlsafe_b64encode(sig).rstrip(b"=").decode()


def test_without_configured_key_any_key_works(server: LocalServer) -> None:
    r = post(server, "chat/completions", chat_body("hi"), headers={"Authorization": "Bearer anything"})
    assert r.status_code == 200


def test_records_never_keep_the_key(server: LocalServer, canary: str) -> None:
    post(server, "chat/completions", chat_body("hi"), headers={"Authorization": f"Bearer {canary}"})
    post(server, "chat/completions", {"model": "nope"}, headers={"Authorization": canary})
    assert [r.method for r in server.requests] == ["POST", "POST"]
    assert server.requests[0].path == "/api/paas/v4/chat/completions"
    assert server.requests[0].body == chat_body("hi")
    assert canary not in repr(server.requests) and canary.split(".")[1] not in repr(vars(server))


# --- faults --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fault", "status", "code"),
    [
        ("auth", 401, "1000"),
        ("bad_param", 400, "1214"),
        ("filter", 400, "1301"),
        ("balance", 429, "1113"),
        ("daily", 429, "1304"),
        ("rate_limit", 429, "1302"),
        ("server_error", 500, "500"),
        ("unavailable", 503, "1305"),
    ],
)
@pytest.mark.parametrize("stream", [False, True])
def test_error_faults(server: LocalServer, fault: str, status: int, code: str, stream: bool) -> None:
    r = post(server, "chat/completions", chat_body(f"x [[fault:{fault}]]", stream=stream))
    assert r.status_code == status
    assert r.headers["Content-Type"] == "application/json; charset=UTF-8"
    body = r.json()
    assert body["error"]["code"] == code and re.fullmatch(r"\d{14}[0-9a-f]{16}", body["request_id"])
    if fault == "filter":
        assert body["contentFilter"] == [{"level": 1, "role": "user"}]
    if fault == "rate_limit":
        assert r.headers["Retry-After"] == "1"


def test_rate_limit_only_first_attempt_of_same_body(server: LocalServer) -> None:
    body = chat_body("x [[fault:rate_limit:2]]")
    first = post(server, "chat/completions", body)
    assert first.status_code == 429 and first.headers["Retry-After"] == "2"
    assert post(server, "chat/completions", chat_body("other [[fault:rate_limit:2]]")).status_code == 429
    assert post(server, "chat/completions", body).status_code == 200
    # the pattern repeats for a re-run of the same cell
    assert post(server, "chat/completions", body).status_code == 429
    r = post(server, "chat/completions", chat_body("y [[fault:rate_limit_ms:3600000]]"))
    assert r.status_code == 429 and r.headers["retry-after-ms"] == "3600000"


def test_server_error_n_then_success(server: LocalServer) -> None:
    body = chat_body("x [[fault:server_error:2]]", stream=True)
    assert [post(server, "chat/completions", body).status_code for _ in range(3)] == [500, 500, 200]


def test_bad_gateway_html(server: LocalServer) -> None:
    for _ in range(2):
        r = post(server, "chat/completions", chat_body("x [[fault:bad_gateway]]", stream=True))
        assert r.status_code == 502 and r.headers["Content-Type"].startswith("text/html")
        assert b"502 Bad Gateway" in r.content
    body = chat_body("x [[fault:bad_gateway:1]]")
    assert [post(server, "chat/completions", body).status_code for _ in range(2)] == [502, 200]


def test_error_answers_keep_the_connection_usable(server: LocalServer) -> None:
    faults = ["auth", "filter", "rate_limit", "server_error", "unavailable", "bad_gateway", "nonsense"]
    with requests.Session() as s:
        for fault in faults:
            for stream in (False, True):
                r = s.post(
                    f"{server.base_url}/chat/completions",
                    json=chat_body(f"{fault} [[fault:{fault}]]", stream=stream),
                    headers=AUTH,
                )
                assert r.status_code >= 400 and r.headers.get("Connection") != "close"
        assert (
            s.post(f"{server.base_url}/chat/completions", json={"model": "x"}, headers={}).status_code == 401
        )
        assert s.post(f"{server.base_url}/chat/completions", json=chat_body("ok"), headers=AUTH).ok


def test_slow_first(server: LocalServer) -> None:
    t0 = time.monotonic()
    assert post(server, "chat/completions", chat_body("x [[fault:slow_first:0.4]]")).ok
    assert time.monotonic() - t0 >= 0.4
    with pytest.raises(requests.ReadTimeout):
        post(server, "chat/completions", chat_body("y [[fault:slow_first:2]]"), timeout=(2, 0.3))


def test_stall_midstream(server: LocalServer) -> None:
    t0 = time.monotonic()
    events = stream_json(server, chat_body("x [[fault:stall:0.4]] [[chunks:4]]"))
    assert time.monotonic() - t0 >= 0.4 and len(events) == 5


def test_drop_midstream(server: LocalServer) -> None:
    r = post(
        server, "chat/completions", chat_body("x [[fault:drop]] [[chunks:10]]", stream=True), stream=True
    )
    with pytest.raises(requests.exceptions.ChunkedEncodingError):
        r.content  # noqa: B018
    assert server.disconnects == 0  # the server dropped it, the client did not


@pytest.mark.parametrize(
    ("fault", "tail"),
    [
        ("error_frame", '{"error":{"code":"1301"'),
        ("error_frame:1234", '{"error":{"code":"1234"'),
        ("garbage", "this is not json"),
        ("no_choices", '{"id":'),
    ],
)
def test_inband_stream_faults(server: LocalServer, fault: str, tail: str) -> None:
    r = post(server, "chat/completions", chat_body(f"x [[fault:{fault}]] [[chunks:6]]", stream=True))
    payloads = sse_payloads(r)
    assert len(payloads) == 4 and payloads[-1].startswith(tail)
    assert all('"content"' in p for p in payloads[:3])


def test_no_done(server: LocalServer) -> None:
    r = post(server, "chat/completions", chat_body("x [[fault:no_done]] [[chunks:3]]", stream=True))
    payloads = sse_payloads(r)
    assert len(payloads) == 3 and "finish_reason" not in r.text
    r = post(server, "chat/completions", chat_body("x [[fault:no_done:finish]] [[chunks:3]]", stream=True))
    payloads = sse_payloads(r)
    assert len(payloads) == 4 and '"finish_reason":"stop"' in payloads[-1] and "[DONE]" not in r.text


@pytest.mark.parametrize("reason", ["sensitive", "length"])
def test_finish_reason_faults(server: LocalServer, reason: str) -> None:
    full = post(server, "chat/completions", chat_body("Explain recursion")).json()["choices"][0]["message"][
        "content"
    ]
    body = post(server, "chat/completions", chat_body(f"Explain recursion [[fault:{reason}]]")).json()
    assert body["choices"][0]["finish_reason"] == reason
    cut = body["choices"][0]["message"]["content"]
    assert cut and full.startswith(cut) and len(cut) < len(full)
    events = stream_json(server, chat_body(f"Explain recursion [[fault:{reason}]]"))
    assert events[-1]["choices"][0]["finish_reason"] == reason


def test_max_tokens_gives_length(server: LocalServer) -> None:
    body = post(server, "chat/completions", chat_body("Explain recursion", max_tokens=5)).json()
    assert body["choices"][0]["finish_reason"] == "length" and body["usage"]["completion_tokens"] == 5


def test_chunks_and_interval_with_write_times(server: LocalServer) -> None:
    t0 = time.monotonic()
    events = stream_json(server, chat_body("x [[chunks:5]] [[interval:0.05]]", model="glm-4-flash"))
    assert len(events) == 6 and time.monotonic() - t0 >= 0.25
    times = server.last_write_times
    assert len(times) == 7  # 5 content + final + [DONE]
    gaps = [times[i + 1] - times[i] for i in range(4)]
    assert all(g >= 0.045 for g in gaps)
    events = stream_json(
        server, chat_body("x [[chunks:200]]", model="glm-4.7", thinking={"type": "disabled"})
    )
    assert len(events) == 201


def test_token_rate_paces_the_stream() -> None:
    with LocalServer(token_rate=100) as srv:
        t0 = time.monotonic()
        events = stream_json(srv, chat_body("x [[chunks:20]]"))
        elapsed = time.monotonic() - t0
    assert len(events) == 21 and 0.18 <= elapsed < 2


# --- disconnects ---------------------------------------------------------------------------------


def test_client_disconnect_is_noticed() -> None:
    with LocalServer(token_rate=50) as srv:
        r = post(srv, "chat/completions", chat_body("x [[chunks:200]]", stream=True), stream=True)
        it = r.iter_content(chunk_size=None)
        next(it)
        next(it)
        r.close()
        t0 = time.monotonic()
        assert srv.wait_disconnect(2.0)
        assert time.monotonic() - t0 < 0.5
        assert srv.disconnects == 1
        assert not srv.wait_disconnect(0.1)  # already reported


def test_disconnect_during_stall_is_noticed() -> None:
    with LocalServer() as srv:
        r = post(
            srv, "chat/completions", chat_body("x [[fault:stall:30]] [[chunks:4]]", stream=True), stream=True
        )
        next(r.iter_content(chunk_size=None))
        r.close()
        assert srv.wait_disconnect(2.0)


def test_stop_cuts_stalled_streams() -> None:
    srv = LocalServer().start()
    r = post(
        srv, "chat/completions", chat_body("x [[fault:stall:30]] [[chunks:4]]", stream=True), stream=True
    )
    t0 = time.monotonic()
    srv.stop()
    with pytest.raises(requests.exceptions.RequestException):
        r.content  # noqa: B018
    assert time.monotonic() - t0 < 3
    assert srv.disconnects == 0


# --- async tasks and video -----------------------------------------------------------------------


def test_async_chat_processing_then_success() -> None:
    with LocalServer(task_polls=2) as srv:
        task = post(srv, "async/chat/completions", chat_body("Tell me about rivers", request_id="r-1")).json()
        assert (
            task["task_status"] == "PROCESSING"
            and task["request_id"] == "r-1"
            and task["model"] == "glm-4-flash"
        )
        assert set(task) == {"model", "id", "request_id", "task_status"}
        url = f"{srv.base_url}/async-result/{task['id']}"
        statuses = [requests.get(url, headers=AUTH).json() for _ in range(3)]
        assert [s["task_status"] for s in statuses] == ["PROCESSING", "PROCESSING", "SUCCESS"]
        done = statuses[-1]
        sync = post(srv, "chat/completions", chat_body("Tell me about rivers")).json()
        assert done["choices"][0]["message"]["content"] == sync["choices"][0]["message"]["content"]
        assert done["usage"] == sync["usage"] and done["id"] == task["id"] and done["request_id"] == "r-1"
        assert requests.get(url, headers=AUTH).json()["task_status"] == "SUCCESS"


def test_async_fail_and_unknown_id(server: LocalServer) -> None:
    task = post(server, "async/chat/completions", chat_body("x [[fault:task_fail]]")).json()
    url = f"{server.base_url}/async-result/{task['id']}"
    assert requests.get(url, headers=AUTH).json()["task_status"] == "PROCESSING"
    failed = requests.get(url, headers=AUTH).json()
    assert failed["task_status"] == "FAIL" and "choices" not in failed
    r = requests.get(f"{server.base_url}/async-result/20990101000000deadbeefdeadbeef", headers=AUTH)
    assert r.status_code == 404 and r.json()["error"]["code"] == "1222"


def test_async_errors_are_synchronous(server: LocalServer) -> None:
    r = post(server, "async/chat/completions", chat_body("x [[fault:balance]]"))
    assert r.status_code == 429 and r.json()["error"]["code"] == "1113"


def test_video_task_and_assets() -> None:
    with LocalServer(task_polls=0) as srv:
        task = post(
            srv, "videos/generations", {"model": "cogvideox-flash", "prompt": "a cat", "quality": None}
        ).json()
        assert task["task_status"] == "PROCESSING" and task["model"] == "cogvideox-flash"
        done = requests.get(f"{srv.base_url}/async-result/{task['id']}", headers=AUTH).json()
        assert done["task_status"] == "SUCCESS"
        (result,) = done["video_result"]
        video = requests.get(result["url"])
        assert video.status_code == 200 and video.headers["Content-Type"] == "video/mp4"
        assert video.content[4:8] == b"ftyp" and 1000 < len(video.content) < 200_000
        cover = requests.get(result["cover_image_url"])
        assert cover.headers["Content-Type"] == "image/png" and cover.content.startswith(b"\x89PNG")
        part = requests.get(result["url"], headers={"Range": "bytes=0-7"})
        assert part.status_code == 206 and part.content == video.content[:8]
        assert requests.get(f"{srv.base_url}/files/..%2Fserver.py").status_code == 404
        assert requests.get(f"{srv.base_url}/files/nope.mp4").status_code == 404
        fail = post(
            srv, "videos/generations", {"model": "cogvideox-3", "prompt": "x [[fault:task_fail]]"}
        ).json()
        assert (
            requests.get(f"{srv.base_url}/async-result/{fail['id']}", headers=AUTH).json()["task_status"]
            == "FAIL"
        )


def test_polls_are_served_concurrently() -> None:
    with LocalServer(task_polls=0, poll_delay=0.2) as srv:
        ids = [post(srv, "async/chat/completions", chat_body(f"q{i}")).json()["id"] for i in range(50)]

        def poll(task_id: str) -> str:
            r = requests.get(f"{srv.base_url}/async-result/{task_id}", headers=AUTH, timeout=10)
            return r.json()["task_status"]

        t0 = time.monotonic()
        with ThreadPoolExecutor(max_workers=50) as pool:
            statuses = list(pool.map(poll, ids))
        elapsed = time.monotonic() - t0
    assert statuses == ["SUCCESS"] * 50
    assert elapsed < 2.5, elapsed  # serial would be 10 s


# --- other endpoints -----------------------------------------------------------------------------


def test_embeddings_tokenizer_images_models(server: LocalServer) -> None:
    r = post(server, "embeddings", {"model": "embedding-3", "input": ["a", "b"], "dimensions": 256}).json()
    assert [len(d["embedding"]) for d in r["data"]] == [256, 256] and r["data"][0]["embedding"] != r["data"][
        1
    ]["embedding"]
    again = post(server, "embeddings", {"model": "embedding-3", "input": "a", "dimensions": 256}).json()
    assert again["data"][0]["embedding"] == r["data"][0]["embedding"]
    assert abs(sum(v * v for v in r["data"][0]["embedding"]) - 1) < 1e-3
    tok = post(server, "tokenizer", chat_body("hello world")).json()
    assert tok["usage"]["prompt_tokens"] > 0
    img = post(server, "images/generations", {"model": "cogview-3-flash", "prompt": "a cat"}).json()
    assert requests.get(img["data"][0]["url"]).content.startswith(b"\x89PNG")
    models = requests.get(f"{server.base_url}/models", headers=AUTH).json()
    assert {m["id"] for m in models["data"]} == set(MODELS)


def test_model_catalogue() -> None:
    assert get_model("nope") is None
    assert get_model("glm-4-flash").free and get_model("glm-4-flash").thinking == "no"
    assert get_model("glm-4.7").thinking == "optional" and get_model("glm-z1-air").thinking == "always"
    assert get_model("cogvideox-flash").kind == "video" and get_model("cogvideox-flash").async_
    assert get_model("glm-4v-plus").vision and get_model("embedding-3").kind == "embedding"
    for name in (
        "glm-4.7",
        "glm-4.6",
        "glm-4.5-air",
        "glm-4-air-250414",
        "glm-4-long",
        "charglm-4",
        "codegeex-4",
        "cogview-4",
    ):
        assert name in MODELS


def test_catalogue_holds_only_confirmed_models_grouped_by_kind() -> None:
    """Issue 10 #8: no guessed names (the spec marks glm-5.x, glm-4.6-air/-flash UNCONFIRMED)."""
    from zhipu_magic.api.models import KINDS, by_kind

    for guessed in ("glm-5.2", "glm-5.1", "glm-5", "glm-5-turbo", "glm-4.6-air", "glm-4.6-flash"):
        assert guessed not in MODELS
    assert not [m.name for m in MODELS.values() if "unconfirmed" in m.note.lower()]
    kinds = [m.kind for m in MODELS.values()]
    assert kinds == sorted(kinds, key=KINDS.index)  # grouped: chat, video, image, embedding
    groups = by_kind()
    assert list(groups) == list(KINDS) and all(all(m.kind == k for m in ms) for k, ms in groups.items())
    assert "cogvideox-flash" in [m.name for m in groups["video"]] and "glm-4-flash" in MODELS


def test_models_magic_lists_no_guessed_names(shell, monkeypatch) -> None:
    from helpers import Recorder

    from zhipu_magic.notebook import render

    rec = Recorder(shell=shell)
    shell.display_pub = rec
    monkeypatch.setattr(render, "is_rich_frontend", lambda shell=None: True)
    shell.run_line_magic("load_ext", "zhipu_magic")
    try:
        shell.run_line_magic("glm", "models")
    finally:
        shell.run_line_magic("unload_ext", "zhipu_magic")
    text = rec.calls[-1]["data"]["text/plain"]
    assert "unconfirmed" not in text and "glm-5" not in text
    assert (
        text.index("glm-4-flash")
        < text.index("cogvideox")
        < text.index("cogview")
        < text.index("embedding-3")
    )


def test_shared_server_is_one_instance(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ZHIPU_MAGIC_LOCAL_RATE", "1000")
    with ThreadPoolExecutor(max_workers=8) as pool:
        servers = list(pool.map(lambda _: start_local_server(), range(8)))
    assert all(s is servers[0] for s in servers)
    assert post(servers[0], "chat/completions", chat_body("hi")).ok


def test_cli_smoke() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "zhipu_magic.server", "--port", "0", "--rate", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = proc.stdout.readline().strip()
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+/api/paas/v4", line), line
        r = requests.post(f"{line}/chat/completions", json=chat_body("echo: ok"), headers=AUTH, timeout=10)
        assert r.json()["choices"][0]["message"]["content"] == "ok"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_drop_without_stream_closes_without_response(server: LocalServer) -> None:
    with pytest.raises(requests.exceptions.ConnectionError):
        post(server, "chat/completions", chat_body("x [[fault:drop]]"))


def test_vision_models_see_media(server: LocalServer) -> None:
    content = [
        {"type": "text", "text": "What is this?"},
        {"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}},
    ]
    body = {"model": "glm-4v-flash", "messages": [{"role": "user", "content": content}]}
    text = post(server, "chat/completions", body).json()["choices"][0]["message"]["content"]
    assert text.startswith("👀 I see 1 image(s)") and "What is this" in text


def test_asset_urls_follow_the_host_header(server: LocalServer) -> None:
    url = f"http://localhost:{server.port}/api/paas/v4/videos/generations"
    task = requests.post(url, json={"model": "cogvideox", "prompt": "x"}, headers=AUTH).json()
    requests.get(f"{server.base_url}/async-result/{task['id']}", headers=AUTH)
    done = requests.get(f"{server.base_url}/async-result/{task['id']}", headers=AUTH).json()
    assert done["video_result"][0]["url"] == f"http://localhost:{server.port}/api/paas/v4/files/sample.mp4"
    assert "localhost" not in repr(server) and "running" in repr(server)


def test_client_helper_talks_to_this_server(server) -> None:
    """``LocalServer.client()`` is the one-liner notebooks use when no key is configured."""
    with server.client() as client:
        reply = client.chat("echo: hello there")
    assert reply["choices"][0]["message"]["content"] == "hello there"
    assert client.base_url == server.base_url


def test_disconnect_seen_before_first_byte(server) -> None:
    """A client that gives up during a slow first byte is noticed without waiting for a write."""
    body = json.dumps(
        {
            "model": "glm-4-flash",
            "stream": True,
            "messages": [{"role": "user", "content": "hi [[fault:slow_first:5]]"}],
        }
    ).encode()
    sock = socket.create_connection(("127.0.0.1", server.port))
    sock.sendall(
        b"POST /api/paas/v4/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer k\r\n"
        b"Content-Type: application/json\r\nContent-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body
    )
    time.sleep(0.2)
    sock.close()
    assert server.wait_disconnect(2.0)
