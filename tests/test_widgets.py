"""Task card, task panel and chat panel, driven in-process against the local server."""

from __future__ import annotations

import time
from html.parser import HTMLParser
from pathlib import Path

import pytest

ipywidgets = pytest.importorskip("ipywidgets")

from zhipu_magic.api.client import GLMClient  # noqa: E402
from zhipu_magic.core.tasks.store import FAIL, PROCESSING, SUCCESS, TaskStore, TaskStoreWarning  # noqa: E402
from zhipu_magic.notebook import widgets  # noqa: E402
from zhipu_magic.notebook.render import panels as panel_html  # noqa: E402
from zhipu_magic.server import LocalServer  # noqa: E402


class Audit(HTMLParser):
    """Collects what would be live in a browser: script tags, on* handlers, unsafe URLs, images."""

    def __init__(self) -> None:
        super().__init__()
        self.scripts = 0
        self.handlers: list[str] = []
        self.bad_urls: list[str] = []
        self.imgs: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag in ("script", "iframe", "object", "embed"):
            self.scripts += 1
        for name, value in attrs:
            if name.startswith("on"):
                self.handlers.append(name)
            if (
                name in ("href", "src", "poster", "action")
                and value
                and not value.startswith(("http", "mailto"))
            ):
                self.bad_urls.append(value)
        if tag == "img":
            self.imgs.append(dict(attrs).get("src", ""))


def audit(html: str) -> Audit:
    a = Audit()
    a.feed(html)
    return a


@pytest.fixture
def srv():
    with LocalServer(port=0, task_polls=1) as s:
        yield s


@pytest.fixture
def client(srv):
    with GLMClient(api_key="test-key", base_url=srv.base_url, max_retries=0) as c:
        yield c


@pytest.fixture
def store(tmp_path: Path) -> TaskStore:
    return TaskStore(tmp_path)


@pytest.fixture(autouse=True)
def no_polling_left():
    """Cards poll by themselves until their task is final: none outlives its test (and its tmp store)."""
    yield
    widgets.TaskCard.stop_polling()


def submitted(store: TaskStore, client, prompt: str, kind: str = "chat") -> dict:
    """Submitted the way %%glm --async and the panel do (recorded at once, with this notebook)."""
    from zhipu_magic.core.tasks.polling import submit_task

    return submit_task(store, client, prompt, kind=kind, local=True)


def test_task_card_refreshes_to_the_rendered_answer(store, client) -> None:
    rec = submitted(store, client, "explain a table please")
    card = widgets.task_card(rec, client, store)
    assert isinstance(card, ipywidgets.VBox)
    assert PROCESSING in card.header.value and rec["id"] in card.header.value
    assert "Refresh" in card.refresh_button.description
    card.refresh(wait=True)
    assert PROCESSING in card.header.value
    card.refresh(wait=True)
    assert SUCCESS in card.header.value and card.refresh_button.disabled
    assert 'class="zhipu-magic-reply"' in card.body.value  # rendered by render.reply_html
    assert "zm-footer" in card.body.value and "local server" in card.body.value
    assert "<table" in card.body.value


def test_task_card_shows_failure_reason(store, client) -> None:
    rec = submitted(store, client, "x [[fault:task_fail]]")
    card = widgets.task_card(rec["id"], client, store)
    card.refresh(wait=True)
    card.refresh(wait=True)
    assert FAIL in card.header.value and "zm-error" in card.body.value


def test_card_refresh_error_is_one_line(store, srv) -> None:
    dead = GLMClient(api_key="k", base_url="http://127.0.0.1:9/api/paas/v4", max_retries=0, timeout=(1, 1))
    store.record_submission({"id": "t1", "task_status": PROCESSING}, kind="chat", model="m", prompt="p")
    card = widgets.task_card("t1", dead, store)
    card.refresh(wait=True)
    assert "zm-error" in card.body.value or "zm-error" in card.message.value
    assert "Traceback" not in card.body.value + card.message.value
    assert store.get("t1")["status"] == PROCESSING


def test_hostile_task_answer_is_inert(store, client) -> None:
    rec = submitted(store, client, "[[fault:hostile]]")
    card = widgets.task_card(rec, client, store)
    card.refresh(wait=True)
    card.refresh(wait=True)
    html = card.body.value
    assert SUCCESS in card.header.value
    a = audit(html)
    assert a.scripts == 0 and a.handlers == [] and a.bad_urls == [] and a.imgs == []
    assert (
        "javascript:" not in html.lower().replace("javascript:", "", 0)
        or 'href="javascript' not in html.lower()
    )


