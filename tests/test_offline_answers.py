"""The local server's offline answers respond visibly to the request they received (issue 10, item 4):
the earlier turns (a name recalled, the earlier turn quoted, "those" resolved), the system prompt
(acknowledged, simple ones obeyed), the JSON keys the prompt names, "long" vs "short" stories, and
max_tokens; all of it deterministic. Over real HTTP to the fixture server, and once through %%glm -c.
"""

from __future__ import annotations

import json
import re

import pytest

JSON = {"type": "json_object"}


def ask(make, *turns: str, system: str | None = None, **params) -> tuple[str, dict]:
    """Send ``turns`` as one conversation (each earlier answer taken from the server itself); return
    the last answer's text and its whole response."""
    client = make()
    messages = [{"role": "system", "content": system}] if system else []
    body: dict = {}
    for i, turn in enumerate(turns):
        messages.append({"role": "user", "content": turn})
        body = client.chat(messages, "glm-4-flash", **(params if i == len(turns) - 1 else {}))
        messages.append({"role": "assistant", "content": body["choices"][0]["message"]["content"]})
    return body["choices"][0]["message"]["content"], body


# --- the conversation --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("said", "asked", "value"),
    [
        ("My name is Ada.", "What is my name?", "Ada"),
        ("Hi! I'm Grace, nice to meet you.", "Do you remember my name?", "Grace"),
        ("My favourite colour is teal.", "What's my favourite colour?", "teal"),
        ("我叫小明。", "我叫什么？", "小明"),
    ],
)
def test_a_stated_fact_is_recalled_and_its_turn_quoted(make, said: str, asked: str, value: str) -> None:
    text, _ = ask(make, said, "Tell me about rivers", asked)
    assert f"**{value}**" in text.split("\n")[0], text  # the answer's first line says it
    assert f"“{said}”" in text  # and quotes the turn it came from
    assert "Mochi" not in text and "```" not in text  # no pet names, no demo furniture


def test_an_unknown_fact_is_honestly_unknown(make) -> None:
    text, _ = ask(make, "What is my name?")
    assert text.startswith("I don't know your name") and "local server" in text


def test_a_later_turn_quotes_the_earlier_one(make) -> None:
    text, _ = ask(make, "Tell me about rivers", "Tell me about mountains")
    assert "Turn 2 of this conversation; you said earlier: “Tell me about rivers”" in text
    third, _ = ask(make, "Tell me about rivers", "Tell me about lakes", "What did I ask first?")
    assert third.startswith("You first asked: “Tell me about rivers”")


def test_which_of_those_picks_from_the_last_answer(make) -> None:
    """Tutorial 02's second turn: an item of the first answer's list, not generic tips."""
    first = "I am planning a weekend in Hangzhou. Suggest three things to do."
    text, _ = ask(make, first, "Which of those is best on a rainy day?")
    earlier, _ = ask(make, first)
    items = re.findall(r"^\d+\. (.+)$", earlier, re.M)
    assert len(items) == 3 and any(f"I'd pick **{item}**" in text for item in items), text
    assert "Key points" not in text and "```" not in text


def test_a_follow_up_repeats_the_request_for_the_new_subject(make) -> None:
    text, _ = ask(make, "Suggest a name for a pet turtle.", "And one for a goldfish?")
    assert text.startswith("Same request as before (“Suggest a name for a pet turtle.”), now for a goldfish")
    assert "## A goldfish" in text and "Key points" not in text


# --- the system prompt -------------------------------------------------------------------------------


def test_the_system_prompt_is_acknowledged(make) -> None:
    text, _ = ask(make, "Write a haiku about tea.", system="You are a poet.")
    assert "(following the system prompt: “You are a poet.”)" in text
    assert "**Haiku" in text  # the answer itself is still there


@pytest.mark.parametrize("system", ["Be terse.", "Answer in one sentence.", "Keep answers brief."])
def test_a_terse_system_prompt_gives_one_sentence(make, system: str) -> None:
    text, _ = ask(make, "Explain what a Jupyter magic command is.", system=system)
    answer, _, note = text.partition("\n\n")
    assert note == f"_(following the system prompt: “{system}”)_"
    assert len(re.findall(r"[.!?](?:\s|$)", answer)) == 1 and len(answer) < 200, text
    full, _ = ask(make, "Explain what a Jupyter magic command is.")
    assert len(full) > 3 * len(answer)


def test_terse_recall_and_a_language_and_a_pirate(make) -> None:
    name, _ = ask(make, "My name is Ada.", "What is my name?", system="Be terse.")
    assert name.startswith("Your name is **Ada**.\n\n_(following the system prompt: “Be terse.”)")
    french, _ = ask(make, "Write a haiku about tea.", system="Always answer in French.")
    assert french.startswith("Voici ma réponse")
    chinese, _ = ask(make, "Tell me about rivers", system="请用中文回答。")
    assert chinese.startswith("以下是回答")
    pirate, _ = ask(make, "What is a notebook?", system="Answer like a pirate, in one sentence.")
    assert pirate.startswith("Arr!") and pirate.count("\n\n") == 1


