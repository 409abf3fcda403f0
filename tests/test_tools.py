"""``run_tools`` and the schemas over real HTTP against the package's local server."""

from __future__ import annotations

import dataclasses
import json
from typing import Literal, Optional, TypedDict

import pytest

import zhipu_magic
from zhipu_magic.api.schema import function_tool, parse_docstring
from zhipu_magic.api.tools import registered, run_tools, tool

CALLS: list[dict] = []


def add(a: int, b: int) -> int:
    """Add two numbers.

    Args:
        a: the first number
        b: the second number
    """
    CALLS.append({"a": a, "b": b})
    return a + b


def explode(city: str) -> str:
    """Look up a city (always fails)."""
    raise RuntimeError("the weather service is down")


def bodies(server) -> list[dict]:
    return [r.body for r in server.requests if r.body is not None and "messages" in r.body]


@pytest.fixture(autouse=True)
def _clear_calls():
    CALLS.clear()


@pytest.mark.parametrize("stream", [False, True])
def test_add_called_with_the_right_arguments_and_its_result_reaches_the_answer(server, make, stream):
    run = run_tools(make(), "Please add 2 and 40", [add], model="glm-4.6", stream=stream)
    assert CALLS == [{"a": 2, "b": 40}]
    assert run.rounds == 2 and not run.exhausted
    assert "42" in run.text
    assert run.calls[0]["result"] == "42" and run.calls[0]["value"] == 42 and run.calls[0]["error"] is None
    sent = bodies(server)
    assert sent[0]["tools"] == [function_tool(add)]
    tool_msg = sent[1]["messages"][-1]
    assistant = sent[1]["messages"][-2]
    assert tool_msg == {"role": "tool", "tool_call_id": run.calls[0]["id"], "content": "42"}
    assert assistant["tool_calls"][0]["id"] == run.calls[0]["id"]
    # glm-4.6 thinks by default: the round's reasoning goes back unchanged, as the API asks
    assert assistant["reasoning_content"] and isinstance(assistant["reasoning_content"], str)


def test_tool_stream_arguments_arrive_in_pieces(server, make):
    chunks = []

    def seen(answer):
        chunks.append(answer.tool_calls and answer.tool_calls[0]["function"]["arguments"])

    run = run_tools(
        make(), "add 12 and 30", [add], model="glm-4.6", stream=True, tool_stream=True, on_chunk=seen
    )
    assert CALLS == [{"a": 12, "b": 30}] and "42" in run.text
    partial = [c for c in chunks if c and c != '{"a": 12, "b": 30}']
    assert partial, "the arguments were streamed in pieces"
    assert bodies(server)[0]["tool_stream"] is True


def test_a_tool_that_raises_goes_back_as_an_error(server, make):
    run = run_tools(make(), 'Weather in "Oslo"?', [explode])
    assert run.calls[0]["error"] == "RuntimeError: the weather service is down"
    assert bodies(server)[1]["messages"][-1]["content"] == "error: RuntimeError: the weather service is down"
    assert "the weather service is down" in run.text


def test_a_hallucinated_name_is_an_error_for_the_model(server, make):
    run = run_tools(make(), "call the function delete_everything", [add])
    assert run.calls[0]["function"]["name"] == "delete_everything"
    assert "no function named 'delete_everything'" in run.calls[0]["error"] and "add" in run.calls[0]["error"]
    assert CALLS == [] and "no function named" in run.text


def test_bad_json_arguments(server, make):
    run = run_tools(make(), 'call the function add with arguments {"a": 1,', [add])
    assert "not valid JSON" in run.calls[0]["error"] and CALLS == []
    assert "not valid JSON" in bodies(server)[1]["messages"][-1]["content"]


def test_arguments_that_do_not_match_the_signature(server, make):
    run = run_tools(make(), 'call the function add with arguments {"a": 1, "c": 2}', [add])
    assert "do not match add(a: int, b: int)" in run.calls[0]["error"] and CALLS == []
    run = run_tools(make(), "call the function add with arguments [1, 2]", [add])
    assert "must be a JSON object" in run.calls[0]["error"]


def test_the_round_limit(server, make):
    run = run_tools(make(), "add 1 and 2", [add], max_rounds=1)
    assert run.exhausted and run.rounds == 1 and len(bodies(server)) == 1
    assert CALLS == [] and "round limit" in run.calls[0]["error"]
    with pytest.raises(ValueError):
        run_tools(make(), "x", [add], max_rounds=0)


def test_confirm_can_refuse(server, make):
    asked = []
    run = run_tools(
        make(), "add 1 and 2", [add], confirm=lambda name, args: asked.append((name, args)) or False
    )
    assert asked == [("add", {"a": 1, "b": 2})] and CALLS == []
    assert run.calls[0]["error"] == "the user declined this call"


def test_no_tool_needed_is_one_round(server, make):
    run = run_tools(make(), "Say hello", [add])  # no number to fill: the local model just answers
    assert run.rounds == 1 and run.calls == [] and run.text


def test_tool_decorator_registers_and_is_exported():
    @zhipu_magic.tool
    def shout(text: str) -> str:
        """Upper-case a text."""
        return text.upper()

    assert registered()["shout"] is shout and zhipu_magic.run_tools is run_tools and zhipu_magic.tool is tool


class Point(TypedDict):
    x: int
    y: int


@dataclasses.dataclass
class Box:
    name: str
    size: float = 1.0


def fancy(
    kind: Literal["a", "b"],
    tags: list[str],
    where: Point,
    box: Box,
    n: Optional[int] = None,  # noqa: UP045 - Optional is what is tested
    flag: bool = False,
):
    """Do fancy things.

    :param kind: which kind
    :param tags: labels to attach
    """


def test_schema_from_hints_and_docstring():
    fn = function_tool(fancy)["function"]
    props = fn["parameters"]["properties"]
    assert fn["description"] == "Do fancy things."
    assert props["kind"] == {"type": "string", "enum": ["a", "b"], "description": "which kind"}
    assert props["tags"] == {"type": "array", "items": {"type": "string"}, "description": "labels to attach"}
    assert props["where"]["properties"] == {"x": {"type": "integer"}, "y": {"type": "integer"}}
    assert props["box"]["required"] == ["name"] and props["box"]["properties"]["size"] == {"type": "number"}
    assert props["n"] == {"type": "integer", "default": None} and props["flag"]["type"] == "boolean"
    assert fn["parameters"]["required"] == ["kind", "tags", "where", "box"]
    json.dumps(fn)  # plain JSON
    assert parse_docstring("Sum.\n\nParameters\n----------\nx : int\n    what to sum")[0] == "Sum."
    with pytest.raises(ValueError):
        function_tool(lambda x: x)  # "<lambda>" is no tool name


@pytest.mark.parametrize("stream", [False, True])
def test_the_usage_of_a_run_adds_up_every_round(server, make, stream):
    from zhipu_magic.api.answer import Answer

    answers: list[Answer] = []
    run = run_tools(
        make(), "Please add 2 and 40", [add], stream=stream,
        new_answer=lambda: answers.append(Answer("glm-4-flash")) or answers[-1],
    )  # fmt: skip
    assert run.rounds == len(answers) == 2 and all(a.usage for a in answers)
    for key in ("prompt_tokens", "completion_tokens", "total_tokens"):
        assert run.usage[key] == sum(a.usage[key] for a in answers) > answers[-1].usage[key]