def test_unknown_status_and_ids_are_escaped() -> None:
    evil = '<img src=x onerror="alert(1)">'
    rec = {
        "id": evil,
        "status": evil,
        "model": evil,
        "prompt": evil,
        "submitted": time.time(),
        "kind": "chat",
    }
    html = panel_html.task_header_html(rec) + panel_html.task_body_html(rec)
    a = audit(html)
    assert a.imgs == [] and a.handlers == []
    bundle = panel_html.task_card_bundle({**rec, "status": FAIL, "error": evil})
    assert audit(bundle["text/html"]).handlers == [] and "text/markdown" not in bundle


def test_video_html_allows_only_http_urls() -> None:
    good = {
        "video_result": [{"url": "https://cdn.example/v.mp4", "cover_image_url": "https://cdn.example/c.jpg"}]
    }
    html = panel_html.video_html(good)
    assert '<video class="zm-video" controls' in html and 'src="https://cdn.example/v.mp4"' in html
    assert 'poster="https://cdn.example/c.jpg"' in html
    # issue 10.13: the player once, its cover as the poster: no second <img>, no raw URL line
    assert "<img" not in html and html.count("<video") == 1 and ">https://cdn.example/v.mp4<" not in html
    for bad in (
        "javascript:alert(1)",
        "data:text/html,<script>",
        'https://x/"onerror="alert(1)',
        "//x/y.mp4",
    ):
        html = panel_html.video_html({"video_result": [{"url": bad, "cover_image_url": bad}]})
        a = audit(html)
        assert a.handlers == [] and a.bad_urls == [] and "<video" not in html


def test_video_task_shows_player_and_cover(store, client, srv) -> None:
    rec = submitted(store, client, "a cat surfing", kind="video")
    card = widgets.task_card(rec, client, store)
    card.refresh(wait=True)
    card.refresh(wait=True)
    html = card.body.value
    assert "<video" in html and f"{srv.url}" in html and "sample.mp4" in html and "cover.png" in html
    import requests

    video_url = store.get(rec["id"])["result"]["video_result"][0]["url"]
    r = requests.get(video_url, timeout=5)
    assert r.status_code == 200 and r.headers["Content-Type"] == "video/mp4" and len(r.content) > 1000


def test_panel_submit_refresh_and_list_newest_first(store, client) -> None:
    panel = widgets.task_panel(client, store)
    panel.prompt.value = "first question"
    panel.submit(wait=True)
    assert panel.prompt.value == ""
    panel.submit("second question", wait=True)
    panel.kind.value = "video"
    assert panel.model.value == "cogvideox-flash" and all(m.startswith("cog") for m in panel.model.options)
    panel.submit("a video", wait=True)
    rows = [r.value for r in panel.rows.children]
    assert len(rows) == 3 and "a video" in rows[0] and "first question" in rows[2]
    panel.refresh(wait=True)
    panel.refresh(wait=True)
    assert store.pending() == []
    rows = [r.value for r in panel.rows.children]
    assert "<video" in rows[0] and "zhipu-magic-reply" in rows[1]
    assert "polled" in panel.status.value and "zm-error" not in panel.status.value


def test_panel_errors_are_one_line(store) -> None:
    dead = GLMClient(api_key="k", base_url="http://127.0.0.1:9/api/paas/v4", max_retries=0, timeout=(1, 1))
    panel = widgets.task_panel(dead, store)
    panel.submit("hello", wait=True)
    assert "zm-error" in panel.status.value and "Traceback" not in panel.status.value
    assert panel.status.value.count("\n") == 0
    panel.submit("", wait=True)
    assert "type a prompt" in panel.status.value


def test_panel_unknown_model_error_shown(store, client) -> None:
    panel = widgets.task_panel(client, store)
    panel.model.options = [*panel.model.options, "no-such-model"]
    panel.model.value = "no-such-model"
    panel.submit("hi", wait=True)
    assert "1211" in panel.status.value