# --- JSON mode -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("prompt", "keys"),
    [
        ("Describe a person as JSON with keys name, age and city.", ["name", "age", "city"]),
        ('Return a JSON object with "title", "year" and "rating".', ["title", "year", "rating"]),
        ("A user record as JSON. Fields: id, email, is_active, tags", ["id", "email", "is_active", "tags"]),
        ('Fill in this template: {"product": "...", "price": 0}', ["product", "price"]),
    ],
)
def test_json_mode_has_exactly_the_keys_the_prompt_names(make, prompt: str, keys: list[str]) -> None:
    text, _ = ask(make, prompt, response_format=JSON)
    obj = json.loads(text)
    assert list(obj) == keys, obj
    assert all(v not in (None, "") for v in obj.values())


def test_json_values_are_plausible_and_use_what_the_user_said(make) -> None:
    obj = json.loads(
        ask(make, "Describe a person as JSON with keys name, age and city.", response_format=JSON)[0]
    )
    assert isinstance(obj["name"], str) and isinstance(obj["age"], int) and 0 < obj["age"] < 120
    user = json.loads(
        ask(make, "My name is Ada.", "JSON with fields: name, email, is_active", response_format=JSON)[0]
    )
    assert user == {"name": "Ada", "email": "ada@example.com", "is_active": user["is_active"]}
    assert isinstance(user["is_active"], bool)
    keyed_by_system = json.loads(
        ask(make, "Describe Paris.", system="Reply in JSON with keys city, country.", response_format=JSON)[0]
    )
    assert list(keyed_by_system) == ["city", "country"]


def test_json_mode_without_named_keys_is_unchanged(make) -> None:
    obj = json.loads(ask(make, "List 3 fruits", response_format=JSON)[0])
    assert obj["topic"] == "List 3 fruits" and len(obj["fruits"]) == 3


# --- length --------------------------------------------------------------------------------------------


def _paragraphs(text: str) -> list[str]:
    return [p for p in text.split("\n\n") if p.strip()]


def test_a_long_story_is_long_and_a_short_story_short(make) -> None:
    long, _ = ask(make, "Tell me a long story about a lighthouse.")
    short, _ = ask(make, "Tell me a short story about a lighthouse.")
    assert "long story" in _paragraphs(long)[0].lower() and "short" not in _paragraphs(long)[0].lower()
    assert len(_paragraphs(long)) >= 5 and len(long) > 2 * len(short)
    assert len(_paragraphs(short)) == 2 and "lighthouse" in long and "lighthouse" in short
    zh, _ = ask(make, "讲一个关于小猫的长故事")
    assert len(_paragraphs(zh)) >= 5 and "小猫" in zh


@pytest.mark.parametrize("limit", [1, 5, 15])
def test_max_tokens_cuts_every_kind_of_answer(make, limit: int) -> None:
    for turns in (("Tell me a long story about a lighthouse.",), ("My name is Ada.", "What is my name?")):
        text, body = ask(make, *turns, max_tokens=limit)
        usage, choice = body["usage"], body["choices"][0]
        assert usage["completion_tokens"] <= limit and choice["finish_reason"] == "length"
        full, _ = ask(make, *turns)
        assert full.startswith(text) and len(text) < len(full)


# --- determinism ---------------------------------------------------------------------------------------


def test_the_same_request_gives_the_same_answer(make) -> None:
    cases = [
        (("My name is Ada.", "What is my name?"), {}),
        (("I am planning a weekend in Hangzhou. Suggest three things to do.", "Which of those is best?"), {}),
        (("What is a notebook?",), {"system": "Be terse."}),
        (("JSON with keys name, age and city.",), {"response_format": JSON}),
        (("Tell me a long story about a lighthouse.",), {}),
    ]
    for turns, params in cases:
        first, second = ask(make, *turns, **params)[0], ask(make, *turns, **params)[0]
        assert first == second
    marks = [ask(make, *turns, **params)[0] for turns, params in cases]
    assert "**Ada**" in marks[0] and "I'd pick" in marks[1] and "following the system prompt" in marks[2]
    assert list(json.loads(marks[3])) == ["name", "age", "city"] and len(_paragraphs(marks[4])) >= 5


# --- through %%glm -c ----------------------------------------------------------------------------------


@pytest.fixture
def ip(ip, api):
    """The shared shell, pointed at the fixture server."""
    return ip


def test_glm_magic_conversation_second_answer_mentions_the_first(ip) -> None:
    ip.run_cell_magic("glm", "-c intro", "My name is Ada.")
    first = ip.user_ns["_glm"].text
    assert "Ada" in first
    ip.run_cell_magic("glm", "-c intro -o answer", "What is my name?")
    second = ip.user_ns["answer"]
    assert second.startswith("Your name is **Ada**.") and "“My name is Ada.”" in second
    ip.run_cell_magic("glm", "-c intro", "What did I say earlier?")
    assert ip.user_ns["_glm"].text.startswith("You said earlier: “What is my name?”")
    ip.run_cell_magic("glm", "", "What is my name?")  # no -c: nothing earlier was sent
    assert ip.user_ns["_glm"].text.startswith("I don't know your name")
