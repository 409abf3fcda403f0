"""Web search over real HTTP: the standalone endpoint, the chat tool, sources on a response and a chunk."""

from __future__ import annotations

import json
import re

import pytest

from zhipu_magic import GLMError, ZhipuAI
from zhipu_magic.api import calls
from zhipu_magic.api.search import sources_of, web_search_tool
from zhipu_magic.api.tools import run_tools


def test_standalone_web_search(server, make):
    found = make().web_search("python release notes", count=2, search_recency_filter="oneWeek")
    assert [r.body for r in server.requests][-1] == {
        "search_engine": "search_std", "search_query": "python release notes", "count": 2,
        "search_recency_filter": "oneWeek",
    }  # fmt: skip
    assert found["search_intent"][0]["query"] == "python release notes"
    links = [s["link"] for s in found["search_result"]]
    assert len(links) == 2 and all(link.startswith("https://example.") for link in links)
    assert calls.web_search("q").path == "web_search"
    with pytest.raises(GLMError):
        make().web_search("python", count=0)


def test_zhipuai_shape_web_search(server):
    client = ZhipuAI(api_key="test.key", base_url=server.base_url)
    resp = client.web_search.web_search(search_query="rust", count=1, search_domain_filter="docs.example.io")
    assert resp.search_result[0].link == "https://docs.example.io/rust/1"
    client.close()


def test_the_tool_shape():
    tool = web_search_tool(recency="oneDay", domain="example.com")
    assert tool == {
        "type": "web_search",
        "web_search": {
            "enable": True, "search_engine": "search_std", "search_result": True,
            "search_recency_filter": "oneDay", "search_domain_filter": "example.com",
        },
    }  # fmt: skip
    with pytest.raises(ValueError):
        web_search_tool(recency="yesterday")


@pytest.mark.parametrize("stream", [False, True])
def test_chat_with_search_has_markers_and_sources(server, make, stream):
    run = run_tools(make(), "What is new in Python?", extra_tools=[web_search_tool()], stream=stream)
    assert "[ref_1]" in run.text and run.rounds == 1
    assert [s["refer"] for s in run.sources] == ["ref_1", "ref_2", "ref_3"]
    assert run.sources[0]["link"].startswith("https://example.com/")


def test_sources_on_the_raw_response_and_chunk(server, make):
    client = make()
    tools = [web_search_tool(count=2)]
    body = client.chat("Tell me about Oslo", tools=tools)
    assert len(body["web_search"]) == 2
    with client.stream("Tell me about Oslo", tools=tools) as stream:
        chunks = list(stream)
    carrying = [c for c in chunks if "web_search" in c]
    assert len(carrying) == 1 and "web_search" not in carrying[0]["choices"][0]["delta"]
    assert sources_of(carrying[0]) == sources_of(body)


def test_sources_of_is_tolerant():
    assert sources_of({"web_search": "nope"}) == [] and sources_of(None) == []
    odd = sources_of({"web_search": [None, {"title": {"x": 1}, "link": 5, "media": True}]})
    assert odd == [
        {"refer": "", "title": "", "link": "5", "media": "", "content": "", "publish_date": "", "icon": ""}
    ]


@pytest.mark.parametrize("stream", [False, True])
def test_a_search_answer_quotes_each_canned_source_with_its_marker(make, stream):
    prompt = "What is new in Python 3.13?"
    run = run_tools(make(), prompt, extra_tools=[web_search_tool(recency="oneWeek")], stream=stream)
    lines = run.text.splitlines()
    assert "```" not in run.text and "Code for:" not in run.text  # not the code intent's sketch
    for n, source in enumerate(run.sources, 1):
        (line,) = [ln for ln in lines if ln.endswith(f"[ref_{n}]")]
        assert source["title"] in line and source["content"] in line and source["media"] in line
        assert "(oneWeek)" in line  # what the request asked for shows in what comes back
    assert lines[-1].startswith("These are the offline local server's canned sources on example domains")
    assert re.search(r"[\u4e00-\u9fff]", lines[0]) and "🔎" in lines[0]  # one short bilingual label
    assert run.text == run_tools(make(), prompt, extra_tools=[web_search_tool(recency="oneWeek")]).text


def test_a_long_source_list_is_cut_and_json_mode_stays_json(make):
    body = make().chat("Tell me about Oslo", tools=[web_search_tool(count=12)])
    text = body["choices"][0]["message"]["content"]
    assert text.count("[ref_") == 10 and "[ref_10]" in text and "... and 2 more" in text
    obj = make().chat(
        "Oslo facts as JSON with keys city, country.",
        tools=[web_search_tool()],
        response_format={"type": "json_object"},
    )
    assert list(json.loads(obj["choices"][0]["message"]["content"])) == ["city", "country"]
    assert len(obj["web_search"]) == 3


def test_the_search_engine_follows_the_region_and_the_setting(ip, api):
    from zhipu_magic.api.search import engine_for

    assert engine_for("https://api.z.ai/api/paas/v4") == "search-prime"
    assert engine_for("https://open.bigmodel.cn/api/paas/v4") == "search_std"
    assert engine_for(None) == "search_std" and engine_for("https://notz.ai.example/v4") == "search_std"
    ip.run_cell_magic("glm", "--search", "What is new in Python 3.13?")
    tool = api.requests[-1].body["tools"][0]["web_search"]
    assert tool["search_engine"] == "search_std"  # a local / bigmodel-style base URL
    ip.run_line_magic("glm", "config search_engine=search_pro")
    ip.run_cell_magic("glm", "--search", "What is new in Python 3.13?")
    assert api.requests[-1].body["tools"][0]["web_search"]["search_engine"] == "search_pro"