def test_panel_auto_refresh_runs_until_nothing_pending(store, client) -> None:
    panel = widgets.TaskPanel(client, store, auto_interval=0.05)
    panel.submit("one", wait=True)
    panel.submit("two", wait=True)
    panel.auto.value = True
    for _ in range(200):
        if not panel.auto.value:
            break
        time.sleep(0.02)
    assert panel.auto.value is False and store.pending() == []
    assert "stopped" in panel.status.value


def test_panel_works_in_memory_when_home_unwritable(tmp_path: Path, client) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.warns(TaskStoreWarning):
        store = TaskStore(blocker / "home")
    panel = widgets.task_panel(client, store)
    assert "in memory" in panel.status.value
    panel.submit("kept in memory", wait=True)
    panel.refresh(wait=True)
    panel.refresh(wait=True)
    assert store.list()[0]["status"] == SUCCESS


def test_click_returns_at_once(store) -> None:
    with LocalServer(port=0, task_polls=1, poll_delay=1.0) as slow:
        c = GLMClient(api_key="k", base_url=slow.base_url)
        rec = submitted(store, c, "q")
        card = widgets.task_card(rec, c, store)
        t0 = time.monotonic()
        card.refresh_button.click()
        assert time.monotonic() - t0 < 0.2  # the poll runs on a worker thread
        card.join(5)
        c.close()


# -- chat panel -----------------------------------------------------------------------------------
@pytest.fixture
def registry():
    from zhipu_magic.core.conversation import ConversationRegistry

    return ConversationRegistry()


def test_chat_panel_streams_and_records_the_turn(client, registry) -> None:
    panel = widgets.ChatPanel("demo", client, registry=registry)
    assert "no messages yet" in panel.history.value
    panel.input.value = "hi"
    panel.send(wait=True)
    assert panel.reply.text and not panel.reply.interrupted
    turns = registry.get("demo").turns
    assert len(turns) == 1 and turns[0].user == "hi" and turns[0].assistant == panel.reply.text
    assert "hi" in panel.history.value and panel.live.value == ""
    assert "local server" in panel.status.value
    assert not panel.send_button.disabled and panel.stop_button.disabled
    # the next message carries the history
    panel.send("echo: second", wait=True)
    assert panel.reply.messages[-3:-1] == [
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": turns[0].assistant},
    ]
    assert panel.reply.text == "second"


def test_chat_panel_streams_live_and_stop_closes_the_connection(registry) -> None:
    with LocalServer(port=0, token_rate=40) as slow, GLMClient(api_key="k", base_url=slow.base_url) as c:
        panel = widgets.ChatPanel("s", c, registry=registry, min_interval=0.05)
        seen: list[str] = []
        panel.live.observe(lambda ch: seen.append(ch["new"]), names="value")
        panel.send("tell me a long story please")
        assert panel.streaming  # the click returned; the answer streams on a worker thread
        for _ in range(200):
            if panel.reply is not None and len(panel.reply.text) > 40:
                break
            time.sleep(0.02)
        t0 = time.monotonic()
        panel.stop()
        panel.join(5)
        assert time.monotonic() - t0 < 1.0
        assert slow.wait_disconnect(3), "the server never saw the client go away"
        assert panel.reply.interrupted and panel.reply.text
        assert len([v for v in seen if "zm-answer" in v]) >= 2  # painted progressively
        turn = registry.get("s").turns[-1]
        assert turn.assistant == panel.reply.text  # partial answer kept
        assert "stopped" in panel.status.value and not panel.streaming


def test_stop_wakes_a_stalled_read(registry) -> None:
    with LocalServer(port=0, token_rate=0) as s, GLMClient(api_key="k", base_url=s.base_url) as c:
        panel = widgets.ChatPanel("stall", c, registry=registry)
        panel.send("story [[fault:stall:20]]")
        for _ in range(200):
            if panel.reply is not None and panel.reply.text:
                break
            time.sleep(0.02)
        time.sleep(0.2)  # now blocked in recv inside the stall
        t0 = time.monotonic()
        panel.stop()
        panel.join(5)
        assert time.monotonic() - t0 < 1.5 and not panel.streaming
        assert s.wait_disconnect(3)


