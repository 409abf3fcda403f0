"""``%%glm --tools`` / ``--search`` in a real in-process InteractiveShell, against the local server."""

from __future__ import annotations

import html
import re

import pytest
from IPython.core.error import UsageError

from zhipu_magic.api import tools as api_tools
from zhipu_magic.notebook import cell_tools, render

DEFS = '''
seen = []
def add(a: int, b: int) -> int:
    """Add two numbers."""
    seen.append((a, b))
    return a + b

def explode(city: str) -> str:
    """Always fails."""
    raise ValueError("<b>no</b> weather")
'''


def chats(srv) -> list[dict]:
    return [r.body for r in srv.requests if r.body is not None and "messages" in r.body]


def final_html(ip) -> str:
    return ip.rec.final()[-1]["text/html"]


@pytest.mark.parametrize("line", ["--tools add", "--tools add --no-stream"])
def test_a_tool_in_a_cell(ip, api, line):
    ip.run_cell(DEFS)
    ip.run_cell_magic("glm", f"{line} -o answer", "Please add 2 and 40")
    assert ip.user_ns["seen"] == [(2, 40)]
    reply = ip.user_ns["_glm"]
    assert "42" in reply.text and ip.user_ns["answer"] == reply.text
    call = reply.tool_calls[0]
    assert call["function"]["name"] == "add" and call["args"] == {"a": 2, "b": 40} and call["result"] == "42"
    assert [m["role"] for m in reply.messages][-3:] == ["user", "assistant", "tool"]
    page = final_html(ip)
    assert '<details class="zm-tool' in page and "<code>add</code>" in page and "42" in page
    assert len(ip.rec.final()) == 1  # one output: the cards and the answer together
    assert len(chats(api)) == 2


def test_errors_go_to_the_model_and_render_escaped(ip, api):
    ip.run_cell(DEFS)
    result = ip.run_cell('%%glm --tools explode\nWeather in "Oslo"?')
    assert result.error_in_exec is None
    reply = ip.user_ns["_glm"]
    assert reply.tool_calls[0]["error"] == "ValueError: <b>no</b> weather"
    page = final_html(ip)
    assert "zm-tool-failed" in page and "<b>no</b>" not in page and html.escape("<b>no</b>") in page
    assert "weather" in reply.text


def test_hallucinated_name_and_bad_json(ip, api):
    ip.run_cell(DEFS)
    ip.run_cell_magic("glm", "--tools add", "call the function rm_rf")
    assert "no function named 'rm_rf'" in ip.user_ns["_glm"].tool_calls[0]["error"]
    ip.run_cell_magic("glm", "--tools add", 'call the function add with arguments {"a": ')
    assert "not valid JSON" in ip.user_ns["_glm"].tool_calls[0]["error"]
    assert ip.user_ns["seen"] == []


def test_round_limit(ip, api):
    ip.run_cell(DEFS)
    ip.run_cell_magic("glm", "--tools add --max-rounds 1", "add 1 and 2")
    reply = ip.user_ns["_glm"]
    assert reply.tool_limit == 1 and "round limit" in reply.tool_calls[0]["error"]
    assert ip.user_ns["seen"] == [] and "round limit" in final_html(ip)


def test_confirm_asks_first(ip, api, monkeypatch):
    ip.run_cell(DEFS)
    asked = []
    monkeypatch.setattr("builtins.input", lambda prompt: asked.append(prompt) or "n")
    ip.run_cell_magic("glm", "--tools add --confirm", "add 1 and 2")
    assert asked == ["run add(a=1, b=2)? [y/N] "] and ip.user_ns["seen"] == []
    monkeypatch.setattr("builtins.input", lambda prompt: "y")
    ip.run_cell_magic("glm", "--tools add --confirm", "add 1 and 2")
    assert ip.user_ns["seen"] == [(1, 2)]


def test_tools_all_uses_the_registry(ip, api, monkeypatch):
    monkeypatch.setattr(api_tools, "TOOLS", {})
    with pytest.raises(UsageError, match="no function is registered"):
        ip.run_cell_magic("glm", "--tools all", "add 1 and 2")
    ip.run_cell("import zhipu_magic\n@zhipu_magic.tool\ndef shout(text: str) -> str:\n  return text.upper()")
    ip.run_cell_magic("glm", "--tools all", 'Shout "hello"')
    assert ip.user_ns["_glm"].tool_calls[0]["result"] == "HELLO"