def test_chat_panel_and_magic_share_the_conversation(client, registry) -> None:
    panel = widgets.ChatPanel("shared", client, registry=registry)
    registry.get("shared").add_turn("from the magic", "an answer from a cell")  # what %%glm -c does
    assert "from the magic" in panel.history.value and "an answer from a cell" in panel.history.value
    panel.send("echo: from the panel", wait=True)
    assert registry.get("shared").messages()[-1] == {"role": "assistant", "content": "from the panel"}
    panel.clear()
    assert registry.get("shared").turns == [] and "no messages yet" in panel.history.value
    panel.close()
    registry.get("shared").add_turn("after close", "x")  # a closed panel no longer listens


def test_chat_panel_hostile_answer_is_inert(client, registry) -> None:
    panel = widgets.ChatPanel("h", client, registry=registry)
    panel.send("[[fault:hostile]]", wait=True)
    a = audit(panel.history.value)
    assert a.scripts == 0 and a.handlers == [] and a.bad_urls == [] and a.imgs == []


def test_chat_panel_error_is_one_line(registry) -> None:
    dead = GLMClient(api_key="k", base_url="http://127.0.0.1:9/api/paas/v4", max_retries=0, timeout=(1, 1))
    panel = widgets.ChatPanel("e", dead, registry=registry)
    panel.send("hello", wait=True)
    assert "zm-error" in panel.status.value and "Traceback" not in panel.status.value
    assert registry.get("e").turns == [] and not panel.send_button.disabled


def test_chat_panel_error_mid_stream_keeps_partial(client, registry) -> None:
    panel = widgets.ChatPanel("d", client, registry=registry)
    panel.send("a story [[fault:drop]]", wait=True)
    assert panel.reply.error is not None and panel.reply.text
    assert "zm-answer" in panel.live.value and "zm-error" in panel.status.value


def test_default_client_uses_local_server_without_key(monkeypatch) -> None:
    c = widgets.default_client()
    assert c.base_url.startswith("http://127.0.0.1:") and c.has_key


def test_panels_without_a_client_show_one_line_and_recover(store, client, registry, monkeypatch) -> None:
    from zhipu_magic.api.errors import MissingKeyError

    def no_key():
        raise MissingKeyError("no API key for https://x: set ZHIPUAI_API_KEY or run %glm login", hint="")

    monkeypatch.setattr(widgets.base, "default_client", no_key)
    panel = widgets.task_panel(None, store)
    chat = widgets.ChatPanel("k", None, registry=registry)
    assert "ZHIPUAI_API_KEY" in panel.status.value and "ZHIPUAI_API_KEY" in chat.status.value
    panel.submit("hello", wait=True)
    assert "ZHIPUAI_API_KEY" in panel.status.value and store.list() == []
    monkeypatch.setattr(widgets.base, "default_client", lambda: client)  # e.g. after %glm login
    panel.submit("hello", wait=True)
    assert len(store.list()) == 1
    chat.send("echo: ok", wait=True)
    assert chat.reply.text == "ok"


def test_task_card_plain_text_names_the_fetch_command(store, client) -> None:
    rec = submitted(store, client, "q")
    bundle = widgets.task_card(rec, client, store)._repr_mimebundle_()
    assert f"%glm result {rec['id']} " in bundle["text/plain"]
    assert "application/vnd.jupyter.widget-view+json" in bundle


# -- %%glm --async / --wait / --video (the magics call show_task / wait_for_task) -----------------
@pytest.fixture
def magic_shell(srv, monkeypatch):
    from IPython.core.displaypub import DisplayPublisher
    from IPython.core.interactiveshell import InteractiveShell

    from zhipu_magic.notebook.render import live

    class Rec(DisplayPublisher):
        def __init__(self, *a, **k):
            super().__init__(*a, **k)
            self.calls: list[dict] = []

        def publish(self, data, metadata=None, source=None, *, transient=None, update=False, **kw):
            self.calls.append(dict(data))

        def clear_output(self, wait=False):
            pass

    created = not InteractiveShell.initialized()
    ip = InteractiveShell.instance()
    saved = ip.display_pub
    ip.display_pub = rec = Rec(shell=ip)
    monkeypatch.setattr(live, "is_rich_frontend", lambda shell=None: True)
    monkeypatch.setenv("ZHIPUAI_BASE_URL", srv.base_url)
    monkeypatch.setenv("ZHIPUAI_API_KEY", "test-key")
    ip.run_line_magic("load_ext", "zhipu_magic")
    yield ip, rec
    ip.run_line_magic("unload_ext", "zhipu_magic")
    ip.display_pub = saved
    for name in ("_glm", "ans", "url"):
        ip.user_ns.pop(name, None)
    if created:
        InteractiveShell.clear_instance()


def test_magic_async_shows_a_live_card(magic_shell) -> None:
    from zhipu_magic.core.tasks.store import get_store

    ip, rec = magic_shell
    ip.run_cell_magic("glm", "--async", "Summarise owls")
    bundle = rec.calls[-1]
    assert "application/vnd.jupyter.widget-view+json" in bundle and "%glm result" in bundle["text/plain"]
    task_id = ip.user_ns["_glm"].task_id
    assert get_store().get(task_id)["status"] == PROCESSING


def test_magic_wait_shows_the_answer_and_binds(magic_shell) -> None:
    import zhipu_magic.core.tasks.polling as polling_mod

    ip, rec = magic_shell
    # wait_for_task's default sleep was bound at import; patch the function's default via a wrapper
    real = polling_mod.wait_for_task
    polling_mod.wait_for_task = lambda *a, **k: real(*a, sleep=lambda s: time.sleep(0.01), **k)
    try:
        ip.run_cell_magic("glm", "--async --wait -o ans", "echo: owls are birds")
        reply = ip.user_ns["_glm"]
        assert reply.text == "owls are birds" and ip.user_ns["ans"] == "owls are birds" and reply.task_id
        assert "zhipu-magic-reply" in rec.calls[-1]["text/html"]
        from zhipu_magic.api.errors import GLMError

        with pytest.raises(GLMError, match="failed"):
            ip.run_cell_magic("glm", "--wait", "doomed [[fault:task_fail]]")
        ip.run_cell_magic("glm", "--video --wait -o url", "a paper boat")
        assert ip.user_ns["url"].endswith("sample.mp4")
        # issue 10.2: a finished video is a plain output (saved with the notebook), not a widget
        assert "application/vnd.jupyter.widget-view+json" not in rec.calls[-1]
        assert "<video" in rec.calls[-1]["text/html"] and "-o video.mp4" in rec.calls[-1]["text/plain"]
    finally:
        polling_mod.wait_for_task = real


def test_panels_have_a_plain_text_summary(client, tmp_path: Path) -> None:
    """Saved notebooks and terminals show a sentence, not the widget tree's repr."""
    store = TaskStore(tmp_path)
    panel = widgets.task_panel(client=client, store=store)
    panel.submit("a task", wait=True)
    assert panel._repr_mimebundle_()["text/plain"] == "task panel: 1 tasks, 1 pending"
    chat = widgets.chat_panel("repr-demo", client=client)
    chat.send("hello", wait=True)
    assert chat._repr_mimebundle_()["text/plain"] == "chat panel: conversation 'repr-demo', 1 turns"
    assert "application/vnd.jupyter.widget-view+json" in chat._repr_mimebundle_()


def test_an_open_chat_panel_does_not_revive_a_reset_conversation(client) -> None:
    from zhipu_magic.core.conversation import conversations

    panel = widgets.chat_panel("revive-check", client=client)
    panel.send("hello", wait=True)
    conversations.reset()
    assert "revive-check" not in conversations.names()
    assert "no messages yet" in panel.history.value


# -- issue 10: saved notebooks, cards that poll, videos that cannot load, the panels ------------------
@pytest.fixture
def published(monkeypatch):
    """What ``render.show`` publishes in a rich front end, in order (bundles as dicts)."""
    from IPython.core.interactiveshell import InteractiveShell

    from zhipu_magic.notebook import render
    from zhipu_magic.notebook.render import live

    calls: list[dict] = []
    created = not InteractiveShell.initialized()
    InteractiveShell.instance()  # display() formats (and calls _ipython_display_) only with a shell
    monkeypatch.setattr(live, "is_rich_frontend", lambda shell=None: True)

    def show(bundle, metadata=None, *, display_id=None, update=False):
        if not update:  # a new output; updates replace one in place
            calls.append(dict(bundle))

    monkeypatch.setattr(live, "show", show)
    monkeypatch.setattr(render, "show", live.show)
    yield calls
    if created:
        InteractiveShell.clear_instance()


def widget_view(bundle: dict) -> bool:
    return "application/vnd.jupyter.widget-view+json" in bundle


def finished(store, client, prompt: str, kind: str = "chat") -> dict:
    rec = submitted(store, client, prompt, kind)
    from zhipu_magic.core.tasks.polling import wait_for_task

    return wait_for_task(store, client, rec["id"], sleep=lambda s: None)