def test_option_checks(ip, api):
    for line, message in [
        ("--tools nosuch", "no function of that name"),
        ("--recency oneDay", "go with --search"),
        ("--search --recency tomorrow", "--recency is one of"),
        ("--tools add --max-rounds 0", "at least 1"),
        ("--confirm", "go with --tools"),
        ("--tools add --async", "not with --async"),
    ]:
        ip.run_cell(DEFS)
        with pytest.raises(UsageError, match=message):
            ip.run_cell_magic("glm", line, "add 1 and 2")
    assert chats(api) == []


def test_dry_run_shows_the_schema(ip, api):
    ip.run_cell(DEFS)
    ip.run_cell_magic("glm", "--tools add --search --recency oneWeek --dry-run", "add 1 and 2")
    text = ip.rec.calls[-1]["data"]["text/plain"]
    assert '"name": "add"' in text and '"required": [' in text
    assert '"search_recency_filter": "oneWeek"' in text
    assert chats(api) == []


@pytest.mark.parametrize("line", ["--search", "--search --no-stream"])
def test_search_sources_rendered_and_bound(ip, api, line):
    ip.run_cell_magic("glm", f"{line} --domain docs.python.org", "What is new in Python?")
    reply = ip.user_ns["_glm"]
    assert [s["link"].split("/")[2] for s in reply.sources] == ["docs.python.org"] * 3
    assert chats(api)[0]["tools"][0]["web_search"]["search_domain_filter"] == "docs.python.org"
    page = final_html(ip)
    assert '<details class="zm-sources' in page and "Sources (3)" in page
    refs = re.findall(r'<sup class="zm-ref"><a href="#(zm-src-\w+-\d)"', page)
    assert refs and all(f'id="{r}"' in page for r in refs)
    assert '<a href="https://docs.python.org/' in page
    assert "[ref_1]" not in page
    plain = ip.rec.final()[-1]["text/plain"]
    assert "Sources:" in plain and "https://docs.python.org/" in plain


def test_unsafe_source_links_are_not_live():
    from zhipu_magic.core.reply import Reply
    from zhipu_magic.notebook.render import bundles

    reply = Reply("glm-4-flash", [])
    reply.set_response({"choices": [{"message": {"content": "See [ref_1] and [ref_2] and [ref_9]."}}]})
    reply.sources = [
        {"title": "<img src=x onerror=alert(1)>", "link": "javascript:alert(1)"},
        {"title": "ok", "link": "https://example.com/a?b=1&c=2"},
    ]
    page = bundles.reply_html(reply, final=True)
    assert "<img" not in page and 'href="javascript' not in page and "onerror=" not in page
    assert 'href="https://example.com/a?b&#61;1&amp;c&#61;2"' in page
    assert "[ref_9]" in page  # no source 9: the marker stays as text
    assert cell_tools.ask.__doc__  # the confirm prompt exists


def test_tool_stream_where_the_model_has_it(ip, api):
    ip.run_cell(DEFS)
    ip.run_cell_magic("glm", "-m glm-4.6 --tools add", "Please add 2 and 40")
    assert chats(api)[0]["tool_stream"] is True and ip.user_ns["seen"] == [(2, 40)]
    assert "42" in ip.user_ns["_glm"].text
    ip.run_cell_magic("glm", "-m glm-4-flash --tools add", "Please add 2 and 40")
    ip.run_cell_magic("glm", "-m glm-4.6 --tools add --no-stream", "Please add 2 and 40")
    assert [b.get("tool_stream") for b in chats(api)[2:]] == [None, None, None, None]


def test_a_terminal_gets_each_round_and_a_line_per_call(ip, api, monkeypatch, capsys):
    monkeypatch.setattr(render, "is_rich_frontend", lambda shell=None: False)
    ip.run_cell(DEFS)
    ip.run_cell_magic("glm", "--tools add", "Please add 2 and 40")
    out = capsys.readouterr().out
    assert '🔧 add({"a": 2, "b": 40}) -> 42' in out
    assert "According to the tool, the result is: 42" in out


def test_an_interrupt_in_a_tool_stops_the_cell_and_keeps_what_arrived(ip, api):
    ip.run_cell("def stop(city: str) -> str:\n    raise KeyboardInterrupt")
    result = ip.run_cell('%%glm --tools stop\nWeather in "Oslo"?')
    assert isinstance(result.error_in_exec, KeyboardInterrupt)
    reply = ip.user_ns["_glm"]
    assert reply.interrupted and reply.tool_calls[0]["function"]["name"] == "stop"
    ip.user_ns.pop("stop", None)