def test_a_finished_task_is_a_plain_output_saved_with_the_notebook(store, client, published) -> None:
    rec = finished(store, client, "explain a table please")
    assert widgets.show_task(rec, client, store) is None
    assert len(published) == 1 and not widget_view(published[0])  # nothing that needs a kernel
    assert "zhipu-magic-reply" in published[0]["text/html"] and "<table" in published[0]["text/html"]
    video = finished(store, client, "a boat", kind="video")
    widgets.show_task(video["id"], client, store)
    assert not widget_view(published[-1]) and published[-1]["text/html"].count("<video") == 1


def test_live_widgets_come_after_a_note_that_a_saved_notebook_shows(store, client, published) -> None:
    from IPython.display import display

    rec = submitted(store, client, "q")
    card = widgets.show_task(rec, client, store)
    assert card is not None and len(published) == 2
    note, view = published
    assert widget_view(view) and not widget_view(note)
    assert 'class="zm-reopen-note"' in note["text/html"] and "<style>" in note["text/html"]
    assert f"%glm result {rec['id']}" in note["text/plain"]
    assert a_note_is_inert(note["text/html"])
    card.close()
    for panel, words in (
        (widgets.task_panel(client, store), "run this cell to reopen the panel"),
        (widgets.chat_panel("notes", client), "run this cell to reopen it"),
    ):
        published.clear()
        display(panel)  # what render.show_object does
        assert [widget_view(b) for b in published] == [False, True]
        assert words in published[0]["text/plain"] and words in published[0]["text/html"]
        assert "zm-live" in panel._dom_classes
        panel.close()


def a_note_is_inert(html: str) -> bool:
    a = audit(html)
    return a.scripts == 0 and a.handlers == [] and a.bad_urls == [] and a.imgs == []


def test_a_card_polls_by_itself_with_backoff_and_stops(store) -> None:
    with LocalServer(port=0, task_polls=3) as s, GLMClient(api_key="k", base_url=s.base_url) as c:
        rec = submitted(store, c, "echo: polled for you")
        t0 = time.monotonic()
        card = widgets.TaskCard(rec, c, store, backoff=(0.02, 0.05))
        assert time.monotonic() - t0 < 0.5 and PROCESSING in card.header.value  # never blocks
        card.poller.join(5)
        assert not card.poller.running and SUCCESS in card.header.value
        assert "polled for you" in card.body.value and card.refresh_button.disabled
        assert card.poller.delays[:3] == [0.02, 0.04, 0.05]  # doubling, capped
        card.close()


def test_the_card_poller_backs_off_from_1_to_10_s_and_stops_when_closed(store) -> None:
    dead = GLMClient(api_key="k", base_url="http://127.0.0.1:9/api/paas/v4", max_retries=0, timeout=(1, 1))
    store.record_submission({"id": "t9", "task_status": PROCESSING}, kind="chat", model="m", prompt="p")
    card = widgets.task_card("t9", dead, store)
    assert card.poller is not None and card.poller.running and card.poller.delays == [1.0]
    card.close()
    card.poller.join(2)
    assert not card.poller.running  # closed: no more polls
    with LocalServer(port=0, api_key="the-right-key") as keyed:
        wrong = GLMClient(api_key="a-wrong-key", base_url=keyed.base_url, max_retries=0)
        bad_key = widgets.TaskCard("t9", wrong, store, backoff=(0.01, 0.01))
        bad_key.poller.join(5)
    assert not bad_key.poller.running and "zm-error" in bad_key.message.value  # polling cannot fix it

    from zhipu_magic.notebook.widgets.base import Backoff

    class Owner:
        pass

    steps: list[int] = []
    owner = Owner()
    poller = Backoff(owner, lambda o: steps.append(1) or False, start=0.01, maximum=0.02).start()
    time.sleep(0.1)
    del owner  # garbage-collected: the poller holds it weakly and ends
    poller.join(2)
    assert steps and not poller.running
    assert [min(1.0 * 2**i, 10.0) for i in range(6)] == [1.0, 2.0, 4.0, 8.0, 10.0, 10.0]
    assert widgets.card.BACKOFF == (1.0, 10.0)


def test_a_finished_card_replaces_its_note_with_the_static_answer(store, client, monkeypatch) -> None:
    """With display ids (``render.show(bundle, display_id=..., update=...)``), the note beside a card
    becomes the static answer once the task is final: that is what the saved notebook shows."""
    from zhipu_magic.notebook import render
    from zhipu_magic.notebook.render import live

    shown: list[tuple[dict, str | None, bool]] = []

    def show(bundle, *, display_id=None, update=False):
        shown.append((dict(bundle), display_id, update))

    monkeypatch.setattr(live, "is_rich_frontend", lambda shell=None: True)
    monkeypatch.setattr(live, "show", show)
    monkeypatch.setattr(render, "show", show)
    rec = submitted(store, client, "explain a table please")
    card = widgets.task_card(rec, client, store, auto=False)
    card._ipython_display_()
    note_id = shown[0][1]
    assert note_id and "still running" in shown[0][0]["text/plain"]
    card.refresh(wait=True)
    card.refresh(wait=True)
    bundle, display_id, update = shown[-1]
    assert (display_id, update) == (note_id, True)
    assert "zhipu-magic-reply" in bundle["text/html"] and "zm-reopen-note" in bundle["text/html"]
    card.close()


def test_a_video_that_cannot_load_says_so_in_one_line(store, srv) -> None:
    with GLMClient(api_key="k", base_url=srv.base_url) as c:
        rec = finished(store, c, "a cat surfing", kind="video")
    dead_url = "http://127.0.0.1:9/cdn/expired.mp4"  # an expired link, a server that is gone
    gone = {**rec, "result": {"video_result": [{"url": dead_url, "cover_image_url": dead_url}]}}
    from zhipu_magic.notebook.widgets.card import static_card

    html = static_card(gone)["text/html"]
    assert "<video" not in html and "zm-video-gone" in html
    assert f"%glm result {rec['id']} -o video.mp4" in html and html.count("zm-video-gone") == 1
    alive = static_card(rec)["text/html"]
    assert alive.count("<video") == 1 and "zm-video-gone" not in alive
    assert f"%glm result {rec['id']} -o video.mp4" in alive  # the way to fetch it again, under it
    store.put({**gone, "id": "gone-1", "submitted": time.time() + 1})
    panel = widgets.task_panel(None, store)
    panel.scope.value = "all"
    for _ in range(100):
        if "zm-video-gone" in panel.rows.children[0].value:
            break
        time.sleep(0.05)
    assert "zm-video-gone" in panel.rows.children[0].value and "<video" not in panel.rows.children[0].value


def test_task_panel_filters_this_notebook_deletes_and_clears_finished(store, client, monkeypatch) -> None:
    monkeypatch.setenv("JPY_SESSION_NAME", "/home/ada/here.ipynb")
    store.record_submission(
        {"id": "elsewhere", "task_status": SUCCESS}, kind="chat", model="m", prompt="other"
    )
    panel = widgets.task_panel(client, store)
    assert (
        panel.notebook == "/home/ada/here.ipynb"
        and "no tasks for this notebook" in panel.rows.children[0].value
    )
    panel.submit("mine, still running", wait=True)
    panel.submit("mine, soon done", wait=True)
    assert [r.value.count("mine") for r in panel.rows.children] == [1, 1]
    assert store.get(store.list()[0]["id"])["notebook"] == "/home/ada/here.ipynb"
    panel.scope.value = "all"
    assert len(panel.rows.children) == 3
    panel.scope.value = "this notebook"
    done = finished(store, client, "echo: done")  # submitted like %%glm does: tagged with this notebook
    widgets.show_task(done, client, store)
    panel.redraw()
    assert len(panel.rows.children) == 3
    rows = panel.rows.children
    first = rows[0]
    first.delete_button.click()
    assert (
        first.task_id not in [r.task_id for r in panel.rows.children] and "removed task" in panel.status.value
    )
    panel.refresh(wait=True)
    panel.refresh(wait=True)
    assert panel.clear_finished() == 2 and "no tasks for this notebook" in panel.rows.children[0].value
    panel.scope.value = "all"
    assert [r.task_id for r in panel.rows.children] == ["elsewhere"]  # others' tasks are left alone