def test_the_footer_and_the_log_count_every_round(ip, api):
    """Issue 14: a tool cell's usage is the sum of its model calls (and so its cost), not the last's."""
    from zhipu_magic.core.ledger import get_ledger, query

    ip.run_cell(DEFS)
    ip.run_cell_magic("glm", "--tools add", "Please add 2 and 40")
    reply = ip.user_ns["_glm"]
    assert len(chats(api)) == 2 and reply.tool_rounds == 2
    counted = ip._zhipu_magic.usage[reply.model]  # %glm usage: each round counted on its own
    assert counted["requests"] == 2 and counted["prompt"] > 0 and counted["completion"] > 0
    usage = reply.usage
    assert usage["prompt_tokens"] == counted["prompt"] and usage["completion_tokens"] == counted["completion"]
    assert usage["total_tokens"] == counted["total"]
    footer = render.footer_text(reply)
    assert f"{counted['prompt']} in / {counted['completion']} out over 2 rounds" in footer
    (row,) = query.recent(get_ledger(), 5)
    assert row["kind"] == "tools" and row["total_tokens"] == counted["total"]
    assert row["prompt_tokens"] == counted["prompt"]


def test_sources_stay_with_their_answer_in_history(ip, api):
    """Issue 14: %glm history shows each answer's sources under it (footnotes linked); the next turn
    sends the conversation without them."""
    ip.run_cell_magic("glm", "--search -c research --domain docs.python.org", "What is new in Python?")
    cited = ip.user_ns["_glm"]
    ip.run_cell_magic("glm", "-c research", "And in one sentence?")
    assert all("sources" not in m for m in chats(api)[-1]["messages"])
    ip.run_line_magic("glm", "history research")
    out = ip.rec.calls[-1]["data"]
    page, plain = out["text/html"], out["text/plain"]
    assert page.count('<details class="zm-sources') == 1 and "Sources (3)" in page
    first, second = page.index("What is new in Python?"), page.index("And in one sentence?")
    assert first < page.index("zm-sources") < second  # under the answer it belongs to
    refs = re.findall(r'<sup class="zm-ref"><a href="#(zm-src-\w+-\d)"', page)
    assert refs and all(f'id="{r}"' in page for r in refs)
    for source in cited.sources:
        assert f'<a href="{html.escape(source["link"])}"' in page and source["link"] in plain
    assert plain.index("Sources:") < plain.index("And in one sentence?")


@pytest.mark.parametrize("line", ["--tools add", "--tools add --no-stream"])
def test_a_tool_cell_is_replayed_with_its_cards_and_nothing_runs(ip, api, line):
    """Issue 14: with replay on, an identical tool cell shows the recorded answer and tool cards;
    neither the function nor the server is called."""
    ip.run_cell(DEFS)
    ip.run_cell_magic("glm", line, "Please add 2 and 40")
    first, sent = ip.user_ns["_glm"], len(chats(api))
    ip.run_line_magic("glm", "config replay=on")
    ip.run_cell_magic("glm", f"{line} -o again", "Please add 2 and 40")
    reply = ip.user_ns["_glm"]
    assert len(chats(api)) == sent and ip.user_ns["seen"] == [(2, 40)]  # nothing called again
    assert reply.replayed == first.log_id and reply.text == first.text == ip.user_ns["again"]
    call = reply.tool_calls[0]
    assert call["function"]["name"] == "add" and call["args"] == {"a": 2, "b": 40} and call["result"] == "42"
    page = final_html(ip)
    assert '<details class="zm-tool' in page and "<code>add</code>" in page
    assert "replayed · 0 tokens" in page and "tool calls from the log, not run again" in page
    ip.run_cell_magic("glm", f"{line} --fresh", "Please add 2 and 40")
    assert len(chats(api)) == sent + 2 and ip.user_ns["seen"] == [(2, 40), (2, 40)]


def test_a_search_cell_is_replayed_with_its_sources(ip, api):
    ip.run_cell_magic("glm", "--search", "What is new in Python?")
    first, sent = ip.user_ns["_glm"], len(chats(api))
    ip.run_cell_magic("glm", "--search --replay -c notes", "What is new in Python?")
    reply = ip.user_ns["_glm"]
    assert len(chats(api)) == sent and reply.replayed == first.log_id
    assert reply.sources == first.sources and len(reply.sources) == 3
    page = final_html(ip)
    assert "Sources (3)" in page and '<sup class="zm-ref">' in page and "replayed · 0 tokens" in page
    ip.run_line_magic("glm", "history notes")  # the replayed answer keeps its sources there too
    assert "Sources (3)" in ip.rec.calls[-1]["data"]["text/html"]