def test_task_panel_rows_are_alike_and_bounded(store, client, monkeypatch) -> None:
    from zhipu_magic.notebook.widgets import tasks as tasks_mod

    monkeypatch.setattr(tasks_mod, "MAX_ROWS", 3)
    panel = widgets.task_panel(client, store)
    for i in range(4):
        panel.submit(f"echo: answer {i}", wait=True)
    panel.kind.value = "video"
    panel.submit("a video", wait=True)
    for _ in range(3):
        panel.refresh(wait=True)
    rows = panel.rows.children
    assert len(rows) == 4 and "2 older task(s) not shown" in rows[-1].value
    assert all(r.value.count("<details open>") == 1 for r in rows[:3])  # one layout, all open
    video = rows[0].value
    assert video.count("<video") == 1 and "<img" not in video and video.count("sample.mp4") == 2
    assert panel.rows.layout.max_height == "520px" and panel.rows.layout.overflow == "auto"


def test_chat_panel_sends_on_the_keys_and_clear_asks_first(client, registry) -> None:
    from zhipu_magic.notebook.widgets.prompt import PromptBox

    panel = widgets.ChatPanel("keys", client, registry=registry)
    assert isinstance(panel.input, PromptBox) and "Ctrl/Cmd+Enter" in panel.input.placeholder
    panel.input.value = "echo: sent by the keyboard"
    # what the front end sends on Ctrl/Cmd+Enter and Shift+Enter: the comm message, as the kernel gets it
    panel.input._handle_custom_msg({"event": "submit", "value": "echo: sent by the keyboard"}, [])
    panel.join(10)
    assert registry.get("keys").turns[-1].assistant == "sent by the keyboard"
    assert panel.input.value == ""
    panel.input._handle_custom_msg({"event": "other"}, [])  # unknown messages are ignored
    assert len(registry.get("keys").turns) == 1
    panel.clear_button.click()
    assert len(registry.get("keys").turns) == 1 and "click again" in panel.status.value
    assert panel.clear_button.description == "Really clear?"
    panel.send("echo: changed my mind", wait=True)  # anything else cancels the question
    assert panel.clear_button.description == "Clear"
    panel.clear_button.click()
    panel.clear_button.click()
    assert registry.get("keys").turns == [] and "cleared" in panel.status.value


def test_the_reopen_css_is_one_rule_per_selector_and_never_nests_has() -> None:
    """A browser drops a whole rule whose selector it rejects, and ``:has()`` inside ``:has()`` is
    rejected: the first version of this CSS hid nothing in JupyterLab for that reason."""
    import re

    css = panel_html.reopen_note_bundle("x")["text/html"].split("<style>")[1].split("</style>")[0]
    rules = re.findall(r"([^{}]+)\{display:none\}", css)
    assert len(rules) == 2 and all("," not in r for r in rules)
    for rule in rules:
        for start in [m.start() for m in re.finditer(r":has\(", rule)]:  # no :has( inside a :has(...)
            level, i = 1, start + 5
            while level:
                level += {"(": 1, ")": -1}.get(rule[i], 0)
                i += 1
            assert ":has(" not in rule[start + 5 : i - 1], rule


def test_chat_panel_answers_are_in_the_call_log(client, registry) -> None:
    """The chat panel streams into its Reply once (no second parse) and records the call."""
    from zhipu_magic.core.ledger import get_ledger, query

    panel = widgets.ChatPanel("logged", client, registry=registry)
    panel.send("echo: remember me", wait=True)
    assert panel.reply.text == "remember me"
    rows = [r for r in query.recent(get_ledger(), n=5) if r["kind"] == "chat_panel"]
    assert rows and rows[0]["answer"] == "remember me" and rows[0]["conversation"] == "logged"
    panel.close()


def test_closing_a_card_or_panel_closes_every_widget_inside(client, registry, store) -> None:
    """A closed box leaves its children alive in the kernel, and a later save of the widget state
    trips over a closed child: every widget inside goes with it."""

    def tree(w) -> list:
        return [w] + [d for c in getattr(w, "children", ()) for d in tree(c)]

    rec = submitted(store, client, "q")
    for widget in (
        widgets.TaskCard(rec, client, store),
        widgets.ChatPanel("closing", client, registry=registry),
        widgets.task_panel(client, store),
    ):
        inside = tree(widget)
        assert len(inside) > 4
        widget.close()
        assert [type(w).__name__ for w in inside if w.comm is not None] == []
    ipywidgets.Widget.get_manager_state(drop_defaults=True)  # nothing left refers to a closed widget
